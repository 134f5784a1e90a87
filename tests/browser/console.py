"""What the console's browser tests share: a server running the sample views with a
poisoned event and a reader token beside the bootstrap one, and signing in."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.acceptance.server import Server, chronik
from tests.conftest import BACKENDS, own_database

SAMPLE = f"{Path(__file__).parents[1] / 'cli' / 'sample_views.py'}:views"


@pytest.fixture(scope="session", params=BACKENDS)
def console_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    """A server running the sample views on each backend, with one event its ``counts`` and
    ``slow`` views gave up on (while the poison file exists), shared by the console's browser
    tests (each leaves the others' counts as they were). Beside its data directory:
    ``reader-token`` (IAM_OWNER_VIEWER) and ``stranger-token`` (IAM_OWNER of another
    tenant)."""
    data = tmp_path_factory.mktemp("console") / "data"
    poison = data.parent / "poison"
    poison.touch()
    with contextlib.ExitStack() as stack:
        url = (
            None
            if request.param == "sqlite"
            else stack.enter_context(own_database("chronik_console"))
        )
        yield stack.enter_context(serving(data, url, poison)), poison


@contextlib.contextmanager
def serving(data: Path, url: str | None, poison: Path) -> Iterator[Server]:
    server = Server(data, database_url=url, args=["--views", SAMPLE])
    try:
        server.wait_ready()
        token = (data / "bootstrap-token").read_text().strip()
        with server.client(token) as client:
            appended = client.post(
                "/v1/events",
                json={
                    "events": [
                        {
                            "aggregateType": "user",
                            "aggregateId": "u-1",
                            "type": "user.added",
                            "payload": {"poisonFile": str(poison)},
                        }
                    ]
                },
            )
            assert appended.status_code == 200, appended.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                failed = client.get("/v1/failed-events").json()["failedEvents"]
                if sorted((f["view"], f["failureCount"]) for f in failed) == [
                    ("counts", 2),
                    ("slow", 2),
                ]:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the sample views did not give up on the poisoned event")
            reader = client.post(
                "/v1/tokens", json={"name": "reader", "roles": ["IAM_OWNER_VIEWER"]}
            )
            assert reader.status_code == 201, reader.text
            (data.parent / "reader-token").write_text(reader.json()["token"])
        chronik("tenants", "create", "stranger", data=data, database_url=url)
        stranger = chronik(
            "tokens",
            "create",
            "--tenant",
            "stranger",
            "--role",
            "IAM_OWNER",
            data=data,
            database_url=url,
        )
        (data.parent / "stranger-token").write_text(stranger.stdout.strip())
        yield server
    finally:
        server.kill()


def sign_in(browser: Browser, server: Server, token: str) -> Page:
    page = browser.new_context(base_url=server.url).new_page()
    page.goto("/console/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page
