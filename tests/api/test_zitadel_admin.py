"""ZITADEL Admin API v1: ``POST /admin/v1/events/_search`` and the type catalogues, as a
ZITADEL client sees them (seed 001)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from chronik.services import Chronik
from tests.api.helpers import (
    ORG,
    Headers,
    append,
    bearer,
    new_event,
    search,
    sequences,
    surface_error,
)
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

Log = list[dict[str, Any]]
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


@pytest.fixture
async def log(api: httpx.AsyncClient, owner: Headers, writer: Headers) -> Log:
    """Six events, each appended alone (so their creation dates differ), over three
    aggregate types, two editors and two resource owners."""
    plan = [
        (owner, new_event("user", "u-1", "user.human.added")),
        (owner, new_event("org", "o-1", "org.added", resourceOwner="org-other")),
        (writer, new_event("user", "u-2", "user.human.added")),
        (owner, new_event("user", "u-1", "user.removed")),
        (writer, new_event("project", "p-1", "project.added", resourceOwner="org-other")),
        (owner, new_event("org", "o-1", "org.changed")),
    ]
    stored = []
    for headers, event in plan:
        stored += await append(api, headers, event)
    return stored


def seqs(log: Log, *indexes: int) -> list[str]:
    return [log[i]["sequence"] for i in indexes]


async def test_an_event_reads_exactly_as_zitadel_lists_it(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    payload = {"firstName": "Gigi", "lastName": "Giraffe", "tags": [1, {"a": None}]}
    [stored] = await append(api, owner, new_event("user", "u-1", "user.human.added", payload))

    [found] = await search(api, owner)

    assert found == {
        "editor": {"userId": stored["editor"]["userId"], "service": "native-api"},
        "aggregate": {
            "id": "u-1",
            "type": {
                "type": "user",
                "localized": {"key": "AggregateTypes.user", "localizedMessage": "User"},
            },
            "resourceOwner": ORG,
        },
        "sequence": stored["sequence"],
        "creationDate": stored["creationDate"],
        "payload": payload,
        "type": {
            "type": "user.human.added",
            "localized": {"key": "EventTypes.user.human.added", "localizedMessage": "Person added"},
        },
    }
    assert re.fullmatch(r"[1-9][0-9]*", found["sequence"])
    assert RFC3339_UTC.fullmatch(found["creationDate"]), found["creationDate"]


async def test_empty_fields_are_left_out(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    no_org = await bearer(chronik, tenant, "IAM_OWNER", organisation_id="")
    await append(api, no_org, new_event())

    [found] = await search(api, no_org)

    assert "resourceOwner" not in found["aggregate"]
    assert "displayName" not in found["editor"]
    assert all(v not in ("", None) for v in found["editor"].values())


async def test_a_type_no_catalogue_knows_reads_as_a_sentence(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    await append(api, owner, new_event("project", "p-1", "project.grant_added"))

    [found] = await search(api, owner)

    assert found["type"]["localized"] == {
        "key": "EventTypes.project.grant_added",
        "localizedMessage": "Project grant added",
    }


async def test_newest_come_first_unless_asc(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    assert await sequences(api, owner) == seqs(log, 5, 4, 3, 2, 1, 0)
    assert await sequences(api, owner, asc=True) == seqs(log, 0, 1, 2, 3, 4, 5)


async def test_sequence_is_below_descending_and_above_ascending(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    pivot = int(log[2]["sequence"])

    assert await sequences(api, owner, sequence=pivot) == seqs(log, 1, 0)
    assert await sequences(api, owner, sequence=pivot, asc=True) == seqs(log, 3, 4, 5)
    assert await sequences(api, owner, sequence=0) == seqs(log, 5, 4, 3, 2, 1, 0)


async def test_limit_cuts_the_answer_after_the_first_matches(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    assert await sequences(api, owner, limit=2) == seqs(log, 5, 4)
    assert await sequences(api, owner, limit=2, asc=True) == seqs(log, 0, 1)
    assert await sequences(api, owner, limit=0) == seqs(log, 5, 4, 3, 2, 1, 0)


async def test_uint64_fields_may_be_strings(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    found = await sequences(api, owner, sequence=log[4]["sequence"], limit="2")

    assert found == seqs(log, 3, 2)


async def test_editor_user_id_finds_the_events_of_one_editor(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    writer_id = log[2]["editor"]["userId"]

    assert await sequences(api, owner, editorUserId=writer_id) == seqs(log, 4, 2)


async def test_event_types_match_any_listed_type_exactly(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    both = await sequences(api, owner, eventTypes=["user.removed", "org.added"])
    prefix = await sequences(api, owner, eventTypes=["user", "user.human"])

    assert both == seqs(log, 3, 1)
    assert prefix == []


async def test_aggregate_id_finds_the_events_of_one_aggregate(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    assert await sequences(api, owner, aggregateId="u-1") == seqs(log, 3, 0)
    assert await sequences(api, owner, aggregateId="u") == []


async def test_aggregate_types_match_any_listed_type(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    found = await sequences(api, owner, aggregateTypes=["org", "project"])

    assert found == seqs(log, 5, 4, 1)


async def test_resource_owner_finds_the_events_of_one_owner(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    assert await sequences(api, owner, resourceOwner="org-other") == seqs(log, 4, 1)
    assert await sequences(api, owner, resourceOwner=ORG) == seqs(log, 5, 3, 2, 0)


async def test_filters_are_all_applied_together(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    found = await sequences(
        api, owner, aggregateTypes=["user", "project"], resourceOwner=ORG, asc=True, limit=2
    )

    assert found == seqs(log, 0, 2)


def _dates_increase(log: Log) -> None:
    dates = [e["creationDate"] for e in log]
    assert dates == sorted(set(dates)), "each append of the log fixture has its own time"


async def test_creation_date_is_before_descending_and_after_ascending(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    at = log[2]["creationDate"]

    assert await sequences(api, owner, creationDate=at) == seqs(log, 1, 0)
    assert await sequences(api, owner, creationDate=at, asc=True) == seqs(log, 3, 4, 5)


async def test_a_creation_date_with_an_offset_means_the_same_instant(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    at = datetime.fromisoformat(log[2]["creationDate"])
    in_berlin = at.astimezone(timezone(timedelta(hours=2))).isoformat()

    assert await sequences(api, owner, creationDate=in_berlin) == seqs(log, 1, 0)
    assert await sequences(api, owner, creationDate=in_berlin, asc=True) == seqs(log, 3, 4, 5)


async def test_a_creation_date_without_an_offset_is_refused_as_grpc_gateway_does(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    naive = datetime.fromisoformat(log[2]["creationDate"]).replace(tzinfo=None).isoformat()

    response = await api.post(
        "/admin/v1/events/_search", headers=owner, json={"creationDate": naive}
    )

    surface_error("zitadel", response, 400, "creationDate")


async def test_from_is_the_creation_date_under_its_other_name(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    at = log[3]["creationDate"]

    assert await sequences(api, owner, **{"from": at}) == seqs(log, 2, 1, 0)
    assert await sequences(api, owner, **{"from": at, "asc": True}) == seqs(log, 4, 5)


async def test_range_includes_since_and_excludes_until(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    window = {"since": log[2]["creationDate"], "until": log[4]["creationDate"]}

    assert await sequences(api, owner, range=window) == seqs(log, 3, 2)
    assert await sequences(api, owner, range=window, asc=True) == seqs(log, 2, 3)
    assert await sequences(api, owner, range={"since": log[4]["creationDate"]}) == seqs(log, 5, 4)


async def test_snake_case_field_names_are_accepted(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    writer_id = log[2]["editor"]["userId"]

    assert await sequences(api, owner, event_types=["user.removed"]) == seqs(log, 3)
    assert await sequences(api, owner, aggregate_id="o-1") == seqs(log, 5, 1)
    assert await sequences(api, owner, aggregate_types=["project"]) == seqs(log, 4)
    assert await sequences(api, owner, editor_user_id=writer_id) == seqs(log, 4, 2)
    assert await sequences(api, owner, resource_owner="org-other") == seqs(log, 4, 1)
    at = log[1]["creationDate"]
    assert await sequences(api, owner, creation_date=at) == seqs(log, 0)


async def test_unknown_fields_are_ignored(api: httpx.AsyncClient, owner: Headers, log: Log) -> None:
    found = await sequences(api, owner, aggregateId="u-2", query={"x": 1}, sortingColumn=3)

    assert found == seqs(log, 2)


async def test_an_empty_body_lists_everything(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    response = await api.post("/admin/v1/events/_search", headers=owner)

    assert response.status_code == 200, response.text
    assert [e["sequence"] for e in response.json()["events"]] == seqs(log, 5, 4, 3, 2, 1, 0)


async def test_an_empty_log_answers_an_empty_list(api: httpx.AsyncClient, owner: Headers) -> None:
    response = await api.post("/admin/v1/events/_search", headers=owner, json={})

    assert response.status_code == 200
    assert response.json() == {}, "protojson leaves an empty list out"


async def test_a_limit_above_zitadels_cap_is_cut_to_it_not_refused(
    api: httpx.AsyncClient, owner: Headers, log: Log, chronik: Chronik
) -> None:
    above = chronik.settings.search_max_limit + 1

    response = await api.post("/admin/v1/events/_search", headers=owner, json={"limit": above})

    assert response.status_code == 200, response.text
    assert len(response.json()["events"]) == len(log)


async def test_oversized_filters_are_refused(api: httpx.AsyncClient, owner: Headers) -> None:
    for field, allowed, refused in [
        ("eventTypes", [f"t{i}" for i in range(30)], [f"t{i}" for i in range(31)]),
        ("aggregateTypes", [f"a{i}" for i in range(10)], [f"a{i}" for i in range(11)]),
        ("aggregateId", "x" * 200, "x" * 201),
        ("editorUserId", "x" * 200, "x" * 201),
        ("resourceOwner", "x" * 200, "x" * 201),
        ("eventTypes", ["x" * 200], ["x" * 201]),
        ("aggregateTypes", ["x" * 200], ["x" * 201]),
    ]:
        ok = await api.post("/admin/v1/events/_search", headers=owner, json={field: allowed})
        too_much = await api.post("/admin/v1/events/_search", headers=owner, json={field: refused})
        assert ok.status_code == 200, (field, ok.text)
        surface_error("zitadel", too_much, 400, field)


async def test_range_and_from_win_over_the_deprecated_creation_date(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    _dates_increase(log)
    since, later = log[4]["creationDate"], log[1]["creationDate"]

    with_range = await sequences(api, owner, creationDate=later, range={"since": since})
    with_from = await sequences(api, owner, creationDate=later, asc=True, **{"from": since})

    assert with_range == seqs(log, 5, 4)
    assert with_from == seqs(log, 5)


async def test_german_is_answered_to_accept_language_de(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    await append(api, owner, new_event("user", "u-1", "user.human.added"))

    [found] = await search(api, {**owner, "Accept-Language": "de-CH, en;q=0.5"})

    assert found["aggregate"]["type"]["localized"]["localizedMessage"] == "Benutzer"
    assert found["type"]["localized"]["localizedMessage"] == "Person hinzugefügt"


async def test_an_unknown_language_falls_back_to_english(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    await append(api, owner, new_event("user", "u-1", "user.removed"))

    [found] = await search(api, {**owner, "Accept-Language": "fr"})

    assert found["aggregate"]["type"]["localized"]["localizedMessage"] == "User"
    assert found["type"]["localized"]["localizedMessage"] == "User removed"


async def test_the_event_type_catalogue_lists_the_types_in_use_localized(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    response = await api.post(
        "/admin/v1/events/types/_search", headers={**owner, "Accept-Language": "de"}, json={}
    )

    assert response.status_code == 200, response.text
    listed = {t["type"]: t["localized"] for t in response.json()["eventTypes"]}
    assert set(listed) == {e["type"] for e in log}
    assert listed["user.human.added"] == {
        "key": "EventTypes.user.human.added",
        "localizedMessage": "Person hinzugefügt",
    }
    assert listed["project.added"]["localizedMessage"] == "Project added"


async def test_the_aggregate_type_catalogue_lists_the_types_in_use_localized(
    api: httpx.AsyncClient, owner: Headers, log: Log
) -> None:
    response = await api.post(
        "/admin/v1/aggregates/types/_search", headers={**owner, "Accept-Language": "de"}, json={}
    )

    assert response.status_code == 200, response.text
    listed = {t["type"]: t["localized"] for t in response.json()["aggregateTypes"]}
    assert set(listed) == {"user", "org", "project"}
    assert listed["user"] == {"key": "AggregateTypes.user", "localizedMessage": "Benutzer"}
    assert listed["org"]["localizedMessage"] == "Organisation"


async def test_the_catalogues_of_an_empty_log_are_empty(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    events = await api.post("/admin/v1/events/types/_search", headers=owner)
    aggregates = await api.post("/admin/v1/aggregates/types/_search", headers=owner, json={})

    assert events.status_code == aggregates.status_code == 200
    assert events.json() == aggregates.json() == {}, "protojson leaves an empty list out"
