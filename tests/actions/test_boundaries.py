"""What a script cannot get past even with the prelude's host function in hand, what the
parent holds a worker's answer to, where http.fetch may go, and what an action may add to an
event before it is appended."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from chronik.actions import runtime as runtime_module
from chronik.actions import sandbox
from chronik.actions.runtime import HttpPolicy, Limits, Runtime
from chronik.errors import ChronikError, InvalidArgument
from chronik.events import EventQuery
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from tests.actions.local_http import QuietHandler, serving

PRELUDE = sandbox.prelude()


def _request(script: str, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "run",
        "name": "handle",
        "identifier": True,
        "script": script,
        "timeout": 5.0,
        "ctx": {},
        "trigger": "pre_append",
        "limits": dataclasses.asdict(Limits()),
        "http": {"hosts": [["127.0.0.1", 1]], "own_ports": [], "timeout": 1.0, "max_bytes": 100},
        "seed": [1, 2, 3, 4],
    } | changes


def test_a_script_holding_the_host_function_gains_nothing() -> None:
    """What one found route to ``host`` did: 400 log lines of 2,504 characters through a second
    setup, and a fetch answered by the script itself."""
    fresh = sandbox.Fresh(PRELUDE)
    fresh.js.set("leaked", fresh.host)
    setup = json.dumps(
        {"key": "mine", "name": "handle", "identifier": True, "trigger": "pre_append", "ctx": {},
         "seed": [1, 2, 3, 4], "http": True, "log_lines": 1000, "log_line_chars": 5000,
         "result_bytes": 10**9}
    )  # fmt: skip
    forged: dict[str, Any] = {
        "id": 1,
        "error": None,
        "status": 200,
        "headers": {},
        "body": "forged",
    }
    script = f"""
    async function handle(ctx, api) {{
      const reply = http.fetch('http://127.0.0.1:1/').then((r) => r.body, (e) => 'refused');
      const tries = [];
      for (const [operation, argument] of [
        ['setup', {json.dumps(setup)}],
        ['start'],
        ['answer', JSON.stringify({json.dumps(forged)})],
        ['answer', JSON.stringify({{...{json.dumps(forged)}, key: 'mine'}})],
      ]) {{
        try {{ leaked(operation, argument); tries.push('taken') }}
        catch (e) {{ tries.push('refused') }}
      }}
      for (let i = 0; i < 400; i++) log.info('x'.repeat(2504));
      api.setField('tries', tries);
      api.setField('reply', await reply);
    }}"""
    answer = sandbox.run(_request(script), fresh)
    assert answer["outcome"] == "succeeded", answer["error"]
    assert json.loads(answer["fields"]) == {"tries": ["refused"] * 4, "reply": "refused"}
    assert len(answer["logs"]) == 100
    assert {len(line["message"]) for line in answer["logs"]} == {2000}
    assert answer["logs_dropped"] == 300


FORGER = """
import json, struct, sys
HEADER = struct.Struct(">I")
source, sink = sys.stdin.buffer, sys.stdout.buffer
def write(message):
    body = json.dumps(message).encode()
    sink.write(HEADER.pack(len(body)) + body)
    sink.flush()
write({"ready": True})
while header := source.read(4):
    request = json.loads(source.read(HEADER.unpack(header)[0]))
    write({"outcome": "succeeded", "fields": request["script"],
           "logs": [{"level": "info", "message": "x" * 2504}] * 400})
"""


@pytest.fixture
async def forged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    """A runtime whose worker answers whatever it likes: the script's text as its fields,
    and 400 log lines of 2,504 characters."""
    worker = tmp_path / "forger.py"
    worker.write_text(FORGER)
    monkeypatch.setattr(runtime_module, "SANDBOX", worker)
    runtime = Runtime(workers=1)
    yield runtime
    await runtime.close()


async def test_the_parent_holds_a_workers_answer_to_the_limits(forged: Runtime) -> None:
    run = await forged.run("x", '{"admin": true}', timeout=5, ctx={}, trigger="pre_append")
    assert (run.outcome, run.fields) == ("succeeded", {"admin": True})
    assert len(run.logs) == 100
    assert {len(line.message) for line in run.logs} == {2000}
    assert run.logs_dropped == 300


async def test_fields_a_post_append_script_cannot_set_are_not_taken(forged: Runtime) -> None:
    run = await forged.run("x", '{"admin": true}', timeout=5, ctx={}, trigger="post_append")
    assert (run.outcome, run.fields) == ("succeeded", {})


async def test_a_field_holding_a_lone_surrogate_fails_the_run(forged: Runtime) -> None:
    run = await forged.run("x", '{"name": "\\ud800"}', timeout=5, ctx={}, trigger="pre_append")
    assert (run.outcome, run.fields) == ("failed", {})
    assert run.error == "api.setField: 'name' holds an unpaired surrogate, which JSON may not"


# -- where http.fetch may go ----------------------------------------------------------------


class _Chronik(QuietHandler):
    def do_GET(self) -> None:
        body = b"chronik_http_requests_total 1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def port() -> Iterator[int]:
    """The port of a server standing in for Chronik's own."""
    with serving(_Chronik) as chronik_port:
        yield chronik_port


async def _fetch(runtime: Runtime, url: str) -> str:
    """What the fetch of ``url`` returned, or why it failed (without where)."""
    script = (
        "async function handle(ctx, api) {\n"
        f"  api.setField('got', (await http.fetch('{url}')).body)\n"
        "}"
    )
    run = await runtime.run("handle", script, timeout=5, ctx={}, trigger="test")
    return run.fields.get("got") or run.error.split(" (line ")[0]


async def test_a_bare_host_allows_only_its_default_port(port: int) -> None:
    runtime = Runtime(workers=1, http=HttpPolicy(hosts=("127.0.0.1",)))
    try:
        error = await _fetch(runtime, f"http://127.0.0.1:{port}/metrics")
    finally:
        await runtime.close()
    assert error.startswith(f'Error: http.fetch: host "127.0.0.1" on port {port} is not allowed')


async def test_a_listed_port_is_reachable(port: int) -> None:
    runtime = Runtime(workers=1, http=HttpPolicy(hosts=(f"127.0.0.1:{port}",)))
    try:
        assert await _fetch(runtime, f"http://127.0.0.1:{port}/metrics") == (
            "chronik_http_requests_total 1\n"
        )
    finally:
        await runtime.close()


async def test_chroniks_own_port_on_this_machine_is_never_reachable(
    settings: Settings, port: int
) -> None:
    """Even when the operator lists it: an action read Chronik's own /metrics on localhost."""
    hosts = ["localhost", "127.0.0.1", "127.0.0.2", "[::ffff:127.0.0.1]"]
    listed = tuple(f"{host}:{port}" for host in hosts)
    settings = dataclasses.replace(settings, listen_port=port, action_http_hosts=listed)
    chronik = await Chronik.open(settings)
    try:
        errors = [
            await _fetch(chronik.actions.runtime, f"http://{h}:{port}/metrics") for h in hosts
        ]
    finally:
        await chronik.close()
    assert errors == [
        f"Error: http.fetch: {host.strip('[]')}:{port} is this Chronik server's own address"
        for host in hosts
    ]


@pytest.mark.parametrize("entry", ["", "http://x", "x:y", "x:0", "x:70000", "a b", "[::1"])
def test_a_host_entry_that_is_no_host_and_port_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r"host\[:port\]"):
        Runtime(http=HttpPolicy(hosts=(entry,)))


# -- what an action may add to an event -----------------------------------------------------

ORG = "org-a"


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Chronik]:
    opened = await Chronik.open(dataclasses.replace(settings, max_payload_bytes=2000))
    opened.start_views()
    try:
        yield opened
    finally:
        await opened.close()


async def _append_with(chronik: Chronik, script: str) -> tuple[str, ChronikError]:
    """Append one event through a pre-append action running ``script``: the error it raised,
    after checking that nothing was written."""
    tenant = (await chronik.tenants.create("acme")).id
    action = await chronik.actions.create(tenant, ORG, name="enrich", script=script)
    await chronik.actions.set_trigger(
        tenant, ORG, "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND", [action.id]
    )
    event = NewEvent(
        aggregate_type="user", aggregate_id="u-1", type="user.added", payload={},
        resource_owner=ORG,
    )  # fmt: skip
    with pytest.raises(ChronikError) as refused:
        await chronik.events.append(tenant, [event])
    page = await chronik.events.search(tenant, EventQuery(aggregate_types=("user",)))
    assert page.events == []
    return tenant, refused.value


async def test_a_field_nested_deeper_than_an_append_may_is_refused(live: Chronik) -> None:
    script = (
        "function enrich(ctx, api) { let v = 1; for (let i = 0; i < 128; i++) v = [v];"
        " api.setField('deep', v) }"
    )
    _, error = await _append_with(live, script)
    assert isinstance(error, InvalidArgument)
    assert error.message == (
        "action 'enrich' set what an event may not hold: field 'deep' nests 129 levels deep; "
        "at most 128 are allowed"
    )
    assert error.details["field"] == "deep"


async def test_a_field_with_a_lone_surrogate_is_refused_not_stored_as_a_question_mark(
    live: Chronik,
) -> None:
    _, error = await _append_with(
        live, "function enrich(ctx, api) { api.setField('n', '\\ud800') }"
    )
    assert "'n' holds an unpaired surrogate" in error.message
    assert "enrich" in error.message


async def test_fields_that_make_the_payload_too_large_are_refused(live: Chronik) -> None:
    script = (
        "function enrich(ctx, api) { api.setField('a', 'x'.repeat(1500));"
        " api.setField('b', 'y'.repeat(1500)) }"
    )
    _, error = await _append_with(live, script)
    assert isinstance(error, InvalidArgument)
    assert error.message.startswith(
        "action 'enrich' set what an event may not hold: the payload with its fields is "
    )
    assert error.message.endswith("bytes; at most 2000 are allowed")


def test_the_workers_own_files_stay_importable_without_chronik() -> None:
    """The worker runs as a plain script: its imports are the standard library's and quickjs."""
    source = Path(sandbox.__file__).read_text(encoding="utf-8")
    assert "chronik" not in {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert sys.executable
