"""SyncChronik: Chronik's services, as blocking calls, on both backends."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chronik import EventQuery, NewEvent, NotFound, Settings, SyncChronik
from chronik.actions import ActionQuery
from chronik.events import EventLog
from chronik.records import Event, Schedule, TimeRule
from chronik.views import Registry, Rows


def event(aggregate_id: str = "1", type_: str = "user.added") -> NewEvent:
    return NewEvent(aggregate_type="user", aggregate_id=aggregate_id, type=type_, payload={})


@pytest.fixture
def sync(settings: Settings) -> Iterator[SyncChronik]:
    with SyncChronik.open(settings) as opened:
        yield opened


@pytest.fixture
def tenant(sync: SyncChronik) -> str:
    default: str = sync.default_tenant().id
    return default


def test_an_append_is_read_back_by_head_and_get(sync: SyncChronik, tenant: str) -> None:
    [stored] = sync.events.append(tenant, [event()])
    assert sync.events.head(tenant) == stored.sequence
    assert sync.events.get(tenant, stored.locator) == stored


def test_search_and_next_page_walk_the_log(sync: SyncChronik, tenant: str) -> None:
    stored = sync.events.append(tenant, [event(str(i)) for i in range(3)])
    first = sync.events.search(tenant, EventQuery(asc=True, limit=2))
    rest = sync.events.next_page(tenant, first.paging_token)
    assert first.events + rest.events == stored


def test_stream_returns_a_type_in_order(sync: SyncChronik, tenant: str) -> None:
    stored = sync.events.append(tenant, [event("1"), event("2", "user.removed"), event("3")])
    page = sync.events.stream(tenant, event_type="user.added")
    assert page.events == [stored[0], stored[2]]


def test_errors_reach_the_caller_as_they_are(sync: SyncChronik, tenant: str) -> None:
    with pytest.raises(NotFound):
        sync.events.get(tenant, "01J0000000000000000000000Z")


def test_follow_yields_events_until_the_caller_breaks(sync: SyncChronik, tenant: str) -> None:
    stored = sync.events.append(tenant, [event(str(i)) for i in range(3)])
    seen = []
    for followed in sync.events.follow(tenant):
        seen.append(followed)
        if len(seen) == 2:
            break
    assert seen == stored[:2]


def test_follow_waits_for_an_event_appended_by_another_thread(
    sync: SyncChronik, tenant: str
) -> None:
    following = sync.events.follow(tenant, after=sync.events.head(tenant))
    writer = threading.Thread(target=lambda: sync.events.append(tenant, [event()]))
    writer.start()
    followed = next(following)
    writer.join()
    assert followed == sync.events.search(tenant, EventQuery()).events[0]


def test_a_follow_still_open_at_close_ends(settings: Settings) -> None:
    chronik = SyncChronik.open(settings)
    tenant = chronik.default_tenant().id
    chronik.events.append(tenant, [event()])
    following = chronik.events.follow(tenant)
    next(following)
    chronik.close()
    assert list(following) == []


def test_close_ends_a_follow_waiting_in_another_thread(settings: Settings) -> None:
    chronik = SyncChronik.open(settings)
    following = chronik.events.follow(chronik.default_tenant().id)
    follower = threading.Thread(target=lambda: list(following))
    follower.start()
    chronik.close()
    follower.join()
    assert list(following) == []


def test_closing_again_does_nothing(settings: Settings) -> None:
    with SyncChronik.open(settings) as chronik:
        chronik.close()


def test_views_statuses_list_the_built_in_views(sync: SyncChronik, tenant: str) -> None:
    sync.events.append(tenant, [event()])
    statuses = {s.state.view: s for s in sync.views.statuses(tenant)}
    assert statuses["actions"].head == 1


def test_a_view_run_in_the_background_is_read_after_an_append(settings: Settings) -> None:
    registry = Registry()

    @registry.view("counts", event_types=["user.added"])
    async def counts(event: Event, rows: Rows) -> None:
        rows.put(event.aggregate_type, await rows.get(event.aggregate_type, 0) + 1)

    with SyncChronik.open(settings, views=registry) as chronik:
        chronik.start_views()
        tenant = chronik.default_tenant().id
        [stored] = chronik.events.append(tenant, [event()])
        row = chronik.views.row(
            tenant, "counts", "user", min_sequence=stored.sequence, wait_seconds=30
        )
    assert row.value == 1


def test_a_created_schedule_is_listed(sync: SyncChronik, tenant: str) -> None:
    at = datetime.now(UTC) + timedelta(days=1)
    created = sync.schedules.create(
        Schedule(
            tenant_id=tenant, name="renewal", event_type="due", rule=TimeRule(kind="once", at=at)
        )
    )
    assert sync.schedules.find_all(tenant) == [created]


def test_a_created_action_is_listed(sync: SyncChronik, tenant: str) -> None:
    created = sync.actions.create(tenant, "org", name="check", script="function check(ctx, api) {}")
    listed = sync.actions.search(tenant, "org", ActionQuery())
    assert [a.id for a in listed.actions] == [created.id]


def test_the_catalogue_names_the_types_used(sync: SyncChronik, tenant: str) -> None:
    sync.events.append(tenant, [event()])
    [named] = sync.catalogue.event_types(tenant)
    assert (named.type, named.localized_message) == ("user.added", "User added")


def test_a_created_tenant_is_found_by_name(sync: SyncChronik) -> None:
    acme = sync.tenants.create("acme")
    assert sync.tenants.get("acme") == acme


def test_an_issued_token_authenticates_for_its_tenant(sync: SyncChronik, tenant: str) -> None:
    record, bearer = sync.tokens.issue(tenant, ["IAM_OWNER"], name="ops")
    assert sync.tokens.authenticate(bearer).subject == record.id


def test_a_method_added_to_a_service_is_there_at_once(
    sync: SyncChronik, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def newest(log: EventLog, tenant_id: str, count: int) -> AsyncIterator[Event]:
        for found in (await log.search(tenant_id, EventQuery(limit=count))).events:
            yield found

    monkeypatch.setattr(EventLog, "newest", newest, raising=False)
    stored = sync.events.append(tenant, [event(str(i)) for i in range(3)])
    assert list(sync.events.newest(tenant, 2)) == stored[:0:-1]


def test_settings_with_a_str_data_dir_open_a_working_database(tmp_path: Path) -> None:
    as_the_docs_write_it = str(tmp_path / "data")  # typed code passes a Path
    with SyncChronik.open(Settings(data_dir=as_the_docs_write_it)) as chronik:  # type: ignore[arg-type]
        [stored] = chronik.events.append(chronik.default_tenant().id, [event()])
    assert (tmp_path / "data" / "chronik.db").exists()
    with SyncChronik.open(Settings(data_dir=tmp_path / "data")) as chronik:
        assert chronik.events.get(chronik.default_tenant().id, stored.locator) == stored
