"""The console's actions, runs and flows pages as HTML, on both backends: ListActions'
filters, a script's syntax errors at their line before anything is saved, test runs with
their outcome and logs, the runs an action left, flows, and the refusals (stale forms,
read-only roles, other tenants, tokens without the actions permissions)."""

from __future__ import annotations

import re

import httpx
import pytest

from chronik.actions import Action, ActionQuery
from chronik.errors import NotFound
from chronik.records import NewEvent
from chronik.services import Chronik
from tests.api.helpers import ORG, Headers
from tests.api.test_console import csrf, signed_in

GREET = "function greet(ctx, api) {\n  log.info('greeting ' + ctx.event.type)\n}"
BROKEN = "function greet(ctx, api) {\n  let x = ;\n}"
THROWS = "function greet(ctx, api) {\n  log.warn('about to throw')\n  throw new Error('boom')\n}"
EVENTS, PRE = "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND"


@pytest.fixture
async def greet(chronik: Chronik, tenant: str) -> Action:
    return await chronik.actions.create(tenant, ORG, name="greet", script=GREET, timeout=5)


def _form(page: httpx.Response, **fields: str) -> dict[str, str]:
    return {"csrf": csrf(page), "name": "greet", "timeout": "5", **fields}


async def test_actions_are_listed_and_found_by_listactions_filters(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    empty = await api.get("/console/actions")
    assert empty.status_code == 200 and "No actions yet." in empty.text
    made = [
        await chronik.actions.create(tenant, ORG, name=name, script=GREET)
        for name in ("greet", "GreetAgain", "audit")
    ]
    await chronik.actions.deactivate(tenant, ORG, made[2].id)
    listed = await api.get("/console/actions")
    assert '<span id="actions-total">3</span>' in listed.text
    assert all(f'href="/console/actions/{a.id}"' in listed.text for a in made)

    async def names(**params: str) -> list[str]:
        page = await api.get("/console/actions", params=params)
        assert page.status_code == 200, page.text
        return re.findall(r'<a href="/console/actions/[0-9A-Z]{26}">([^<]+)</a>', page.text)

    assert await names(name="greet") == ["greet", "GreetAgain"]  # contains, ignoring case
    assert await names(name="greet", method="EQUALS") == ["greet"]
    assert await names(state="INACTIVE") == ["audit"]
    assert await names(id=made[1].id) == ["GreetAgain"]
    assert await names(sort="NAME") == ["audit", "greet", "GreetAgain"]
    nothing = await api.get("/console/actions", params={"name": "nobody"})
    assert "No actions match." in nothing.text
    assert (await api.get("/console/actions", params={"state": "BROKEN"})).status_code == 400


async def test_the_check_reports_a_syntax_error_at_its_line_without_saving(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get(f"/console/actions/{greet.id}")
    form = _form(page, id=greet.id, script=BROKEN.replace("\n", "\r\n"))
    fragment = await api.post(
        "/console/actions/check",
        data=form,
        headers={"HX-Request": "true", "HX-Target": "check-result"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Line 2, column 11" in fragment.text
    assert '<span class="bad" data-line="2">   2 ▶   let x = ;</span>' in fragment.text
    whole = await api.post("/console/actions/check", data=form)  # without JavaScript
    assert "Line 2, column 11" in whole.text and "let x = ;\n}</textarea>" in whole.text
    fine = await api.post(
        "/console/actions/check",
        data={**form, "script": GREET},
        headers={"HX-Request": "true", "HX-Target": "check-result"},
    )
    assert "No syntax errors." in fine.text
    assert (await chronik.actions.get(tenant, ORG, greet.id)).version == greet.version


async def test_saving_a_script_with_a_syntax_error_is_refused_at_its_line(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get(f"/console/actions/{greet.id}")
    refused = await api.post(f"/console/actions/{greet.id}", data=_form(page, script=BROKEN))
    assert refused.status_code == 400
    assert "Line 2, column 11" in refused.text and 'data-line="2"' in refused.text
    assert "let x = ;\n}</textarea>" in refused.text  # what was typed is kept to fix
    assert (await chronik.actions.get(tenant, ORG, greet.id)).script == GREET
    created = await api.post("/console/actions/new", data=_form(page, name="b", script=BROKEN))
    assert created.status_code == 400 and "Line 2, column 11" in created.text
    assert (await chronik.actions.search(tenant, ORG, ActionQuery())).total == 1


async def test_a_saved_script_replaces_the_old_one_and_a_new_action_is_created(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get(f"/console/actions/{greet.id}")
    fixed = "function greet(ctx, api) {\r\n  log.info('hello')\r\n}"
    saved = await api.post(
        f"/console/actions/{greet.id}",
        data=_form(page, script=fixed, timeout="2.5", allowedToFail="on"),
    )
    assert saved.status_code == 303
    changed = await chronik.actions.get(tenant, ORG, greet.id)
    assert changed.script == fixed.replace("\r\n", "\n")  # as typed, with the browser's CRLF
    assert (changed.timeout, changed.allowed_to_fail) == (2.5, True)
    assert "Saved." in (await api.get(saved.headers["location"])).text
    created = await api.post("/console/actions/new", data=_form(page, name="other", script=GREET))
    assert created.status_code == 303
    new_id = created.headers["location"].rsplit("/", 1)[1]
    assert (await chronik.actions.get(tenant, ORG, new_id)).name == "other"


async def test_a_test_run_shows_its_outcome_and_the_lines_the_script_logged(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get(f"/console/actions/{greet.id}")
    ran = await api.post(
        f"/console/actions/{greet.id}/test",
        data={"csrf": csrf(page), "event": '{"type": "user.added"}'},
    )
    assert ran.status_code == 200
    assert '<strong id="test-outcome" class="ok">succeeded</strong>' in ran.text
    assert "info: greeting user.added" in ran.text
    stored = await chronik.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id="u-1", type="user.picked")]
    )
    picked = await api.post(
        f"/console/actions/{greet.id}/test",
        data={"csrf": csrf(page), "event": "", "locator": stored[0].locator},
    )
    assert "info: greeting user.picked" in picked.text
    await chronik.actions.update(tenant, ORG, greet.id, name="greet", script=THROWS)
    failed = await api.post(
        f"/console/actions/{greet.id}/test", data={"csrf": csrf(page), "event": "{}"}
    )
    assert 'class="attention">failed</strong>' in failed.text
    assert "Line 3, column" in failed.text and "warn: about to throw" in failed.text
    bad = await api.post(
        f"/console/actions/{greet.id}/test", data={"csrf": csrf(page), "event": "[1"}
    )
    assert bad.status_code == 400 and "not JSON" in bad.text
    assert await chronik.actions.runs(tenant) == []  # a test run leaves no record


async def test_the_runs_of_an_action_show_their_logs_and_the_overview_counts_failing_ones(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    flaky = await chronik.actions.create(
        tenant, ORG, name="greet", script=THROWS, allowed_to_fail=True
    )
    await chronik.actions.set_trigger(tenant, ORG, EVENTS, PRE, [flaky.id])
    await signed_in(api, owner)
    overview = await api.get("/console/overview")
    assert '<strong id="runs-failing" class="">0</strong>' in overview.text
    await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type="user", aggregate_id="u-1", type="user.added", resource_owner=ORG
            )
        ],
    )
    overview = await api.get("/console/overview")
    assert '<strong id="runs-failing" class="attention">1</strong>' in overview.text
    assert 'href="/console/action-runs?outcome=failing"' in overview.text
    for path in (f"/console/action-runs?action={flaky.id}", "/console/action-runs?outcome=failing"):
        runs = await api.get(path)
        assert runs.status_code == 200
        assert "Error: boom (line 3, column" in runs.text and "warn: about to throw" in runs.text
    none = await api.get("/console/action-runs?outcome=succeeded")
    assert "No runs." in none.text
    assert "warn: about to throw" in (await api.get(f"/console/actions/{flaky.id}")).text


async def test_flows_show_their_bound_actions_and_a_writer_sets_and_clears_them(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    flows = await api.get("/console/flows")
    assert flows.status_code == 200 and "Before an append" in flows.text
    assert "When a schedule fires" in flows.text
    other = await chronik.actions.create(tenant, ORG, name="audit", script=GREET)
    set_ = await api.post(
        f"/console/flows/{EVENTS}/triggers/{PRE}",
        data={"csrf": csrf(flows), "actions": "audit\r\ngreet", "eventTypes": "user.added, x"},
    )
    assert set_.status_code == 303
    binding = (await chronik.actions.flow(tenant, ORG, EVENTS)).triggers[PRE]
    assert binding.action_ids == (other.id, greet.id)
    assert binding.event_types == ("user.added", "x")
    shown = await api.get("/console/flows")
    assert re.search(r">audit</a>\s*→\s*<a[^>]*>greet</a>", shown.text)
    unknown = await api.post(
        f"/console/flows/{EVENTS}/triggers/{PRE}", data={"csrf": csrf(flows), "actions": "nobody"}
    )
    assert unknown.status_code == 400 and "there is no action &#39;nobody&#39;" in unknown.text
    confirm = await api.get(f"/console/flows/{EVENTS}/clear")
    assert "Clear the flow Events?" in confirm.text
    cleared = await api.post(f"/console/flows/{EVENTS}/clear", data={"csrf": csrf(flows)})
    assert cleared.status_code == 303
    assert (await chronik.actions.flow(tenant, ORG, EVENTS)).triggers == {}


async def test_deleting_asks_first_and_a_stale_form_changes_nothing(
    api: httpx.AsyncClient, owner: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get(f"/console/actions/{greet.id}")
    stale = {"csrf": "0" * 64}
    for path, data in (
        (f"/console/actions/{greet.id}", {**_form(page, script=GREET + "\n"), **stale}),
        (f"/console/actions/{greet.id}/deactivate", stale),
        (f"/console/actions/{greet.id}/delete", {}),
        (f"/console/flows/{EVENTS}/triggers/{PRE}", {**stale, "actions": "greet"}),
    ):
        refused = await api.post(path, data=data)
        assert refused.status_code == 403 and "stale or not ours" in refused.text
    assert await chronik.actions.get(tenant, ORG, greet.id) == greet
    assert (await chronik.actions.flow(tenant, ORG, EVENTS)).triggers == {}
    huge = _form(page, script=GREET + "\n//" + "{}" * 20_000)  # escaped, over what a form may be
    too_large = await api.post(f"/console/actions/{greet.id}", data=huge)
    assert too_large.status_code == 413 and "Management API" in too_large.text
    assert await chronik.actions.get(tenant, ORG, greet.id) == greet
    confirm = await api.get(f"/console/actions/{greet.id}/delete")
    assert "Delete the action greet?" in confirm.text
    off = await api.post(f"/console/actions/{greet.id}/deactivate", data={"csrf": csrf(page)})
    assert off.status_code == 303
    assert (await chronik.actions.get(tenant, ORG, greet.id)).state == "INACTIVE"
    deleted = await api.post(f"/console/actions/{greet.id}/delete", data={"csrf": csrf(page)})
    assert deleted.status_code == 303 and deleted.headers["location"].endswith("/console/actions")
    with pytest.raises(NotFound):
        await chronik.actions.get(tenant, ORG, greet.id)


async def test_a_read_only_role_sees_no_form_that_writes_and_cannot_post_one(
    api: httpx.AsyncClient, viewer: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, viewer)
    for path in (
        "/console/actions",
        f"/console/actions/{greet.id}",
        "/console/flows",
        "/console/action-runs",
    ):
        page = await api.get(path)
        assert page.status_code == 200, path
        assert page.text.count('method="post"') == 1, path  # signing out
        assert "Delete…" not in page.text and "Clear Events…" not in page.text
        assert "New action" not in page.text and "Run test" not in page.text
    shown = await api.get(f"/console/actions/{greet.id}")
    assert '<pre id="script" class="code">function greet' in shown.text
    for path in ("/console/actions/new", f"/console/actions/{greet.id}/delete"):
        assert (await api.get(path)).status_code == 403, path
    assert (await api.get(f"/console/flows/{EVENTS}/clear")).status_code == 403
    refused = await api.post(
        f"/console/actions/{greet.id}", data=_form(page, script=GREET + "\n// changed")
    )
    assert refused.status_code == 403 and "may not change" in refused.text
    assert await chronik.actions.get(tenant, ORG, greet.id) == greet


async def test_a_token_without_the_actions_permissions_is_refused(
    api: httpx.AsyncClient, reader: Headers, greet: Action
) -> None:
    await signed_in(api, reader)
    for path in ("/console/actions", f"/console/actions/{greet.id}", "/console/flows"):
        page = await api.get(path)
        assert page.status_code == 403, path
    assert 'href="/console/actions"' not in (await api.get("/console/overview")).text


async def test_another_tenants_action_is_not_found(
    api: httpx.AsyncClient, stranger: Headers, greet: Action, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, stranger)
    listed = await api.get("/console/actions")
    assert greet.id not in listed.text and "No actions yet." in listed.text
    for path in (
        f"/console/actions/{greet.id}",
        f"/console/actions/{greet.id}/delete",
        f"/console/action-runs?action={greet.id}",
    ):
        assert (await api.get(path)).status_code == 404, path
    for path in (f"/console/actions/{greet.id}", f"/console/actions/{greet.id}/test"):
        answer = await api.post(path, data=_form(listed, script=GREET + "\n", event="{}"))
        assert answer.status_code == 404, path
    deleted = await api.post(f"/console/actions/{greet.id}/delete", data={"csrf": csrf(listed)})
    assert deleted.status_code == 404
    assert await chronik.actions.get(tenant, ORG, greet.id) == greet
