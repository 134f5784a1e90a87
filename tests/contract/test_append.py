"""Appending: atomicity, expected versions, idempotent retries, group commit, bad input."""

from __future__ import annotations

import asyncio

import pytest

from chronik.errors import Conflict, InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.events.append import prepare
from chronik.ids import new_ulid, new_ulids
from chronik.records import Editor, Event, ExpectedVersion, NewEvent, PendingAppend
from chronik.services import Chronik
from chronik.settings import Settings


def ev(aggregate_id: str = "u1", type: str = "user.added", **payload: object) -> NewEvent:
    return NewEvent(aggregate_type="user", aggregate_id=aggregate_id, type=type, payload=payload)


async def all_events(chronik: Chronik, tenant: str) -> list[Event]:
    return (await chronik.events.search(tenant, EventQuery(asc=True))).events


async def test_append_stores_events_with_sequence_version_and_request(
    chronik: Chronik, tenant: str
) -> None:
    stored = await chronik.events.append(
        tenant,
        [ev("u1", name="Ada"), ev("u1", "user.renamed", name="Ada L."), ev("u2")],
        editor=Editor(user_id="admin", service="tests"),
    )
    assert [e.aggregate_version for e in stored] == [1, 2, 1]
    assert [e.sequence for e in stored] == sorted(e.sequence for e in stored)
    assert len({e.request_id for e in stored}) == 1
    assert len({e.locator for e in stored}) == 3
    read = await chronik.events.get(tenant, stored[1].locator)
    assert read == stored[1]
    assert read.payload == {"name": "Ada L."}
    assert read.editor_user_id == "admin" and read.editor_service == "tests"
    assert await chronik.events.of_request(tenant, stored[0].request_id) == stored


async def test_versions_continue_across_appends(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u1")])
    [third] = await chronik.events.append(tenant, [ev("u1")])
    assert third.aggregate_version == 3


async def test_stale_expected_version_writes_nothing(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(
            tenant,
            [ev("u1", "user.renamed"), ev("u2")],
            expected=[ExpectedVersion(aggregate_type="user", aggregate_id="u1", version=0)],
        )
    assert caught.value.details["current_version"] == 1
    assert len(await all_events(chronik, tenant)) == 1


async def test_batch_is_atomic_when_a_second_aggregate_conflicts(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u2"), ev("u2")])
    with pytest.raises(Conflict):
        await chronik.events.append(
            tenant,
            [ev("u1"), ev("u2", "user.renamed")],
            expected=[
                ExpectedVersion(aggregate_type="user", aggregate_id="u1", version=0),
                ExpectedVersion(aggregate_type="user", aggregate_id="u2", version=1),
            ],
        )
    events = await all_events(chronik, tenant)
    assert [e.aggregate_id for e in events] == ["u2", "u2"]


async def test_matching_expected_versions_append(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    stored = await chronik.events.append(
        tenant,
        [ev("u1", "user.renamed"), ev("u9")],
        expected=[
            ExpectedVersion(aggregate_type="user", aggregate_id="u1", version=1),
            ExpectedVersion(aggregate_type="user", aggregate_id="u9", version=0),
        ],
    )
    assert [e.aggregate_version for e in stored] == [2, 1]


async def test_correlation_causation_and_metadata_read_back_as_appended(
    chronik: Chronik, tenant: str
) -> None:
    [first] = await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type="order",
                aggregate_id="o1",
                type="order.placed",
                payload={"total": 3},
                correlation_id="checkout-7",
                metadata={"ip": "192.0.2.1", "trace": {"span": 4}},
            )
        ],
    )
    [second] = await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type="order",
                aggregate_id="o1",
                type="order.paid",
                correlation_id="checkout-7",
                causation_id=first.locator,
            )
        ],
    )
    read = [
        await chronik.events.get(tenant, first.locator),
        (await chronik.events.of_request(tenant, second.request_id))[0],
    ]
    assert read == [first, second]
    assert (read[0].correlation_id, read[0].causation_id) == ("checkout-7", None)
    assert read[0].metadata == {"ip": "192.0.2.1", "trace": {"span": 4}}
    assert (read[1].correlation_id, read[1].causation_id) == ("checkout-7", first.locator)
    assert read[1].metadata == {}
    assert await chronik.db.events.read_after(tenant, 0, 10) == [first, second]


async def test_an_event_appended_without_metadata_has_none(chronik: Chronik, tenant: str) -> None:
    [stored] = await chronik.events.append(tenant, [ev()])
    read = await chronik.events.get(tenant, stored.locator)
    assert (read.correlation_id, read.causation_id, read.metadata) == (None, None, {})


async def test_expected_exists_refuses_a_new_aggregate_and_writes_nothing(
    chronik: Chronik, tenant: str
) -> None:
    with pytest.raises(Conflict, match="user/u1 does not exist") as caught:
        await chronik.events.append(
            tenant, [ev("u1"), ev("u2")], expected=[ExpectedVersion("user", "u1", "exists")]
        )
    assert caught.value.details["expected_version"] == "exists"
    assert caught.value.details["current_version"] == 0
    assert await all_events(chronik, tenant) == []


async def test_expected_exists_accepts_an_aggregate_at_any_version(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u1", "user.renamed")])
    [stored] = await chronik.events.append(
        tenant, [ev("u1", "user.removed")], expected=[ExpectedVersion("user", "u1", "exists")]
    )
    assert stored.aggregate_version == 3


async def test_expected_absent_refuses_an_existing_aggregate(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(
            tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", "absent")]
        )
    assert caught.value.details["expected_version"] == 0
    assert len(await all_events(chronik, tenant)) == 1


async def test_expected_exists_sees_an_aggregate_created_earlier_in_the_same_group(
    chronik: Chronik, tenant: str
) -> None:
    """Appends queued together commit in one group: the second sees what the first wrote.
    (One committer: with PostgreSQL's two, a loaded machine may start the two appends in two
    concurrent transactions, which is allowed, and then the second may not see the first.)"""
    chronik.db.events.committers = 1
    created, continued = await asyncio.gather(
        chronik.events.append(tenant, [ev("u9")], expected=[ExpectedVersion("user", "u9", 0)]),
        chronik.events.append(
            tenant, [ev("u9", "user.renamed")], expected=[ExpectedVersion("user", "u9", "exists")]
        ),
    )
    assert [created[0].aggregate_version, continued[0].aggregate_version] == [1, 2]


def test_expected_version_takes_positional_or_keyword_arguments() -> None:
    assert ExpectedVersion("order", "o1", 0) == ExpectedVersion(
        aggregate_type="order", aggregate_id="o1", version=0
    )


@pytest.mark.parametrize("version", ["maybe", True, -2, 1.5])
async def test_an_expected_version_that_is_no_version_is_refused(
    chronik: Chronik, tenant: str, version: object
) -> None:
    with pytest.raises(InvalidArgument, match='"absent" or "exists"'):
        await chronik.events.append(
            tenant,
            [ev()],
            expected=[ExpectedVersion("user", "u1", version)],  # type: ignore[arg-type]
        )


async def test_racing_appends_have_one_winner_per_version(chronik: Chronik, tenant: str) -> None:
    async def attempt(version: int, who: int) -> bool:
        try:
            await chronik.events.append(
                tenant,
                [ev("hot", "user.touched", who=who)],
                expected=[
                    ExpectedVersion(aggregate_type="user", aggregate_id="hot", version=version)
                ],
            )
        except Conflict:
            return False
        return True

    for version in range(5):
        outcomes = await asyncio.gather(*(attempt(version, who) for who in range(12)))
        assert sum(outcomes) == 1
    events = await all_events(chronik, tenant)
    assert [e.aggregate_version for e in events] == [1, 2, 3, 4, 5]


async def test_group_commit_keeps_each_appends_own_outcome(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("taken")])
    good = [chronik.events.append(tenant, [ev(f"g{i}")]) for i in range(20)]
    bad = [
        chronik.events.append(
            tenant,
            [ev(f"b{i}"), ev("taken", "user.renamed")],
            expected=[ExpectedVersion(aggregate_type="user", aggregate_id="taken", version=0)],
        )
        for i in range(5)
    ]
    results = await asyncio.gather(*good, *bad, return_exceptions=True)
    assert all(isinstance(r, list) for r in results[:20])
    assert all(isinstance(r, Conflict) for r in results[20:])
    ids = {e.aggregate_id for e in await all_events(chronik, tenant)}
    assert ids == {"taken"} | {f"g{i}" for i in range(20)}


async def test_one_group_of_several_tenants_numbers_each_tenants_events_on_its_own(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    """A group may hold appends of several tenants (a transaction of the caller's, or a
    store that groups every tenant's): each tenant's events continue its own numbers."""
    await chronik.events.append(tenant, [ev("first")])

    def pending(of: str, *ids: str) -> PendingAppend:
        return prepare(of, [ev(i) for i in ids], max_payload_bytes=1 << 20, max_events=100)

    outcomes = await chronik.db.events.commit_group(
        [
            pending(tenant, "a1", "a2"),
            pending(other_tenant, "b1"),
            pending(tenant, "a3"),
            pending(other_tenant, "b2", "b3"),
        ]
    )
    assert [[e.sequence for e in o] for o in outcomes] == [[2, 3], [1], [4], [2, 3]]  # type: ignore[union-attr]
    assert [e.aggregate_id for e in await all_events(chronik, other_tenant)] == ["b1", "b2", "b3"]
    assert await chronik.events.head(tenant) == 4


async def test_retry_with_same_locators_returns_stored_events_and_writes_nothing(
    chronik: Chronik, tenant: str
) -> None:
    locators = new_ulids(2)
    batch = [
        NewEvent(
            aggregate_type="order", aggregate_id="o1", type="order.placed", locator=locators[0]
        ),
        NewEvent(aggregate_type="order", aggregate_id="o1", type="order.paid", locator=locators[1]),
    ]
    first = await chronik.events.append(tenant, batch)
    again = await chronik.events.append(tenant, batch)
    assert again == first
    assert len(await all_events(chronik, tenant)) == 2


async def test_concurrent_retries_of_one_append_store_it_once(
    chronik: Chronik, tenant: str
) -> None:
    batch = [
        NewEvent(aggregate_type="order", aggregate_id="o1", type="order.placed", locator=new_ulid())
    ]
    results = await asyncio.gather(*(chronik.events.append(tenant, batch) for _ in range(6)))
    assert all(r == results[0] for r in results)
    assert len(await all_events(chronik, tenant)) == 1


async def test_locators_reused_by_a_different_append_conflict(
    chronik: Chronik, tenant: str
) -> None:
    a, b = new_ulids(2)
    await chronik.events.append(
        tenant, [NewEvent(aggregate_type="order", aggregate_id="o1", type="x", locator=a)]
    )
    with pytest.raises(Conflict):
        await chronik.events.append(
            tenant,
            [
                NewEvent(aggregate_type="order", aggregate_id="o1", type="x", locator=a),
                NewEvent(aggregate_type="order", aggregate_id="o1", type="y", locator=b),
            ],
        )
    assert len(await all_events(chronik, tenant)) == 1


@pytest.mark.one_database  # across databases a client's locator is unique in its own only
async def test_another_tenants_locator_is_refused_without_revealing_it(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    locator = new_ulid()
    await chronik.events.append(
        other_tenant,
        [NewEvent(aggregate_type="order", aggregate_id="o1", type="x", locator=locator)],
    )
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(
            tenant, [NewEvent(aggregate_type="order", aggregate_id="o1", type="x", locator=locator)]
        )
    assert other_tenant not in str(caught.value)
    assert await all_events(chronik, tenant) == []


async def test_unknown_tenant_is_not_found(chronik: Chronik) -> None:
    with pytest.raises(NotFound):
        await chronik.events.append("no-such-tenant", [ev()])


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "at least one event"),
        (
            [NewEvent(aggregate_type="", aggregate_id="1", type="x")],
            "aggregateType must not be empty",
        ),
        ([NewEvent(aggregate_type="user", aggregate_id="1" * 201, type="x")], "at most 200"),
        ([NewEvent(aggregate_type="user", aggregate_id="1", type="t" * 201)], "at most 200"),
        ([NewEvent(aggregate_type="user", aggregate_id="1", type="x", payload=[1])], "JSON object"),  # type: ignore[arg-type]
        (
            [NewEvent(aggregate_type="user", aggregate_id="1", type="x", payload={"a": object()})],
            "not valid JSON",
        ),
        ([NewEvent(aggregate_type="user", aggregate_id="1", type="x", locator="nope")], "ULID"),
        ([NewEvent(aggregate_type="user", aggregate_id="1", type="x", revision=-1)], "revision"),
        ([NewEvent(aggregate_type="user", aggregate_id="1\x00", type="x")], "NUL"),
        (
            [NewEvent(aggregate_type="user", aggregate_id="1", type="x", payload={"a": "b\x00"})],
            "NUL",
        ),
        (
            [NewEvent(aggregate_type="user", aggregate_id="1", type="x", correlation_id="")],
            "events\\[0\\].correlationId must not be empty",
        ),
        (
            [NewEvent(aggregate_type="u", aggregate_id="1", type="x", causation_id="c" * 201)],
            "events\\[0\\].causationId is 201 characters long",
        ),
        (
            [NewEvent(aggregate_type="user", aggregate_id="1", type="x", correlation_id=7)],  # type: ignore[arg-type]
            "correlationId must be a string",
        ),
        (
            [NewEvent(aggregate_type="user", aggregate_id="1", type="x", metadata=[1])],  # type: ignore[arg-type]
            "events\\[0\\].metadata must be a JSON object",
        ),
        (
            [NewEvent(aggregate_type="u", aggregate_id="1", type="x", metadata={"a": "\x00"})],
            "events\\[0\\].metadata must not contain NUL",
        ),
    ],
)
async def test_bad_events_are_refused_and_nothing_is_written(
    chronik: Chronik, tenant: str, events: list[NewEvent], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await chronik.events.append(tenant, events)
    assert await all_events(chronik, tenant) == []


async def test_oversized_payload_is_refused(chronik: Chronik, tenant: str) -> None:
    limit = chronik.settings.max_payload_bytes
    with pytest.raises(InvalidArgument, match=f"at most {limit} are allowed"):
        await chronik.events.append(tenant, [ev(blob="x" * limit)])
    assert await all_events(chronik, tenant) == []


async def test_metadata_shares_the_payload_size_limit(chronik: Chronik, tenant: str) -> None:
    limit = chronik.settings.max_payload_bytes
    half = NewEvent(
        aggregate_type="user",
        aggregate_id="u1",
        type="user.added",
        payload={"blob": "x" * (limit // 2)},
        metadata={"blob": "x" * (limit // 2)},
    )
    with pytest.raises(InvalidArgument, match=f"together; at most {limit} are allowed"):
        await chronik.events.append(tenant, [half])
    assert await all_events(chronik, tenant) == []


async def test_negative_expected_version_is_refused(chronik: Chronik, tenant: str) -> None:
    with pytest.raises(InvalidArgument, match="version must be a whole number >= 0"):
        await chronik.events.append(
            tenant,
            [ev()],
            expected=[ExpectedVersion(aggregate_type="user", aggregate_id="u1", version=-1)],
        )


async def test_malformed_request_id_is_refused(chronik: Chronik, tenant: str) -> None:
    with pytest.raises(InvalidArgument, match="requestId must be a ULID"):
        await chronik.events.append(tenant, [ev()], request_id="req-1")


async def test_partial_locators_are_refused(chronik: Chronik, tenant: str) -> None:
    with pytest.raises(InvalidArgument, match="a locator, or none"):
        await chronik.events.append(
            tenant,
            [
                NewEvent(aggregate_type="user", aggregate_id="1", type="x", locator=new_ulid()),
                NewEvent(aggregate_type="user", aggregate_id="1", type="y"),
            ],
        )


# One event per append once its type names are recorded: PostgreSQL's lean path
# (chronik_append_one); the same behaviour holds for every append on SQLite.


async def test_a_lone_event_with_a_stale_expected_version_writes_nothing(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", 1)])
    assert caught.value.details["expected_version"] == 1
    assert caught.value.details["current_version"] == 2
    assert len(await all_events(chronik, tenant)) == 2


async def test_a_lone_event_at_the_expected_version_gets_the_next_version_and_sequence(
    chronik: Chronik, tenant: str
) -> None:
    [first] = await chronik.events.append(tenant, [ev("u1")])
    [second] = await chronik.events.append(
        tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", 1)]
    )
    assert (second.sequence, second.aggregate_version) == (first.sequence + 1, 2)
    assert second.created_at >= first.created_at
    assert await chronik.events.get(tenant, second.locator) == second


async def test_a_lone_event_expecting_exists_is_refused_for_a_new_aggregate(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict, match="does not exist") as caught:
        await chronik.events.append(
            tenant, [ev("u2")], expected=[ExpectedVersion("user", "u2", "exists")]
        )
    assert caught.value.details["expected_version"] == "exists"
    assert caught.value.details["current_version"] == 0
    [added] = await chronik.events.append(
        tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", "exists")]
    )
    assert added.aggregate_version == 2
    assert [e.aggregate_id for e in await all_events(chronik, tenant)] == ["u1", "u1"]


async def test_a_lone_event_expecting_absent_is_refused_for_an_existing_aggregate(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(
            tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", "absent")]
        )
    assert caught.value.details["current_version"] == 1
    [created] = await chronik.events.append(
        tenant, [ev("u2")], expected=[ExpectedVersion("user", "u2", "absent")]
    )
    assert created.aggregate_version == 1


async def test_a_lone_event_keeps_its_correlation_causation_and_metadata(
    chronik: Chronik, tenant: str
) -> None:
    [cause] = await chronik.events.append(tenant, [ev("u1")])
    [stored] = await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type="user",
                aggregate_id="u1",
                type="user.added",
                payload={"n": 1},
                correlation_id="signup-3",
                causation_id=cause.locator,
                metadata={"ip": "192.0.2.9"},
            )
        ],
    )
    read = await chronik.events.get(tenant, stored.locator)
    assert read == stored
    assert (read.correlation_id, read.causation_id) == ("signup-3", cause.locator)
    assert read.metadata == {"ip": "192.0.2.9"}


async def test_a_lone_event_of_a_new_type_is_listed_in_the_catalogue(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    await chronik.events.append(tenant, [ev("u1", "user.renamed")])
    await chronik.events.append(
        tenant, [NewEvent(aggregate_type="team", aggregate_id="t1", type="user.added")]
    )
    assert {t.type for t in await chronik.catalogue.event_types(tenant)} == {
        "user.added",
        "user.renamed",
    }
    assert {t.type for t in await chronik.catalogue.aggregate_types(tenant)} == {"user", "team"}


async def test_a_type_known_in_one_tenant_is_listed_when_first_used_in_another(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    await chronik.events.append(tenant, [ev("u2")])
    await chronik.events.append(other_tenant, [ev("u1")])
    assert [t.type for t in await chronik.catalogue.event_types(other_tenant)] == ["user.added"]
    assert [t.type for t in await chronik.catalogue.aggregate_types(other_tenant)] == ["user"]


async def test_concurrent_lone_appends_of_several_nodes_get_dense_ordered_sequences(
    settings: Settings, chronik: Chronik, tenant: str
) -> None:
    """Four nodes (their own pools and caches) append one event at a time to the same
    aggregates: sequences have no gap, versions count up in sequence order per aggregate,
    and creation dates never go back as sequences go up."""
    nodes = [await Chronik.open(settings, migrate=False) for _ in range(4)]
    try:
        start = await chronik.events.head(tenant)

        async def write(node: Chronik, n: int) -> None:
            for i in range(25):
                await node.events.append(tenant, [ev(f"u{i % 3}", n=n, i=i)])

        await asyncio.gather(*(write(node, n) for n, node in enumerate(nodes)))
    finally:
        for node in nodes:
            await node.close()
    events = await chronik.db.events.read_after(tenant, start, 1000)
    assert [e.sequence for e in events] == list(range(start + 1, start + 101))
    for aggregate in ("u0", "u1", "u2"):
        versions = [e.aggregate_version for e in events if e.aggregate_id == aggregate]
        assert versions == list(range(1, len(versions) + 1))
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)


# Several events per append once their type names are recorded: PostgreSQL's set-based path
# (chronik_append_many); the same behaviour holds for every append on SQLite.


async def test_a_batch_of_recorded_types_continues_each_aggregate_from_its_last_version(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u1"), ev("u2")])
    stored = await chronik.events.append(tenant, [ev(f"u{i % 4}", i=i) for i in range(100)])
    for aggregate, before in (("u0", 0), ("u1", 2), ("u2", 1), ("u3", 0)):
        versions = [e.aggregate_version for e in stored if e.aggregate_id == aggregate]
        assert versions == list(range(before + 1, before + 26))
    assert [e.sequence for e in stored] == list(range(4, 104))
    assert [e.payload["i"] for e in stored] == list(range(100))
    assert await chronik.db.events.read_after(tenant, 3, 1000) == stored


async def test_a_batch_with_a_stale_expected_version_writes_none_of_its_events(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u1"), ev("u2")])
    with pytest.raises(Conflict, match="user/u1 is at version 2, not the expected 1") as caught:
        await chronik.events.append(
            tenant,
            [ev(f"u{i % 3}", i=i) for i in range(100)],
            expected=[ExpectedVersion("user", "u2", 1), ExpectedVersion("user", "u1", 1)],
        )
    assert caught.value.details["aggregate_id"] == "u1"
    assert (caught.value.details["expected_version"], caught.value.details["current_version"]) == (
        1,
        2,
    )
    assert len(await all_events(chronik, tenant)) == 3
    [after] = await chronik.events.append(tenant, [ev("u1")])
    assert (after.sequence, after.aggregate_version) == (4, 3)


async def test_a_batch_at_every_expected_version_is_written(chronik: Chronik, tenant: str) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u1"), ev("u2"), ev("u5")])
    stored = await chronik.events.append(
        tenant,
        [ev("u1"), ev("u2"), ev("u3"), ev("u1")],
        expected=[
            ExpectedVersion("user", "u1", 2),
            ExpectedVersion("user", "u2", "exists"),
            ExpectedVersion("user", "u3", "absent"),
            ExpectedVersion("user", "u5", 1),
        ],
    )
    assert [(e.aggregate_id, e.aggregate_version) for e in stored] == [
        ("u1", 3),
        ("u2", 2),
        ("u3", 1),
        ("u1", 4),
    ]


async def test_a_batch_expecting_a_new_aggregate_to_exist_writes_nothing(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1")])
    with pytest.raises(Conflict, match="user/u7 does not exist") as caught:
        await chronik.events.append(
            tenant, [ev("u1"), ev("u7")], expected=[ExpectedVersion("user", "u7", "exists")]
        )
    assert caught.value.details["expected_version"] == "exists"
    assert caught.value.details["current_version"] == 0
    assert len(await all_events(chronik, tenant)) == 1


async def test_a_batch_is_refused_when_an_aggregate_it_does_not_touch_moved_on(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev("u1"), ev("u5"), ev("u5")])
    with pytest.raises(Conflict) as caught:
        await chronik.events.append(
            tenant, [ev("u1"), ev("u2")], expected=[ExpectedVersion("user", "u5", 1)]
        )
    assert caught.value.details["aggregate_id"] == "u5"
    assert caught.value.details["current_version"] == 2
    assert len(await all_events(chronik, tenant)) == 3


async def test_a_batch_keeps_each_events_correlation_causation_and_metadata(
    chronik: Chronik, tenant: str
) -> None:
    [cause] = await chronik.events.append(tenant, [ev("u1")])
    stored = await chronik.events.append(
        tenant,
        [
            ev("u1"),
            NewEvent(
                aggregate_type="user",
                aggregate_id="u1",
                type="user.added",
                correlation_id="signup-4",
                metadata={"ip": "192.0.2.7", "trace": [1, {"span": None}]},
            ),
            NewEvent(
                aggregate_type="user",
                aggregate_id="u2",
                type="user.added",
                payload={"name": "Ada"},
                causation_id=cause.locator,
            ),
        ],
    )
    assert await chronik.db.events.read_after(tenant, cause.sequence, 10) == stored
    assert [(e.correlation_id, e.causation_id, e.metadata) for e in stored] == [
        (None, None, {}),
        ("signup-4", None, {"ip": "192.0.2.7", "trace": [1, {"span": None}]}),
        (None, cause.locator, {}),
    ]


async def test_concurrent_batches_of_several_nodes_get_dense_ordered_sequences(
    settings: Settings, chronik: Chronik, tenant: str
) -> None:
    """Four nodes append ten events at a time to the same aggregates (each node's first
    append records the type names, the others take the set-based path): sequences have no
    gap, versions count up in sequence order per aggregate, creation dates never go back."""
    nodes = [await Chronik.open(settings, migrate=False) for _ in range(4)]
    try:
        start = await chronik.events.head(tenant)

        async def write(node: Chronik, n: int) -> None:
            for i in range(10):
                await node.events.append(
                    tenant, [ev(f"u{k % 3}", n=n, i=i, k=k) for k in range(10)]
                )

        await asyncio.gather(*(write(node, n) for n, node in enumerate(nodes)))
    finally:
        for node in nodes:
            await node.close()
    events = await chronik.db.events.read_after(tenant, start, 1000)
    assert [e.sequence for e in events] == list(range(start + 1, start + 401))
    for aggregate in ("u0", "u1", "u2"):
        versions = [e.aggregate_version for e in events if e.aggregate_id == aggregate]
        assert versions == list(range(1, len(versions) + 1))
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)


async def test_retry_with_same_request_id_returns_stored_events_and_writes_nothing(
    chronik: Chronik, tenant: str
) -> None:
    request = new_ulid()
    batch = [ev("u1"), ev("u1", "user.renamed", name="Ada")]
    first = await chronik.events.append(tenant, batch, request_id=request)
    again = await chronik.events.append(tenant, batch, request_id=request)
    assert again == first
    assert [e.request_id for e in first] == [request, request]
    assert len(await all_events(chronik, tenant)) == 2


async def test_concurrent_retries_of_one_request_id_store_it_once(
    chronik: Chronik, tenant: str
) -> None:
    request = new_ulid()
    results = await asyncio.gather(
        *(chronik.events.append(tenant, [ev("u1")], request_id=request) for _ in range(6))
    )
    assert all(r == results[0] for r in results)
    assert len(await all_events(chronik, tenant)) == 1


async def test_one_request_id_in_two_tenants_is_two_appends(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    request = new_ulid()
    mine = await chronik.events.append(tenant, [ev("u1")], request_id=request)
    theirs = await chronik.events.append(other_tenant, [ev("u1")], request_id=request)
    assert mine[0].locator != theirs[0].locator
    assert len(await all_events(chronik, tenant)) == 1
    assert len(await all_events(chronik, other_tenant)) == 1
