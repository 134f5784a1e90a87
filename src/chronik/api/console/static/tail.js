// The console's live tail: rows of new events from the page's SSE stream, newest first, at
// most data-max-rows of them. Pause stops adding rows and holds those that come (as many as
// would be shown) with a count; Resume adds them. A static file, as the console's CSP wants.
(function () {
  "use strict";
  var table = document.getElementById("tail");
  if (!table || table.dataset.started) {
    return;
  }
  table.dataset.started = "yes";
  var rows = table.tBodies[0];
  var status = document.getElementById("tail-status");
  var toggle = document.getElementById("tail-toggle");
  var most = parseInt(table.dataset.maxRows, 10) || 300;
  var paused = false;
  var held = [];
  var missed = 0;
  var source = new EventSource(table.dataset.stream);

  function say(text) {
    status.textContent = text;
  }

  function live() {
    say(paused ? missed + " new while paused" : "Live: following the log.");
  }

  function add(html) {
    // html: rows oldest first
    rows.insertAdjacentHTML("afterbegin", html.slice(-most).reverse().join(""));
    while (rows.rows.length > most) {
      rows.deleteRow(-1);
    }
  }

  source.onopen = live;
  source.onmessage = function (message) {
    if (!table.isConnected) {
      source.close();
      return;
    }
    if (paused) {
      held.push(message.data);
      if (held.length > most) {
        held.shift();
      }
      missed += 1;
      live();
    } else {
      add([message.data]);
    }
  };
  source.addEventListener("ended", function (message) {
    source.close();
    say(JSON.parse(message.data).message);
    toggle.disabled = true;
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      say("The stream was refused: sign in again and reload the page.");
      toggle.disabled = true;
    } else {
      say("Reconnecting…");
    }
  };
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume" : "Pause";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    if (!paused) {
      add(held);
      held = [];
      missed = 0;
    }
    live();
  });
})();
