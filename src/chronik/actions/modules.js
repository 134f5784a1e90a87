// The globals a script may use (log, uuid, http, require), compiled in a run only when its
// script first reads one of them: most scripts use none, and compiling them took a third of
// what a run of a trivial action cost.
//
// This is compiled after user code may have replaced any global or prototype method, so it
// names no global at all: all it uses is handed over in `env` by the prelude, which captured
// it before user code ran. For the same reason it iterates with indices, never with for-of or
// spread, which call the iterator the script may have replaced.
(function (env) {
  "use strict";

  const freeze = env.freeze;
  const keys = env.keys;
  const create = env.create;
  const define = env.define;
  const stringify = env.stringify;
  const parse = env.parse;
  const toText = env.toText;
  const ErrorType = env.ErrorType;
  const PromiseType = env.PromiseType;
  const q = env.q;
  const describe = env.describe;
  const located = env.located;
  const record = env.record;

  const HEX = "0123456789abcdef";

  const log = freeze({
    debug: (...parts) => record("debug", parts),
    info: (...parts) => record("info", parts),
    log: (...parts) => record("info", parts),
    warn: (...parts) => record("warn", parts),
    error: (...parts) => record("error", parts),
  });

  const seed = env.seed();
  let a = seed[0], b = seed[1], c = seed[2], d = seed[3];

  function next() {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }

  for (let i = 0; i < 12; i++) next();

  function hex(value, digits) {
    let text = "";
    for (let i = digits - 1; i >= 0; i--) text += HEX[(value >>> (i * 4)) & 15];
    return text;
  }

  const uuid = freeze({
    v4() {
      const w0 = next();
      const w1 = (next() & 0xffff0fff) | 0x4000;
      const w2 = ((next() & 0x3fffffff) | 0x80000000) >>> 0;
      const w3 = next();
      return (
        hex(w0, 8) + "-" + hex(w1 >>> 16, 4) + "-" + hex(w1, 4) + "-" +
        hex(w2 >>> 16, 4) + "-" + hex(w2, 4) + hex(w3, 8)
      );
    },
  });

  let requestsJson = "";
  let nextRequest = 1;
  const pending = create(null);

  function fetch(url, options) {
    const error = located(new ErrorType("http.fetch failed"), fetch);
    return new PromiseType((resolve, reject) => {
      const fail = (message) => {
        define(error, "message", {
          __proto__: null,
          value: message,
          writable: true,
          enumerable: false,
          configurable: true,
        });
        reject(error);
      };
      if (!env.httpOn()) return fail("http.fetch is not enabled on this server");
      const opts = options === undefined || options === null ? {} : options;
      const method = opts.method === undefined ? "GET" : opts.method;
      const headers = opts.headers === undefined || opts.headers === null ? {} : opts.headers;
      let body = opts.body;
      if (typeof url !== "string") return fail("http.fetch: the url must be a string");
      if (typeof method !== "string") return fail("http.fetch: the method must be a string");
      if (typeof headers !== "object") return fail("http.fetch: the headers must be an object");
      const json = body !== undefined && body !== null && typeof body !== "string";
      if (json) {
        try {
          body = stringify(body);
        } catch (e) {
          return fail("http.fetch: the body cannot be encoded as JSON (" + describe(e) + ")");
        }
      }
      let headersJson = "";
      const names = keys(headers);
      for (let i = 0; i < names.length; i++) {
        headersJson += (i ? "," : "") + q(names[i]) + ":" + q(toText(headers[names[i]]));
      }
      const id = nextRequest++;
      pending[id] = { __proto__: null, resolve, fail };
      requestsJson +=
        (requestsJson ? "," : "") + '{"id":' + id + ',"url":' + q(url) + ',"method":' +
        q(method) + ',"headers":{' + headersJson + '},"json":' + json + ',"body":' +
        (typeof body === "string" ? q(body) : "null") + "}";
    });
  }

  const http = freeze({ fetch });

  const modules = create(null);
  const prefixes = ["chronik/", "zitadel/"];
  for (let i = 0; i < prefixes.length; i++) {
    modules[prefixes[i] + "log"] = log;
    modules[prefixes[i] + "uuid"] = uuid;
    modules[prefixes[i] + "http"] = http;
  }

  function require(module) {
    if (typeof module === "string" && module in modules) return modules[module];
    throw located(
      new ErrorType(
        "require: no module " + q(describe(module)) +
          "; there are chronik/log, chronik/uuid and chronik/http",
      ),
      require,
    );
  }

  function takeRequests() {
    const json = "[" + requestsJson + "]";
    requestsJson = "";
    return json;
  }

  // A reply the prelude has checked carries the run's key.
  function answer(reply) {
    const waiting = pending[reply.id];
    if (waiting === undefined) return;
    delete pending[reply.id];
    if (reply.error !== null) return waiting.fail(reply.error);
    const body = reply.body;
    waiting.resolve(
      freeze({
        status: reply.status,
        ok: reply.status >= 200 && reply.status < 300,
        headers: freeze(reply.headers),
        body,
        text: () => body,
        json: () => parse(body),
      }),
    );
  }

  return freeze({
    __proto__: null,
    globals: freeze({ __proto__: null, log, uuid, http, require }),
    takeRequests,
    answer,
  });
});
