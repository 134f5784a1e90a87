// The host side of an action, evaluated in each fresh context before the user's script.
//
// It is a function of the source of modules.js, which the worker calls it with (see that file).
//
// Everything the host relies on is captured here, before user code can replace it, and kept in
// this closure: the script's completion value is the one function the worker calls (`host`), and
// no global leads back to it. Results are built by concatenating JSON of primitive strings, so no
// user-changed prototype, toJSON or setter takes part in what the host reads back.
//
// User code runs with these functions on its call stack, so it must not be able to reach them
// from there: Error.prepareStackTrace (the one way to a frame's function, CallSite.getFunction)
// is fixed to undefined before user code runs. And should one be reached all the same, it grants
// nothing: setup and start run once, a fetch is answered only with the run's key, which only the
// worker knows, and the worker enforces every limit again on what it reads back.
(function (modulesSource) {
  "use strict";

  const G = globalThis;
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const freeze = Object.freeze;
  const keys = Object.keys;
  const create = Object.create;
  const define = Object.defineProperty;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const toText = String;
  const ErrorType = Error;
  const TypeErrorType = TypeError;
  const PromiseType = Promise;
  const captureStackTrace = Error.captureStackTrace;
  define(ErrorType, "prepareStackTrace", {
    value: undefined,
    writable: false,
    enumerable: false,
    configurable: false,
  });
  // An indirect eval of a name reads the script's global let and const bindings too.
  const globalEval = eval;
  const slice = uncurry(String.prototype.slice);

  const TEXT_CHARS = 2000;

  let name = "";
  let identifier = true;
  let ctx;
  let api;
  let maxLines = 0;
  let maxChars = 0;
  let maxBytes = 0;
  let httpOn = false;
  let seed = null;

  let key = null;
  let started = false;
  let settled = false;
  let failure = null;
  let rejection = null;
  const fields = create(null);
  let logsJson = "";
  let logCount = 0;
  let logsDropped = 0;

  const q = (text) => stringify(text);

  function cut(text, size) {
    return text.length > size ? slice(text, 0, size) : text;
  }

  function describe(value) {
    if (typeof value === "string") return value;
    try {
      if (typeof value === "object" && value !== null && typeof value.stack === "string") {
        return toText(value);
      }
      const json = stringify(value);
      if (json !== undefined) return json;
    } catch (_) {
      // a cyclic or BigInt value is shown the way String shows it
    }
    try {
      return toText(value);
    } catch (_) {
      return "[value that cannot be shown]";
    }
  }

  function located(error, fn) {
    captureStackTrace(error, fn);
    return error;
  }

  function record(level, parts) {
    if (logCount >= maxLines) {
      logsDropped++;
      return;
    }
    let text = "";
    for (let i = 0; i < parts.length && text.length <= maxChars; i++) {
      text += (i ? " " : "") + describe(parts[i]);
    }
    const line = '{"level":' + q(level) + ',"message":' + q(cut(text, maxChars)) + "}";
    logsJson += (logCount ? "," : "") + line;
    logCount++;
  }

  // log, uuid, http and require are compiled on a script's first read of one (modules.js):
  // until then each global is a getter that compiles them all and becomes a plain value.
  const env = freeze({
    __proto__: null,
    freeze,
    keys,
    create,
    define,
    stringify,
    parse,
    toText,
    ErrorType,
    PromiseType,
    q,
    describe,
    located,
    record,
    seed: () => seed,
    httpOn: () => httpOn,
  });
  let loaded = null;

  function load() {
    if (loaded === null) loaded = globalEval(modulesSource)(env);
    return loaded;
  }

  function settle(global, value) {
    define(G, global, {
      __proto__: null,
      value,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  }

  for (const global of ["log", "uuid", "http", "require"]) {
    define(G, global, {
      __proto__: null,
      get() {
        const value = load().globals[global];
        settle(global, value);
        return value;
      },
      set(value) {
        settle(global, value);
      },
      enumerable: false,
      configurable: true,
    });
  }

  function deepFreeze(value) {
    if (typeof value === "object" && value !== null) {
      const names = keys(value);
      for (let i = 0; i < names.length; i++) deepFreeze(value[names[i]]);
      freeze(value);
    }
    return value;
  }

  function setField(field, value) {
    if (typeof field !== "string" || field === "") {
      throw located(
        new TypeErrorType("api.setField: the field name must be a non-empty string"),
        setField,
      );
    }
    let json;
    let why = typeof value;
    try {
      json = stringify(value);
    } catch (e) {
      why = typeof e === "object" && e !== null && typeof e.message === "string"
        ? e.message
        : describe(e);
    }
    if (json === undefined) {
      const what = "api.setField: the value of " + q(field) + " cannot be encoded as JSON";
      throw located(new TypeErrorType(what + " (" + why + ")"), setField);
    }
    fields[field] = json;
  }

  function reject(message) {
    let text;
    try {
      text = toText(message);
    } catch (_) {
      text = "the action rejected the event";
    }
    if (rejection === null) rejection = cut(text, 1000);
    throw freeze(located(new ErrorType("api.reject: " + rejection), reject));
  }

  function finish(ok, error) {
    if (settled) return;
    settled = true;
    if (ok) return;
    let text;
    let stack = "";
    try {
      if (typeof error === "object" && error !== null && typeof error.stack === "string") {
        text = toText(error);
        stack = error.stack;
      } else if (error === null) {
        // What the engine throws when it cannot even allocate its out-of-memory error.
        text = "null";
      } else {
        text = "Uncaught " + describe(error);
      }
    } catch (_) {
      text = "Uncaught exception";
    }
    failure = { error: cut(text, TEXT_CHARS), stack: cut(stack, TEXT_CHARS) };
  }

  async function invoke(fn) {
    try {
      await fn(ctx, api);
    } catch (e) {
      finish(false, e);
      return;
    }
    finish(true);
  }

  function setup(json) {
    if (key !== null) throw new TypeErrorType("setup runs once");
    const data = parse(json);
    key = data.key;
    name = data.name;
    identifier = data.identifier;
    ctx = deepFreeze(data.ctx);
    api = data.trigger === "post_append" ? freeze({}) : freeze({ setField, reject });
    maxLines = data.log_lines;
    maxChars = data.log_line_chars;
    maxBytes = data.result_bytes;
    httpOn = data.http;
    seed = data.seed;
  }

  function start() {
    if (started) throw new TypeErrorType("start runs once");
    started = true;
    let fn;
    try {
      fn = G[name];
    } catch (e) {
      finish(false, e);
      return;
    }
    if (typeof fn !== "function" && identifier) {
      try {
        fn = globalEval(name);
      } catch (_) {
        // no such binding either: the message below says how to define one
      }
    }
    if (typeof fn !== "function") {
      const how = identifier
        ? "define function " + name + "(ctx, api) {...}"
        : "an action whose name is not a JavaScript identifier defines it as globalThis[" +
          q(name) + "] = function (ctx, api) {...}";
      settled = true;
      failure = { error: "the script defines no function named " + q(name) + "; " + how, stack: "" };
      return;
    }
    invoke(fn);
  }

  function result() {
    let outcome = "succeeded";
    let error = "";
    let stack = "";
    let fieldsJson = "";
    if (rejection !== null) {
      outcome = "rejected";
      error = rejection;
    } else if (!started || !settled) {
      outcome = "pending";
    } else if (failure !== null) {
      outcome = "failed";
      error = failure.error;
      stack = failure.stack;
    } else {
      for (const field in fields) {
        fieldsJson += (fieldsJson ? "," : "") + q(field) + ":" + fields[field];
      }
    }
    // What is far too large is not even handed over; the worker applies the exact limit.
    let logs = logsJson;
    let dropped = logsDropped;
    const oversize = fieldsJson.length + logs.length > maxBytes;
    if (oversize) {
      fieldsJson = "";
      if (logs.length > maxBytes) {
        dropped += logCount;
        logs = "";
      }
    }
    // The fields go as JSON text, read on the worker's side, where nothing of the script runs.
    return (
      '{"outcome":' + q(outcome) + ',"error":' + q(error) + ',"stack":' + q(stack) +
      ',"oversize":' + oversize + ',"fields":' + q("{" + fieldsJson + "}") + ',"logs":[' + logs + '],"logs_dropped":' +
      dropped + "}"
    );
  }

  function takeRequests() {
    return loaded === null ? "[]" : loaded.takeRequests();
  }

  function answer(json) {
    const reply = parse(json);
    if (key === null || reply.key !== key) throw new TypeErrorType("not the worker's answer");
    if (loaded !== null) loaded.answer(reply);
  }

  const operations = freeze({
    __proto__: null,
    setup,
    start,
    takeRequests,
    answer,
    result,
    settled: () => settled,
  });

  // String() flattens the rope a long concatenation builds, which the quickjs module cannot read.
  return function host(operation, argument) {
    const run = operations[operation];
    const value = run(argument);
    return typeof value === "string" ? toText(value) : value;
  };
})
