"""The action runtime as a tenant's script meets it: results, limits, isolation and the pool."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from chronik.actions.runtime import HttpPolicy, Limits, Run, Runtime, Trigger
from tests.actions.local_http import QuietHandler, serving

MakeRuntime = Callable[..., Runtime]
Act = Callable[..., Awaitable[Run]]


@pytest_asyncio.fixture
async def make_runtime() -> AsyncIterator[MakeRuntime]:
    made: list[Runtime] = []

    def make(**options: Any) -> Runtime:
        runtime = Runtime(**{"workers": 2, **options})
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.close()


@pytest.fixture
def runtime(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime()


async def call(
    runtime: Runtime,
    script: str,
    *,
    ctx: dict[str, Any] | None = None,
    seconds: float = 5.0,
    trigger: Trigger = "pre_append",
    name: str = "handle",
) -> Run:
    return await runtime.run(name, script, timeout=seconds, ctx=ctx or {}, trigger=trigger)


@pytest.fixture
def act(runtime: Runtime) -> Act:
    return functools.partial(call, runtime)


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        if self.path == "/big":
            self._send(200, "text/plain", b"x" * 5000)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.example/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(200, "application/json", json.dumps({"path": self.path}).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        echo = f"{self.headers['Content-Type']} {self.headers['X-Token']} {body}"
        self._send(201, "text/plain", echo.encode())

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("X-Served-By", "Test")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Handler) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def fetching(make_runtime: MakeRuntime, server: str) -> Runtime:
    allowed = server.removeprefix("http://")
    return make_runtime(workers=1, http=HttpPolicy(hosts=(allowed,), max_bytes=1000))


async def test_an_action_sets_fields_and_logs(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n"
        "  log.info('total', ctx.n, {a: 1});\n"
        "  api.setField('n', ctx.n + 1);\n"
        "}",
        ctx={"n": 41},
    )
    assert run.outcome == "succeeded", run.error
    assert run.fields == {"n": 42}
    assert [(line.level, line.message) for line in run.logs] == [("info", 'total 41 {"a":1}')]


async def test_an_async_action_is_awaited(act: Act) -> None:
    run = await act(
        "async function handle(ctx, api) { await null; await Promise.resolve(); "
        "api.setField('late', true) }"
    )
    assert (run.outcome, run.fields) == ("succeeded", {"late": True})


async def test_a_missing_function_says_how_to_define_it(act: Act) -> None:
    run = await act("function hndle(ctx, api) {}")
    assert run.outcome == "failed"
    assert run.error == (
        'the script defines no function named "handle"; define function handle(ctx, api) {...}'
    )


async def test_a_missing_function_whose_name_is_no_identifier_is_defined_on_global_this(
    act: Act,
) -> None:
    run = await act("function handle(ctx, api) {}", name="set the role")
    assert run.outcome == "failed"
    assert run.error.endswith(
        'defines it as globalThis["set the role"] = function (ctx, api) {...}'
    )


async def test_an_action_whose_name_is_no_identifier_runs_from_global_this(act: Act) -> None:
    run = await act("globalThis['set the role'] = function (ctx, api) {}", name="set the role")
    assert run.outcome == "succeeded", run.error


async def test_an_action_declared_with_const_runs(act: Act) -> None:
    run = await act("const handle = async (ctx, api) => api.setField('ok', true)")
    assert (run.outcome, run.fields) == ("succeeded", {"ok": True})


async def test_check_reports_a_syntax_error_at_the_scripts_own_line_and_column(
    runtime: Runtime,
) -> None:
    problem = await runtime.check("let x = 1;\nfunction handle( {\n  return 1 }")
    assert problem == "SyntaxError: invalid destructuring target (line 3, column 12)"


async def test_check_accepts_a_script_that_compiles_without_running_it(runtime: Runtime) -> None:
    assert await runtime.check("while (true) {}\nfunction handle(ctx, api) {}") is None


async def test_a_script_error_names_its_line_and_column(act: Act) -> None:
    run = await act("function handle(ctx) {\n  return ctx.missing.field\n}")
    assert run.outcome == "failed"
    assert run.error == "TypeError: cannot read property 'field' of undefined (line 2, column 10)"


async def test_an_error_at_the_top_of_the_script_names_its_line(act: Act) -> None:
    run = await act("\n\nthrow new RangeError('not today')")
    assert (run.outcome, run.error) == ("failed", "RangeError: not today (line 3, column 11)")


async def test_api_reject_rejects_with_its_message(act: Act) -> None:
    run = await act("function handle(ctx, api) { api.reject('no orders on Sunday') }")
    assert (run.outcome, run.error) == ("rejected", "no orders on Sunday")


async def test_catching_the_rejection_does_not_undo_it(act: Act) -> None:
    run = await act(
        "async function handle(ctx, api) { try { api.reject('no') } catch (e) {} "
        "api.setField('after', 1) }"
    )
    assert (run.outcome, run.error, run.fields) == ("rejected", "no", {})


async def test_post_append_offers_no_api(act: Act) -> None:
    run = await act("function handle(ctx, api) { api.setField('x', 1) }", trigger="post_append")
    assert run.outcome == "failed"
    assert "not a function" in run.error


async def test_deep_recursion_fails_and_the_worker_keeps_serving(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(workers=1)
    script = "function handle() { const down = (n) => down(n + 1) + 1; down(0) }"
    run = await call(runtime, script)
    assert run.outcome == "failed"
    assert run.error.startswith("RangeError: Maximum call stack size exceeded")
    pids = runtime.worker_pids
    after = await call(runtime, "function handle() {}")
    assert after.outcome == "succeeded"
    assert runtime.worker_pids == pids


@pytest.mark.parametrize(
    "allocation",
    [
        "const a = []; for (;;) a.push([1, 2, 3, 4, 5, 6, 7, 8])",
        "const a = new Array(2 ** 28).fill(0)",
        "const parts = []; for (;;) parts.push('x'.repeat(1 << 24) + parts.length)",
        "const s = 'x'.repeat(2 ** 30 - 1)",
        "const buffers = []; for (;;) buffers.push(new ArrayBuffer(1 << 24))",
        "const buffer = new ArrayBuffer(2 ** 30)",
        "try { const a = []; for (;;) a.push(new ArrayBuffer(1 << 20)) } catch (e) { throw e }",
    ],
    ids=["arrays", "array", "strings", "string", "buffers", "buffer", "rethrown"],
)
async def test_allocating_gigabytes_runs_out_of_memory_and_the_next_run_succeeds(
    act: Act, allocation: str
) -> None:
    run = await act(f"function handle() {{ log.info('before'); {allocation} }}")
    assert run.outcome == "out_of_memory"
    assert run.error == "the action used more than its 64 MiB of memory"
    assert (await act("function handle() {}")).outcome == "succeeded"


@pytest.mark.parametrize(
    "script",
    ["function handle() { while (true) {} }", "async function handle() { await 1; for (;;) {} }"],
    ids=["sync", "after-await"],
)
async def test_an_endless_loop_times_out_within_its_timeout(act: Act, script: str) -> None:
    run = await act(script, seconds=0.2)
    assert (run.outcome, run.error) == (
        "timed_out",
        "the action ran longer than its timeout of 0.2s",
    )
    # Stopped by the deadline, not by the 5 s default: the deadline is 30 ms past the timeout,
    # but the whole suite's load on two cores has delayed this test's own event loop by 500 ms.
    assert run.duration < 0.2 + 1.0


async def test_a_promise_that_never_settles_fails(act: Act) -> None:
    run = await act("function handle() { return new Promise(() => {}) }")
    assert (run.outcome, run.error) == ("failed", "the action's promise never settled")


async def test_require_of_an_unknown_module_names_the_modules_there_are(act: Act) -> None:
    run = await act("function handle() {\n  require('fs')\n}")
    assert run.outcome == "failed"
    assert run.error == (
        'Error: require: no module "fs"; there are chronik/log, chronik/uuid and chronik/http'
        " (line 2, column 3)"
    )


async def test_require_offers_the_chronik_modules_and_their_zitadel_aliases(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n"
        "  for (const name of ['log', 'uuid', 'http']) {\n"
        "    if (require('zitadel/' + name) !== require('chronik/' + name)) throw Error(name)\n"
        "  }\n"
        "  require('chronik/log').warn('careful')\n"
        "}"
    )
    assert run.outcome == "succeeded", run.error
    assert [(line.level, line.message) for line in run.logs] == [("warn", "careful")]


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("async function handle() { await import('fs') }", "ReferenceError: could not load"),
        ("function handle() { process.exit(1) }", "ReferenceError: process is not defined"),
        ("function handle() { setTimeout(() => 1, 0) }", "ReferenceError: setTimeout is not"),
    ],
    ids=["import", "process", "setTimeout"],
)
async def test_the_host_is_not_reachable(act: Act, script: str, error: str) -> None:
    run = await act(script)
    assert run.outcome == "failed"
    assert run.error.startswith(error)


async def test_prototype_pollution_does_not_change_ctx(act: Act) -> None:
    run = await act(
        "Object.defineProperty(Object.prototype, 'tenant', {get() { return 'evil' }, set() {}});\n"
        "Object.prototype.role = 'admin';\n"
        "JSON.parse = () => ({tenant: 'evil'});\n"
        "Object.freeze = (o) => o;\n"
        "function handle(ctx, api) {\n"
        "  api.setField('tenant', ctx.tenant);\n"
        "  api.setField('keys', Object.keys(ctx));\n"
        "  api.setField('own', Object.prototype.hasOwnProperty.call(ctx, 'role'));\n"
        "}",
        ctx={"tenant": "acme", "event": {"type": "order.placed"}},
    )
    assert run.outcome == "succeeded", run.error
    assert run.fields == {"tenant": "acme", "keys": ["tenant", "event"], "own": False}


async def test_ctx_is_frozen(act: Act) -> None:
    run = await act(
        "function forge(ctx) { ctx.event.type = 'forged'; ctx.extra = 1; delete ctx.event }\n"
        "function handle(ctx, api) {\n"
        "  'use strict';\n"
        "  try { ctx.event.type = 'forged' } catch (e) { api.setField('error', e.name) }\n"
        "  forge(ctx);\n"
        "  api.setField('ctx', ctx);\n"
        "}",
        ctx={"event": {"type": "order.placed"}},
    )
    assert run.fields == {"error": "TypeError", "ctx": {"event": {"type": "order.placed"}}}


async def test_a_replaced_json_stringify_does_not_turn_a_failure_into_success(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n"
        '  const fake = \'{"outcome":"succeeded","fields":{"admin":true}}\';\n'
        "  JSON.stringify = () => fake;\n"
        "  String = () => fake;\n"
        "  Object.prototype.toJSON = () => ({outcome: 'succeeded', fields: {admin: true}});\n"
        "  Promise.prototype.then = function (ok) { ok() };\n"
        "  throw new Error('real failure');\n"
        "}"
    )
    assert (run.outcome, run.fields) == ("failed", {})
    assert run.error.startswith("Error: real failure")


async def test_a_replaced_json_stringify_does_not_inject_fields(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n"
        "  JSON.stringify = () => '1,\"admin\":true';\n"
        "  Object.prototype.toJSON = function () { return {admin: true} };\n"
        "  api.setField('total', 3);\n"
        "}"
    )
    assert (run.outcome, run.fields) == ("succeeded", {"total": 3})


@pytest.mark.parametrize(
    "value",
    ["(() => { const a = {}; a.self = a; return a })()", "'x'.repeat(10_000_000)", "10n"],
    ids=["cyclic", "huge", "bigint"],
)
async def test_the_return_value_is_ignored(act: Act, value: str) -> None:
    run = await act(f"function handle() {{ return {value} }}")
    assert (run.outcome, run.fields) == ("succeeded", {})


async def test_set_field_with_a_cyclic_value_fails_at_the_call(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n  const a = {};\n  a.self = a;\n  api.setField('a', a)\n}"
    )
    assert run.outcome == "failed"
    assert run.error == (
        'TypeError: api.setField: the value of "a" cannot be encoded as JSON (circular reference)'
        " (line 4, column 21)"
    )


async def test_fields_larger_than_the_result_limit_fail(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(limits=Limits(result_bytes=1000))
    script = "function handle(ctx, api) { log.info('kept'); api.setField('big', 'é'.repeat(600)) }"
    run = await call(runtime, script)
    assert (run.outcome, run.fields) == ("failed", {})
    assert run.error == "the action's result is larger than 1000 bytes"
    assert [line.message for line in run.logs] == ["kept"]


async def test_log_lines_are_capped_and_the_rest_counted(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(limits=Limits(log_lines=3, log_line_chars=5))
    script = "function handle() { for (let i = 0; i < 10; i++) log.debug('line', i) }"
    run = await call(runtime, script, trigger="on_fire")
    assert [line.message for line in run.logs] == ["line ", "line ", "line "]
    assert run.logs_dropped == 7


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        ("null.x", "failed"),
        ("const a = []; for (;;) a.push(new ArrayBuffer(1 << 20))", "out_of_memory"),
    ],
    ids=["error", "memory"],
)
async def test_logs_written_before_a_failure_are_kept(act: Act, failure: str, outcome: str) -> None:
    run = await act(f"function handle() {{ log.error('about to fail'); {failure} }}")
    assert run.outcome == outcome
    assert [(line.level, line.message) for line in run.logs] == [("error", "about to fail")]


async def test_uuid_v4_is_well_formed_and_fresh(act: Act) -> None:
    script = "function handle(ctx, api) { api.setField('ids', [uuid.v4(), uuid.v4()]) }"
    ids = (await act(script)).fields["ids"] + (await act(script)).fields["ids"]
    v4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert all(v4.fullmatch(value) for value in ids)
    assert len(set(ids)) == 4


async def test_log_uuid_and_require_work_after_the_script_replaced_the_builtins(
    act: Act,
) -> None:
    """They are compiled on first use, which comes after the script's top level ran."""
    run = await act(
        "Array.prototype[Symbol.iterator] = function* () { throw Error('iterated') };\n"
        "Object.freeze = () => { throw Error('froze') };\n"
        "Object.defineProperty = () => { throw Error('defined') };\n"
        "Object.create = () => { throw Error('created') };\n"
        "JSON.stringify = () => { throw Error('stringified') };\n"
        "Object.prototype.get = () => 1;\n"
        "function handle(ctx, api) {\n"
        "  require('chronik/log').info('one', uuid.v4().length);\n"
        "  log.warn('two');\n"
        "}"
    )
    assert run.outcome == "succeeded", run.error
    assert [(line.level, line.message) for line in run.logs] == [
        ("info", "one 36"),
        ("warn", "two"),
    ]


@pytest.mark.parametrize("name", ["log", "uuid", "http", "require"])
async def test_a_script_may_replace_the_globals_it_is_given(act: Act, name: str) -> None:
    run = await act(
        f"{name} = 'mine';\nfunction handle(ctx, api) {{ api.setField('value', {name}) }}"
    )
    assert run.fields == {"value": "mine"}


async def test_a_script_may_declare_a_function_named_like_a_global_it_is_given(act: Act) -> None:
    run = await act(
        "function log(text) { return 'mine: ' + text }\n"
        "function handle(ctx, api) { api.setField('value', log('x')) }"
    )
    assert run.fields == {"value": "mine: x"}


async def test_fetch_is_off_by_default(act: Act, server: str) -> None:
    run = await act(f"async function handle() {{ await http.fetch('{server}/') }}")
    assert run.outcome == "failed"
    assert run.error.startswith("Error: http.fetch is not enabled on this server")


async def test_fetch_to_an_allowed_host_returns_the_response(
    fetching: Runtime, server: str
) -> None:
    script = f"""
    async function handle(ctx, api) {{
      const got = await http.fetch('{server}/orders?id=7');
      api.setField('get', [got.status, got.headers['x-served-by'], got.json().path]);
      const posted = await http.fetch('{server}/', {{
        method: 'POST', headers: {{'X-Token': 't0k', 'Content-Type': 'text/plain'}},
        body: 'hello'}});
      api.setField('post', [posted.status, posted.body]);
      const moved = await http.fetch('{server}/moved');
      api.setField('moved', [moved.status, moved.headers.location]);
    }}"""
    run = await call(fetching, script)
    assert run.outcome == "succeeded", run.error
    assert run.fields == {
        "get": [200, "Test", "/orders?id=7"],
        "post": [201, "text/plain t0k hello"],
        "moved": [302, "http://elsewhere.example/"],
    }


async def test_fetch_sends_an_object_body_as_json(fetching: Runtime, server: str) -> None:
    script = f"""
    async function handle(ctx, api) {{
      const posted = await http.fetch('{server}/', {{
        method: 'POST', headers: {{'X-Token': 't0k'}}, body: {{order: 7}}}});
      api.setField('echo', posted.text());
    }}"""
    run = await call(fetching, script)
    assert run.fields == {"echo": 'application/json t0k {"order":7}'}


async def test_fetch_to_a_host_not_allowed_is_refused(fetching: Runtime, server: str) -> None:
    url = server.replace("127.0.0.1", "LocalHost")
    script = f"async function handle() {{ await http.fetch('{url}/') }}"
    run = await call(fetching, script)
    assert run.outcome == "failed"
    assert run.error.startswith('Error: http.fetch: host "localhost" on port')


async def test_fetch_of_a_response_over_max_bytes_is_refused(
    fetching: Runtime, server: str
) -> None:
    script = f"async function handle() {{ await http.fetch('{server}/big') }}"
    run = await call(fetching, script)
    assert run.outcome == "failed"
    assert run.error.startswith("Error: http.fetch: the response is larger than 1000 bytes")


async def test_a_killed_worker_crashes_its_run_and_the_next_run_succeeds(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(workers=1)
    await call(runtime, "function handle() {}")
    (pid,) = runtime.worker_pids
    running = asyncio.create_task(call(runtime, "function handle() { for (;;) {} }"))
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    run = await running
    assert run.outcome == "crashed"
    assert run.error == "the action's worker process died (exit code -9)"
    after = await call(runtime, "function handle() {}")
    assert after.outcome == "succeeded"
    assert runtime.worker_pids != (pid,)


async def test_a_cancelled_run_leaves_the_runtime_usable(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(workers=1)
    running = asyncio.create_task(call(runtime, "function handle() { for (;;) {} }"))
    await asyncio.sleep(0.3)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    run = await call(runtime, "function handle() {}")
    assert run.outcome == "succeeded"


async def test_more_runs_than_workers_queue_and_all_finish(act: Act) -> None:
    script = (
        "function handle(ctx, api) { let x = 0; for (let i = 0; i < 2e6; i++) x += i; "
        "api.setField('x', x) }"
    )
    runs = await asyncio.gather(*(act(script) for _ in range(4)))
    assert [run.outcome for run in runs] == ["succeeded"] * 4


async def test_close_leaves_no_worker_processes(runtime: Runtime, act: Act) -> None:
    await act("function handle() {}")
    pids = runtime.worker_pids
    await runtime.close()
    await runtime.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_tenants_waiting_for_a_worker_are_served_in_turn(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(workers=1)
    busy = "function busy(ctx, api) { const end = Date.now() + 50; while (Date.now() < end) {} }"
    finished: list[str] = []

    async def run(label: str, key: str) -> None:
        await runtime.run("busy", busy, timeout=5, ctx={}, trigger="test", key=key)
        finished.append(label)

    greedy = [asyncio.create_task(run(f"a{i}", "tenant-a")) for i in range(3)]
    await asyncio.sleep(0.01)  # the other tenant comes after all three are queued
    other = asyncio.create_task(run("b", "tenant-b"))
    await asyncio.gather(*greedy, other)
    assert finished.index("b") < finished.index("a2")


# -- the prelude's own functions stay out of reach ------------------------------------------

# Every route a script has to the functions on its call stack; each found is logged by name.
GRAB = """
const grabbed = [];
function grab() {
  const routes = [
    () => { Error.prepareStackTrace = (e, frames) => frames },
    () => Object.defineProperty(Error, 'prepareStackTrace', {value: (e, frames) => frames}),
    () => { class Mine extends Error {}; Mine.prepareStackTrace = (e, frames) => frames },
  ];
  const captured = () => { const o = {}; Error.captureStackTrace(o); return o.stack };
  for (const route of routes) {
    try { route() } catch (e) {}
    for (const stack of [new Error().stack, captured()]) {
      if (typeof stack !== 'string') for (const site of stack) grabbed.push(site.getFunction());
    }
  }
  try { for (let f = grab.caller; f; f = f.caller) grabbed.push(f) } catch (e) {}
  try { grabbed.push(arguments.callee.caller) } catch (e) {}
  const names = grabbed.filter((f) => typeof f === 'function' && f !== grab).map((f) => f.name);
  log.info(names.length ? 'leaked ' + names.join(' ') : 'nothing');
}
const handlers = new Set();
"""


@pytest.mark.parametrize(
    "script",
    [
        "function handle(ctx, api) { grab() }",
        "function handle(ctx, api) { api.setField('x', {toJSON() { grab(); return 1 }}) }",
        "function handle(ctx, api) { log.info({stack: '', toString() { grab(); return '' }}) }",
        "function handle(ctx, api) { api.reject({[Symbol.toPrimitive]() { grab(); return '' }}) }",
        "function handle() { throw {get stack() { grab(); return '' }} }",
        "function handle() { return {get then() { grab() }} }",
        "async function handle() {\n"
        "  await http.fetch('http://x.invalid/', {get method() { grab() }})\n"
        "}",
        "Object.defineProperty(globalThis, 'handle', {get() { grab(); return () => 1 }})",
        "Object.defineProperty(Object.prototype, 'then', {get() { grab() }, configurable: true});\n"
        "function handle() { return {} }",
        "Object.defineProperty(Promise.prototype, 'constructor',\n"
        "  {get() { grab(); return Promise }});\n"
        "async function handle() {}",
        "for (const name of ['call', 'apply', 'bind', 'toString']) {\n"
        "  const real = Function.prototype[name];\n"
        "  Function.prototype[name] = function (...args) { grabbed.push(this); "
        "return Reflect.apply(real, this, args) };\n"
        "}\n"
        "async function handle(ctx, api) { log.info('x'); api.setField('y', 1); "
        "await http.fetch('http://x.invalid/').catch(() => 1); grab() }",
    ],
    ids=[
        "handler",
        "toJSON",
        "toString",
        "toPrimitive",
        "stack-getter",
        "thenable",
        "fetch-options",
        "global-getter",
        "prototype-then",
        "promise-constructor",
        "function-prototype",
    ],
)
async def test_no_route_from_a_script_reaches_the_preludes_functions(
    make_runtime: MakeRuntime, script: str
) -> None:
    """Error.prepareStackTrace once handed out CallSites whose getFunction() was the prelude's
    invoke, start and host; from every place the prelude calls back into a script, no route
    yields a function the script did not make."""
    runtime = make_runtime(workers=1, http=HttpPolicy(hosts=("x.invalid",), timeout=0.5))
    run = await call(runtime, GRAB + script)
    messages = [line.message for line in run.logs]
    assert "nothing" in messages, (run.error, messages)  # the trap was sprung
    assert not [message for message in messages if message.startswith("leaked")], messages


async def test_a_stack_trace_stays_a_string_whatever_the_script_sets(act: Act) -> None:
    run = await act(
        "function handle(ctx, api) {\n"
        "  try { Error.prepareStackTrace = (e, frames) => frames } catch (e) {}\n"
        "  api.setField('stack', typeof new Error().stack);\n"
        "  api.setField('prepare', typeof Error.prepareStackTrace);\n"
        "}"
    )
    assert run.fields == {"stack": "string", "prepare": "undefined"}


@pytest.mark.parametrize("value", ["null", "undefined"])
async def test_throwing_null_or_undefined_fails_the_run(act: Act, value: str) -> None:
    for script in (f"function handle() {{ throw {value} }}", f"throw {value}"):
        run = await act(script)
        assert run.outcome == "failed"
        assert run.error.endswith(value)
