"""Searching the log: every ListEvents filter, the stream, paging tokens, tenant isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from chronik.errors import InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.records import Editor, Event, NewEvent
from chronik.services import Chronik


async def append_number(chronik: Chronik, tenant: str, i: int) -> list[Event]:
    """The ``i``-th event of :func:`seed`'s pattern, appended on its own."""
    kind = ["user", "org", "project"][i % 3]
    return await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type=kind,
                aggregate_id=f"{kind}-{i % 4}",
                type=f"{kind}.{['added', 'changed'][i % 2]}",
                resource_owner=f"owner-{i % 2}",
                payload={"i": i},
                correlation_id=f"conversation-{i % 4}" if i % 3 else None,
            )
        ],
        editor=Editor(user_id=f"editor-{i % 3}", service="tests"),
    )


async def seed(chronik: Chronik, tenant: str) -> list[Event]:
    """Twelve events over three aggregate types, four event types, two editors and owners,
    four correlation ids (and a third of them without one)."""
    return [e for i in range(12) for e in await append_number(chronik, tenant, i)]


def seqs(events: list[Event]) -> list[int]:
    return [e.sequence for e in events]


async def search(chronik: Chronik, tenant: str, **filters: object) -> list[Event]:
    return (await chronik.events.search(tenant, EventQuery(**filters))).events  # type: ignore[arg-type]


async def test_default_order_is_newest_first(chronik: Chronik, tenant: str) -> None:
    stored = await seed(chronik, tenant)
    assert seqs(await search(chronik, tenant)) == seqs(stored)[::-1]
    assert seqs(await search(chronik, tenant, asc=True)) == seqs(stored)


async def test_sequence_is_a_lower_bound_ascending_and_upper_bound_descending(
    chronik: Chronik, tenant: str
) -> None:
    stored = await seed(chronik, tenant)
    pivot = stored[5].sequence
    assert seqs(await search(chronik, tenant, sequence=pivot, asc=True)) == seqs(stored[6:])
    assert seqs(await search(chronik, tenant, sequence=pivot)) == seqs(stored[:5])[::-1]


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"event_types": ("user.added",)}, lambda e: e.type == "user.added"),
        (
            {"event_types": ("user.added", "org.changed", "nothing")},
            lambda e: e.type in ("user.added", "org.changed"),
        ),
        ({"aggregate_types": ("org",)}, lambda e: e.aggregate_type == "org"),
        ({"aggregate_types": ("org", "project")}, lambda e: e.aggregate_type != "user"),
        ({"aggregate_id": "user-0"}, lambda e: e.aggregate_id == "user-0"),
        ({"editor_user_id": "editor-1"}, lambda e: e.editor_user_id == "editor-1"),
        ({"resource_owner": "owner-1"}, lambda e: e.resource_owner == "owner-1"),
        ({"correlation_id": "conversation-1"}, lambda e: e.correlation_id == "conversation-1"),
        (
            {"correlation_id": "conversation-2", "event_types": ("org.added", "user.added")},
            lambda e: (
                e.correlation_id == "conversation-2" and e.type in ("org.added", "user.added")
            ),
        ),
        (
            {"correlation_id": "conversation-1", "aggregate_id": "org-1"},
            lambda e: e.correlation_id == "conversation-1" and e.aggregate_id == "org-1",
        ),
        (
            {"event_types": ("user.added", "org.added"), "aggregate_types": ("org",)},
            lambda e: e.type == "org.added",
        ),
        (
            {"event_types": ("user.added", "org.changed"), "editor_user_id": "editor-1"},
            lambda e: e.type in ("user.added", "org.changed") and e.editor_user_id == "editor-1",
        ),
        (
            {
                "aggregate_types": ("user", "org"),
                "resource_owner": "owner-0",
                "editor_user_id": "editor-0",
            },
            lambda e: (
                e.aggregate_type in ("user", "org")
                and e.resource_owner == "owner-0"
                and e.editor_user_id == "editor-0"
            ),
        ),
    ],
)
async def test_each_filter_returns_exactly_the_matching_events(
    chronik: Chronik, tenant: str, filters: dict[str, object], keep: object
) -> None:
    stored = await seed(chronik, tenant)
    expected = [e for e in stored if keep(e)]  # type: ignore[operator]
    assert expected, "the seed must match every filter at least once"
    assert seqs(await search(chronik, tenant, asc=True, **filters)) == seqs(expected)
    assert seqs(await search(chronik, tenant, **filters)) == seqs(expected)[::-1]


async def test_limit_cuts_each_filter_shape_to_the_first_matches(
    chronik: Chronik, tenant: str
) -> None:
    stored = await seed(chronik, tenant)
    matching = [e for e in stored if e.type in ("user.added", "org.changed", "project.added")]
    found = await search(
        chronik, tenant, event_types=("user.added", "org.changed", "project.added"), limit=3
    )
    assert seqs(found) == seqs(matching)[::-1][:3]


async def test_creation_date_and_range_filters(chronik: Chronik, tenant: str) -> None:
    early = await seed(chronik, tenant)
    await asyncio.sleep(0.01)
    middle = await chronik.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id="late", type="user.added")]
    )
    await asyncio.sleep(0.01)
    late = await seed(chronik, tenant)
    cut = middle[0].created_at
    after = await search(chronik, tenant, asc=True, creation_date=cut)
    assert seqs(after) == seqs(late)
    before = await search(chronik, tenant, creation_date=cut)
    assert seqs(before) == seqs(early)[::-1]
    ranged = await search(
        chronik, tenant, asc=True, since=cut, until=late[0].created_at + timedelta(microseconds=1)
    )
    assert seqs(ranged) == seqs(middle + late[:1])
    future = datetime.now(UTC) + timedelta(days=1)
    assert await search(chronik, tenant, asc=True, since=future) == []


async def test_a_time_window_starts_at_the_first_event_of_its_instant(
    chronik: Chronik, tenant: str
) -> None:
    """Whichever event's time a window starts at, it holds exactly that event's instant and
    what came after: also when several events share the instant (one append)."""
    stored: list[Event] = []
    for i in range(9):
        stored += await chronik.events.append(
            tenant,
            [
                NewEvent(aggregate_type="user", aggregate_id=f"u{i}", type="user.added")
                for _ in range(1 + i % 3)
            ],
        )
    for event in stored:
        at_or_after = [e for e in stored if e.created_at >= event.created_at]
        assert seqs(await search(chronik, tenant, asc=True, since=event.created_at)) == seqs(
            at_or_after
        )
        strictly_after = event.created_at + timedelta(microseconds=1)
        assert seqs(await search(chronik, tenant, asc=True, since=strictly_after)) == seqs(
            [e for e in stored if e.created_at > event.created_at]
        )


async def test_limit_defaults_and_maximum(chronik: Chronik, tenant: str) -> None:
    await seed(chronik, tenant)
    maximum = chronik.settings.search_max_limit
    with pytest.raises(InvalidArgument, match="above the maximum"):
        await search(chronik, tenant, limit=maximum + 1)
    with pytest.raises(InvalidArgument):
        await search(chronik, tenant, limit=-1)
    assert len(await search(chronik, tenant, limit=0)) == 12


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"event_types": tuple(f"t{i}" for i in range(31))}, "at most 30"),
        ({"aggregate_types": tuple(f"a{i}" for i in range(11))}, "at most 10"),
        ({"aggregate_id": "x" * 201}, "at most 200"),
        ({"event_types": ("",)}, "must not be empty"),
        ({"sequence": -5}, "sequence"),
        ({"resource_owner": "a\x00"}, "NUL"),
        (
            {
                "creation_date": datetime(
                    9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))
                )
            },
            "range of timestamps",
        ),
        (
            {
                "creation_date": datetime.now(UTC),
                "since": datetime.now(UTC),
            },
            "either creationDate or range",
        ),
    ],
)
async def test_bad_filters_are_refused(
    chronik: Chronik, tenant: str, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await search(chronik, tenant, **filters)


async def test_paging_through_a_filtered_stream_returns_each_event_once(
    chronik: Chronik, tenant: str
) -> None:
    stored = await seed(chronik, tenant)
    stored += await seed(chronik, tenant)
    wanted = [e for e in stored if e.aggregate_type == "user"]
    page = await chronik.events.stream(tenant, event_type="user.added", page_size=2)
    seen = list(page.events)
    while page.events:
        page = await chronik.events.next_page(tenant, page.paging_token)
        seen += page.events
    assert seqs(seen) == [e.sequence for e in wanted if e.type == "user.added"]
    assert page.paging_token, "the empty last page still carries a token"


async def test_a_paging_token_continues_with_events_appended_later(
    chronik: Chronik, tenant: str
) -> None:
    await seed(chronik, tenant)
    page = await chronik.events.stream(tenant, page_size=100)
    assert len(page.events) == 12
    empty = await chronik.events.next_page(tenant, page.paging_token)
    assert empty.events == []
    newer = await seed(chronik, tenant)
    resumed = await chronik.events.next_page(tenant, empty.paging_token)
    assert seqs(resumed.events) == seqs(newer)


async def test_stream_time_window_is_start_inclusive_and_end_exclusive(
    chronik: Chronik, tenant: str
) -> None:
    first = await seed(chronik, tenant)
    await asyncio.sleep(0.01)
    second = await seed(chronik, tenant)
    window = await chronik.events.stream(
        tenant, start=first[0].created_at, end=second[0].created_at, page_size=100
    )
    assert seqs(window.events) == seqs(first)


async def test_altered_or_foreign_paging_tokens_are_refused(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    await seed(chronik, tenant)
    token = (await chronik.events.stream(tenant, page_size=2)).paging_token
    body, mac = token.split(".")
    for bad in (body + "A." + mac, body + "." + mac[:-2] + "AA", "garbage", "", "a.b.c"):
        with pytest.raises(InvalidArgument, match="paging token"):
            await chronik.events.next_page(tenant, bad)
    with pytest.raises(InvalidArgument, match="paging token"):
        await chronik.events.next_page(other_tenant, token)


async def test_a_paging_token_cannot_widen_its_search(chronik: Chronik, tenant: str) -> None:
    """The filters travel inside the signed token: re-signing is the only way to change them."""
    from chronik.events import paging

    await seed(chronik, tenant)
    token = (await chronik.events.stream(tenant, event_type="user.added", page_size=1)).paging_token
    body = paging.unb64(token.split(".")[0])
    cursor = msgspec.msgpack.decode(body[1:], type=paging.Cursor)
    widened = msgspec.structs.replace(cursor, event_types=())
    forged = paging.b64(b"1" + msgspec.msgpack.encode(widened)) + "." + token.split(".")[1]
    with pytest.raises(InvalidArgument):
        await chronik.events.next_page(tenant, forged)


async def test_no_search_sees_another_tenants_events(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    theirs = await seed(chronik, other_tenant)
    mine = await chronik.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id="user-0", type="user.added")]
    )
    for filters in (
        {},
        {"aggregate_id": "user-0"},
        {"event_types": ("user.added", "org.added")},
        {"aggregate_types": ("user", "org")},
        {"editor_user_id": "editor-0"},
        {"resource_owner": "owner-0"},
        {"correlation_id": "conversation-1"},
    ):
        found = await search(chronik, tenant, asc=True, **filters)
        assert all(e.tenant_id == tenant for e in found)
    assert seqs(await search(chronik, tenant)) == seqs(mine)
    with pytest.raises(NotFound):
        await chronik.events.get(tenant, theirs[0].locator)
    assert await chronik.events.of_request(tenant, theirs[0].request_id) == []
    assert await chronik.events.stream(tenant, event_type="org.added") is not None
    assert [e.sequence for e in (await chronik.events.stream(tenant)).events] == seqs(mine)
    assert {t.type for t in await chronik.catalogue.event_types(tenant)} == {"user.added"}


async def test_unknown_locator_and_request_are_not_found(chronik: Chronik, tenant: str) -> None:
    with pytest.raises(NotFound):
        await chronik.events.get(tenant, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(NotFound):
        await chronik.events.get(tenant, "not a locator")
    assert await chronik.events.of_request(tenant, "01ARZ3NDEKTSV4RRFFQ69G5FAV") == []


async def test_catalogue_lists_used_types_localized(chronik: Chronik, tenant: str) -> None:
    await seed(chronik, tenant)
    await chronik.events.append(
        tenant, [NewEvent(aggregate_type="action", aggregate_id="a1", type="action.added")]
    )
    english = {t.type: t for t in await chronik.catalogue.event_types(tenant, "en")}
    german = {t.type: t for t in await chronik.catalogue.event_types(tenant, "de")}
    assert english["action.added"].key == "EventTypes.action.added"
    assert english["action.added"].localized_message == "Action added"
    assert german["action.added"].localized_message == "Aktion hinzugefügt"
    assert german["project.changed"].localized_message == "Project changed"
    aggregates = await chronik.catalogue.aggregate_types(tenant, "de")
    assert [a.type for a in aggregates] == ["action", "org", "project", "user"]
    assert {a.type: a.localized_message for a in aggregates}["user"] == "Benutzer"


async def test_a_sequence_beyond_64_bits_is_just_a_far_bound(chronik: Chronik, tenant: str) -> None:
    stored = await seed(chronik, tenant)
    assert seqs(await search(chronik, tenant, sequence=2**64)) == seqs(stored)[::-1]
    assert await search(chronik, tenant, sequence=2**64, asc=True) == []


async def test_paging_a_correlation_search_returns_each_of_its_events_once(
    chronik: Chronik, tenant: str
) -> None:
    stored = await seed(chronik, tenant) + await seed(chronik, tenant)
    page = await chronik.events.search(
        tenant, EventQuery(correlation_id="conversation-1", asc=True, limit=2)
    )
    seen = list(page.events)
    while page.events:
        page = await chronik.events.next_page(tenant, page.paging_token)
        seen += page.events
    assert seqs(seen) == [e.sequence for e in stored if e.correlation_id == "conversation-1"]


async def test_an_unused_correlation_id_finds_nothing(chronik: Chronik, tenant: str) -> None:
    await seed(chronik, tenant)
    assert await search(chronik, tenant, correlation_id="conversation-9") == []


async def test_a_correlation_id_over_200_characters_is_refused(
    chronik: Chronik, tenant: str
) -> None:
    with pytest.raises(InvalidArgument, match="correlationId is 201 characters long"):
        await search(chronik, tenant, correlation_id="c" * 201)
