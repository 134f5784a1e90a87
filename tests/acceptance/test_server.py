"""``chronik serve`` as a real process over a real socket: the first start's bootstrap token,
events appended natively and read back through the ZITADEL, Socotra and native surfaces,
tokens made and revoked with the command line while it runs, and a SIGTERM in the middle of
appends that loses nothing acknowledged and leaves nothing half-written."""

from __future__ import annotations

import re
import secrets
import stat
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from chronik import EventQuery, Settings, SyncChronik
from chronik.ids import new_ulid
from tests.acceptance.conftest import Start
from tests.acceptance.server import Server, chronik

ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
BANNER = "bootstrap admin token"
REVOCATION_SECONDS = 10.0
"""Verified tokens are cached for 2 s; a revocation must show well within this."""


def bootstrap_token(data: Path) -> str:
    """The token in DATA/bootstrap-token, which only its owner may read."""
    path = data / "bootstrap-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


def tenant_of(client: httpx.Client) -> str:
    response = client.get("/v1/me")
    assert response.status_code == 200, response.text
    tenant: str = response.json()["tenantId"]
    return tenant


def test_the_first_start_prints_and_stores_a_bootstrap_token_once(start: Start, data: Path) -> None:
    server = start(data)

    token = bootstrap_token(data)
    assert len(token) >= 24 and token.isprintable()
    assert server.stderr().count(token) == 1
    assert server.stderr().count(BANNER) == 1
    with server.client(token) as client:
        me = client.get("/v1/me").json()
    assert me["roles"] == ["IAM_OWNER"]


def test_events_appended_natively_read_back_through_every_surface(
    start: Start, data: Path, server_database: str | None
) -> None:
    server = start(data, database_url=server_database)
    with server.client(bootstrap_token(data)) as client:
        tenant = tenant_of(client)
        appended = client.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "aggregateType": "user",
                        "aggregateId": "u-42",
                        "type": "user.added",
                        "payload": {"name": "Ada"},
                    },
                    {
                        "aggregateType": "user",
                        "aggregateId": "u-42",
                        "type": "user.renamed",
                        "payload": {"name": "Ada Lovelace"},
                        "resourceOwner": "org-1",
                    },
                ]
            },
        )
        assert appended.status_code == 200, appended.text
        added, renamed = appended.json()["events"]

        zitadel = client.post(
            "/admin/v1/events/_search",
            json={
                "asc": True,
                "aggregateTypes": ["user"],
                "aggregateId": "u-42",
                "eventTypes": ["user.added", "user.renamed"],
            },
        )
        first_page = client.get(f"/event/{tenant}/events/list", params={"pageSize": 1})
        second_page = client.get(
            f"/event/{tenant}/events/list", params={"pagingToken": first_page.json()["pagingToken"]}
        )
        last_page = client.get(
            f"/event/{tenant}/events/list",
            params={"pagingToken": second_page.json()["pagingToken"]},
        )
        socotra_one = client.get(f"/event/{tenant}/events/{added['locator']}")
        socotra_request = client.get(f"/event/{tenant}/events/request/{added['requestId']}")
        native_one = client.get(f"/v1/events/{renamed['locator']}")

    # Native: what the append answers, and a get of one event.
    for version, event in enumerate((added, renamed), start=1):
        assert ULID.fullmatch(event["locator"]) and ULID.fullmatch(event["requestId"])
        assert re.fullmatch(r"[1-9][0-9]*", event["sequence"])
        assert RFC3339_UTC.fullmatch(event["creationDate"])
        assert event["tenantId"] == tenant
        assert event["aggregateVersion"] == version
        assert event["editor"]["service"] == "native-api"
    assert added["requestId"] == renamed["requestId"]
    assert int(renamed["sequence"]) > int(added["sequence"])
    assert added["resourceOwner"] == "" and renamed["resourceOwner"] == "org-1"
    assert native_one.status_code == 200
    assert native_one.json() == renamed

    # ZITADEL: the search with filters, grpc-gateway shaped.
    assert zitadel.status_code == 200, zitadel.text
    found = zitadel.json()["events"]
    assert [e["sequence"] for e in found] == [added["sequence"], renamed["sequence"]]
    assert [e["type"]["type"] for e in found] == ["user.added", "user.renamed"]
    assert [e["payload"] for e in found] == [added["payload"], renamed["payload"]]
    assert [e["creationDate"] for e in found] == [added["creationDate"], renamed["creationDate"]]
    assert found[0]["aggregate"]["id"] == "u-42"
    assert found[0]["aggregate"]["type"]["type"] == "user"
    assert "resourceOwner" not in found[0]["aggregate"]  # empty fields are left out
    assert found[1]["aggregate"]["resourceOwner"] == "org-1"
    assert found[0]["editor"] == {"userId": added["editor"]["userId"], "service": "native-api"}

    # Socotra: the stream one event a page, then an empty page that still has a token.
    def socotra(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "locator": event["locator"],
            "userLocator": event["editor"]["userId"],
            "requestId": event["requestId"],
            "timestamp": event["creationDate"],
            "type": event["type"],
            "data": event["payload"],
        }

    for page in (first_page, second_page, last_page):
        assert page.status_code == 200, page.text
        assert set(page.json()) == {"pagingToken", "events"}
        assert page.json()["pagingToken"]
    assert first_page.json()["events"] == [socotra(added)]
    assert second_page.json()["events"] == [socotra(renamed)]
    assert last_page.json()["events"] == []
    assert socotra_one.status_code == 200
    assert socotra_one.json() == socotra(added)
    assert socotra_request.status_code == 200
    assert socotra_request.json() == [socotra(added), socotra(renamed)]


def test_a_second_start_keeps_the_first_bootstrap_token(start: Start, data: Path) -> None:
    first = start(data)
    token = bootstrap_token(data)
    first.terminate()

    second = start(data)

    assert bootstrap_token(data) == token
    assert BANNER not in second.stderr()
    assert not re.search(r"chk_[A-Za-z0-9_-]{43}", second.stderr())
    listed = msgspec.json.decode(chronik("tokens", "list", "--output", "json", data=data).stdout)
    assert [t["name"] for t in listed] == ["bootstrap admin"]
    with second.client(token) as client:
        assert client.get("/v1/me").status_code == 200


def test_a_chosen_bootstrap_token_becomes_the_token(start: Start, data: Path) -> None:
    chosen = "scripted-install-" + secrets.token_urlsafe(18)

    server = start(data, env={"CHRONIK_BOOTSTRAP_TOKEN": chosen})

    assert bootstrap_token(data) == chosen
    assert server.stderr().count(chosen) == 1
    with server.client(chosen) as client:
        assert client.get("/v1/me").json()["roles"] == ["IAM_OWNER"]


def test_a_chosen_bootstrap_token_that_is_too_short_is_refused_at_start(data: Path) -> None:
    server = Server(data, env={"CHRONIK_BOOTSTRAP_TOKEN": "short"})
    try:
        code = server.process.wait(timeout=30)
    finally:
        server.kill()

    assert code == 1
    assert "error: a chosen token must be 24 to 512" in server.stderr()
    assert "Traceback" not in server.stderr()
    assert not (data / "bootstrap-token").exists()


def test_a_reader_token_from_the_cli_reads_cannot_write_and_stops_working_when_revoked(
    start: Start, data: Path
) -> None:
    server = start(data)

    created = chronik("tokens", "create", "--role", "EVENTS_READER", "--name", "dash", data=data)
    reader = created.stdout.removesuffix("\n")
    assert created.stdout == reader + "\n" and reader.isprintable() and " " not in reader
    listed = msgspec.json.decode(chronik("tokens", "list", "--output", "json", data=data).stdout)
    [record] = [t for t in listed if t["name"] == "dash"]
    assert record["roles"] == "EVENTS_READER"

    new_event = {"aggregateType": "user", "aggregateId": "u-1", "type": "user.added"}
    with server.client(reader) as client:
        write = client.post("/v1/events", json={"events": [new_event]})
        assert write.status_code == 403, write.text
        assert write.json()["error"]["code"] == "PERMISSION_DENIED"
        assert client.post("/admin/v1/events/_search", json={}).status_code == 200

        chronik("tokens", "revoke", record["id"], data=data)
        deadline = time.monotonic() + REVOCATION_SECONDS
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = client.post("/admin/v1/events/_search", json={}).status_code
        assert status == 401


class Appender(threading.Thread):
    """Appends requests of 1, 2 or 3 events, each with a request id of its own, until the
    server goes away; remembers what it sent and which appends were acknowledged."""

    def __init__(self, server: Server, token: str) -> None:
        super().__init__(daemon=True)
        self.client = server.client(token)
        self.sent: dict[str, int] = {}
        self.acknowledged: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.client:
                for n in range(100_000):
                    request_id, size = new_ulid(), 1 + n % 3
                    self.sent[request_id] = size
                    events = [
                        {
                            "aggregateType": "account",
                            "aggregateId": f"{request_id}-{i}",
                            "type": "account.credited",
                            "payload": {"n": n, "i": i},
                        }
                        for i in range(size)
                    ]
                    response = self.client.post(
                        "/v1/events", json={"requestId": request_id, "events": events}
                    )
                    if response.status_code != 200:
                        # While it shuts down a server may refuse work, never lose it.
                        assert response.status_code == 503, response.text
                        continue
                    assert len(response.json()["events"]) == size
                    self.acknowledged.add(request_id)
        except httpx.TransportError:
            pass  # the server has gone
        except BaseException as exc:
            self.error = exc


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_appends_exits_0_and_keeps_every_acknowledged_append_whole(
    start: Start, data: Path, server_database: str | None, workers: int
) -> None:
    """With two worker processes, the appenders' connections are spread over both (on SQLite
    they take turns at the file's write lock) and each finishes its appends before the
    server exits."""
    server = start(data, database_url=server_database, workers=workers)
    token = bootstrap_token(data)
    with server.client(token) as client:
        tenant = tenant_of(client)
    appenders = [Appender(server, token) for _ in range(3)]
    for appender in appenders:
        appender.start()
    deadline = time.monotonic() + 20
    while sum(len(a.acknowledged) for a in appenders) < 50 and all(a.is_alive() for a in appenders):
        assert time.monotonic() < deadline, "the appends did not get going"
        time.sleep(0.01)

    code = server.terminate()
    for appender in appenders:
        appender.join(timeout=15)

    for appender in appenders:
        assert not appender.is_alive() and appender.error is None, appender.error
    sent = {r: size for a in appenders for r, size in a.sent.items()}
    acknowledged = set().union(*(a.acknowledged for a in appenders))
    stored: dict[str, list[int]] = defaultdict(list)
    settings = Settings(data_dir=data, database_url=server_database or "")
    with SyncChronik.open(settings) as log:
        after = 0
        while page := log.events.search(
            tenant, EventQuery(asc=True, sequence=after, limit=5000)
        ).events:
            for event in page:
                if event.type == "account.credited":
                    stored[event.request_id].append(event.payload["i"])
            after = page[-1].sequence
    assert acknowledged <= stored.keys()
    for request_id, parts in stored.items():
        assert sorted(parts) == list(range(sent[request_id])), request_id
    assert code == 0, f"exit code {code}\n{server.stderr()}"


def test_a_real_server_runs_actions_and_outlives_hostile_ones(start: Start, data: Path) -> None:
    server = start(data)
    scripts = {
        "hog": ("function hog(ctx, api) { const a = []; for (;;) a.push(new Array(1e5)) }", "5s"),
        "spin": ("async function spin(ctx, api) { await null; for (;;) {} }", "0.5s"),
        "check": ("function check(ctx, api) { if (!ctx.event.payload.email) api.reject('no')}", ""),
    }
    with server.client(bootstrap_token(data)) as client:
        ids = []
        for name, (script, timeout) in scripts.items():
            body = {"name": name, "script": script, "timeout": timeout or "2s"}
            created = client.post(
                "/management/v1/actions", json={**body, "allowedToFail": name != "check"}
            )
            assert created.status_code == 200, created.text
            ids.append(created.json()["id"])
        bound = client.post(
            "/management/v1/flows/FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND",
            json={"actionIds": ids},
        )
        assert bound.status_code == 200, bound.text
        event = {"aggregateType": "user", "aggregateId": "u-1", "type": "user.added"}
        refused = client.post("/v1/events", json={"events": [{**event, "payload": {}}]})
        taken = client.post("/v1/events", json={"events": [{**event, "payload": {"email": "a"}}]})
        runs = client.get("/v1/action-runs").json()["runs"]
        healthy = client.get("/healthz")

    assert refused.status_code == 400 and "no" in refused.json()["error"]["message"]
    assert taken.status_code == 200, taken.text
    assert taken.json()["events"][0]["payload"] == {"email": "a"}
    outcomes = {(r["actionName"], r["outcome"]) for r in runs}
    assert outcomes == {
        ("hog", "out_of_memory"),
        ("spin", "timed_out"),
        ("check", "rejected"),
        ("check", "succeeded"),
    }
    assert healthy.status_code == 200
