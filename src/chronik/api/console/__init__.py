"""The console under ``/console/``: server-rendered pages for operators over the same
services as the APIs, with the same permissions.

A session is the caller's Chronik token in an HttpOnly, SameSite=Strict cookie scoped to
``/console``, checked on every request as a bearer token is; every form that changes
something carries a CSRF token (an HMAC of the session under a secret the database keeps,
so every node agrees), and a POST without the right one is refused with 403 before anything
is read. Pages show only what the token's roles allow: a role that cannot write sees no form
that writes. The pages work without JavaScript; htmx (shipped in the package) only makes
links and forms swap the page in place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.auth.permissions import ROLES
from chronik.auth.principal import Principal
from chronik.errors import ChronikError, NotFound, Unauthenticated
from chronik.events.shapes import timestamp
from chronik.records import EventQuery
from chronik.views import ViewStatus

PREFIX = "/console"
OWNER = "IAM_OWNER"
COOKIE = "chronik_console"
_FORM_BYTES = 64 * 1024
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("chronik.api.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Can:
    """What the caller's roles allow the pages to show."""

    views: bool
    write: bool
    """Act on views (``iam.write``)."""
    jobs: bool = False
    jobs_write: bool = False
    """Act on schedules' failed jobs (``events.write``, as the schedules API)."""
    tokens: bool = False
    """Manage the tenant's tokens (the ``IAM_OWNER`` role, as the tokens API)."""

    @classmethod
    def of(cls, caller: Principal) -> Can:
        granted = caller.permissions
        return cls(
            views=p.IAM_READ in granted,
            write=p.IAM_WRITE in granted,
            jobs=p.EVENTS_READ in granted,
            jobs_write=p.EVENTS_WRITE in granted,
            tokens=OWNER in caller.roles,
        )


@dataclass(frozen=True, slots=True)
class Session:
    caller: Principal
    token: str
    csrf: str


def install(app: FastAPI) -> None:
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(packages=[("chronik.api.console", "static")]),
        name="console-static",
    )
    app.include_router(router)


async def _csrf(request: Request, token: str) -> str:
    key = await services(request).db.secret("console-csrf")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


async def _session(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        caller = await services(request).authenticator.authenticate(f"Bearer {token}")
    except Unauthenticated:
        return None
    return Session(caller, token, await _csrf(request, token))


def _page(
    request: Request,
    template: str,
    title: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> Response:
    response = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "root": request.scope.get("root_path", ""),
            "caller": session.caller if session else None,
            "csrf": session.csrf if session else "",
            "can": Can.of(session.caller) if session else Can(False, False),
            **context,
        },
        status_code=status,
    )
    response.headers.update(_HEADERS)
    return response


def _to(request: Request, path: str) -> RedirectResponse:
    response = RedirectResponse(f"{request.scope.get('root_path', '')}{PREFIX}{path}", 303)
    response.headers.update(_HEADERS)
    return response


def _message(request: Request, session: Session | None, status: int, message: str) -> Response:
    return _page(
        request,
        "message.html",
        "Refused" if status >= 400 else "Done",
        session,
        status,
        message=message,
        problem=status >= 400,
    )


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the console's only kind), at most 64 KiB."""
    body = await request.body()
    if len(body) > _FORM_BYTES:
        return {}
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {name: values[0] for name, values in parsed.items()}


async def _writer(
    request: Request, permission: str = p.IAM_WRITE
) -> tuple[Session | None, dict[str, str], Response | None]:
    """The session and form of a POST that may change something: signed in, with the right
    CSRF token, holding ``permission``; else the answer that refuses it (nothing done)."""
    session = await _session(request)
    if session is None:
        return None, {}, _to(request, "/sign-in")
    form = await _form(request)
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        stale = "This form is stale or not ours: reload the page and try again."
        return None, form, _message(request, session, 403, stale)
    if permission not in session.caller.permissions:
        return None, form, _message(request, session, 403, "Your token may not change this.")
    return session, form, None


# -- signing in and out ------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    return _to(request, "/overview" if await _session(request) else "/sign-in")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _page(request, "sign_in.html", "Sign in", None, problem="")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    token = (await _form(request)).get("token", "").strip()
    try:
        await services(request).authenticator.authenticate(f"Bearer {token}")
    except Unauthenticated:
        return _page(
            request,
            "sign_in.html",
            "Sign in",
            None,
            401,
            problem="That token is not valid (or no longer).",
        )
    response = _to(request, "/overview")
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = await _session(request)
    form = await _form(request)
    if session is not None and not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        return _message(request, session, 403, "This form is stale or not ours.")
    response = _to(request, "/sign-in")
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


# -- pages -------------------------------------------------------------------------------------


def _view(status: ViewStatus) -> dict[str, Any]:
    return {
        "name": status.state.view,
        "database": status.state.database,
        "position": status.state.position,
        "lag": status.lag,
        "failed": status.failed,
        "state": status.activity,
    }


@router.get("/overview")
async def overview(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    can = Can.of(session.caller)
    tenant = session.caller.tenant_id
    views: list[dict[str, Any]] = []
    if can.views:
        statuses = await services(request).views.statuses(tenant)
        views = [_view(s) for s in statuses]
        views.sort(key=lambda v: (-v["failed"], -v["lag"], v["name"]))
    jobs = {"quit": 0, "queued": 0}
    if can.jobs:
        for state in jobs:
            found = await services(request).schedules.failed_jobs(tenant, state=state, count=1000)
            jobs[state] = len(found)
    hooks: list[dict[str, Any]] = []
    if p.WEBHOOKS_READ in session.caller.permissions:
        webhooks = services(request).webhooks
        listed, _ = await webhooks.find(tenant, count=100)
        for hook in listed:
            status = await webhooks.status(tenant, hook.locator)
            state = "suspended" if hook.suspended_at else "enabled"
            hooks.append(
                {
                    "name": hook.definition.name,
                    "locator": hook.locator,
                    "diverted": status.diverted,
                    "lag": status.lag,
                    "state": state if hook.definition.enabled else "disabled",
                }
            )
    return _page(
        request,
        "overview.html",
        "Overview",
        session,
        hooks=hooks,
        views=views,
        failed_total=sum(v["failed"] for v in views),
        jobs_quit=jobs["quit"],
        jobs_queued=jobs["queued"],
    )


async def _reader(request: Request) -> tuple[Session | None, Response | None]:
    session = await _session(request)
    if session is None:
        return None, _to(request, "/sign-in")
    if not Can.of(session.caller).views:
        return None, _message(request, session, 403, "Your token may not see views.")
    return session, None


@router.get("/views")
async def views_page(request: Request) -> Response:
    session, refused = await _reader(request)
    if session is None:
        return refused  # type: ignore[return-value]
    statuses = await services(request).views.statuses(session.caller.tenant_id)
    return _page(request, "views.html", "Views", session, views=[_view(s) for s in statuses])


@router.get("/views/{view}/failed")
async def failed_page(request: Request, view: str) -> Response:
    session, refused = await _reader(request)
    if session is None:
        return refused  # type: ignore[return-value]
    views = services(request).views
    tenant = session.caller.tenant_id
    if view not in {s.state.view for s in await views.statuses(tenant)}:
        return _message(request, session, 404, f"There is no view {view!r}.")
    failed = [
        {
            "sequence": f.sequence,
            "failure_count": f.failure_count,
            "error": f.error,
            "last_failed": timestamp(f.last_failed),
            "retry_at": timestamp(f.retry_at) if f.retry_at else None,
        }
        for f in await views.all_failed(tenant, view=view)
    ]
    return _page(
        request, "failed.html", f"Failed events of {view}", session, view=view, failed=failed
    )


def _confirm(
    request: Request, session: Session, view: str, question: str, action: str, button: str
) -> Response:
    root = request.scope.get("root_path", "")
    quoted = urllib.parse.quote(view, safe="")
    return _page(
        request,
        "confirm.html",
        "Confirm",
        session,
        question=question,
        action=f"{root}{PREFIX}/views/{quoted}/{action}",
        button=button,
        back=f"{root}{PREFIX}/views/{quoted}/failed",
    )


@router.get("/views/{view}/retry-all")
async def retry_all_page(request: Request, view: str) -> Response:
    session, refused = await _reader(request)
    if session is None:
        return refused  # type: ignore[return-value]
    count = len(await services(request).views.all_failed(session.caller.tenant_id, view=view))
    return _confirm(
        request,
        session,
        view,
        f"Retry all {count} failed events of {view} now?",
        "retry-all",
        f"Retry {count}",
    )


@router.get("/views/{view}/reset")
async def reset_page(request: Request, view: str) -> Response:
    session, refused = await _reader(request)
    if session is None:
        return refused  # type: ignore[return-value]
    return _confirm(
        request,
        session,
        view,
        f"Rebuild {view} from the first event? Its rows and failed events are cleared.",
        "reset",
        "Reset",
    )


async def _act(request: Request, view: str, sequence: int | None, what: str) -> Response:
    session, _, refused = await _writer(request)
    if session is None:
        return refused  # type: ignore[return-value]
    views = services(request).views
    tenant = session.caller.tenant_id
    quoted = urllib.parse.quote(view, safe="")
    try:
        if what == "retry":
            await views.retry(tenant, view, sequence)
        elif what == "remove":
            assert sequence is not None
            await views.remove_failed(tenant, view, sequence)
        elif what == "pause":
            await views.pause(tenant, view)
            return _to(request, "/views")
        elif what == "resume":
            await views.resume(tenant, view)
            return _to(request, "/views")
        elif what == "reset":
            await views.reset(tenant, view)
            return _to(request, "/views")
    except NotFound as exc:
        return _message(request, session, 404, exc.message)
    except ChronikError as exc:
        return _message(request, session, exc.http_status, exc.message)
    return _to(request, f"/views/{quoted}/failed")


@router.post("/views/{view}/failed/{sequence}/retry")
async def retry_one(request: Request, view: str, sequence: int) -> Response:
    return await _act(request, view, sequence, "retry")


@router.post("/views/{view}/failed/{sequence}/remove")
async def remove_one(request: Request, view: str, sequence: int) -> Response:
    return await _act(request, view, sequence, "remove")


@router.post("/views/{view}/retry-all")
async def retry_all(request: Request, view: str) -> Response:
    return await _act(request, view, None, "retry")


@router.post("/views/{view}/{what}")
async def view_action(request: Request, view: str, what: str) -> Response:
    if what not in ("pause", "resume", "reset"):
        return _message(request, await _session(request), 404, "No such action.")
    return await _act(request, view, None, what)


# -- schedules' failed jobs ----------------------------------------------------------------------


@router.get("/jobs")
async def jobs_page(request: Request, state: str | None = None) -> Response:
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return _message(request, session, 403, "Your token may not see schedules.")
    if state not in (None, "quit", "queued"):
        return _message(request, session, 400, "A failed job's state is quit or queued.")
    found = await services(request).schedules.failed_jobs(
        session.caller.tenant_id, state=state, count=1000
    )
    jobs = [
        {
            "group": j.group,
            "name": j.name,
            "state": j.state,
            "failure_count": j.failure_count,
            "error": j.error,
            "updated_at": timestamp(j.updated_at),
        }
        for j in found
    ]
    title = {"quit": "Quit jobs", "queued": "Queued jobs"}.get(state or "", "Failed jobs")
    return _page(request, "jobs.html", title, session, jobs=jobs)


@router.post("/jobs/{what}")
async def job_action(request: Request, what: str) -> Response:
    session, form, refused = await _writer(request, p.EVENTS_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    schedules = services(request).schedules
    group, name = form.get("group", ""), form.get("name", "")
    try:
        if what == "resume":
            await schedules.resume_failed(session.caller.tenant_id, group, name)
        elif what == "delete":
            await schedules.delete_failed(session.caller.tenant_id, group, name)
        else:
            return _message(request, session, 404, "No such action.")
    except ChronikError as exc:
        return _message(request, session, exc.http_status, exc.message)
    return _to(request, "/jobs")


# -- events --------------------------------------------------------------------------------------

_FILTERS = ("eventTypes", "aggregateTypes", "aggregateId", "editorUserId", "resourceOwner")


def _listed(text: str) -> tuple[str, ...]:
    return tuple(t for t in (part.strip() for part in text.split(",")) if t)


@router.get("/events")
async def events_page(request: Request) -> Response:
    """A search with ListEvents' filters, newest first; "older" pages follow the paging
    token, so a page never expires and its time does not grow with depth."""
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return _message(request, session, 403, "Your token may not read events.")
    params = request.query_params
    filters = {name: params.get(name, "")[:1000] for name in _FILTERS}
    log = services(request).events
    tenant = session.caller.tenant_id
    problem = ""
    try:
        token = params.get("page", "")
        if token:
            page = await log.next_page(tenant, token)
        else:
            page = await log.search(
                tenant,
                EventQuery(
                    limit=50,
                    event_types=_listed(filters["eventTypes"]),
                    aggregate_types=_listed(filters["aggregateTypes"]),
                    aggregate_id=filters["aggregateId"].strip(),
                    editor_user_id=filters["editorUserId"].strip(),
                    resource_owner=filters["resourceOwner"].strip(),
                ),
            )
        found, following = page.events, page.paging_token if page.events else ""
    except ChronikError as exc:
        found, following, problem = [], "", exc.message
    events = [
        {
            "sequence": e.sequence,
            "locator": e.locator,
            "type": e.type,
            "aggregate_type": e.aggregate_type,
            "aggregate_id": e.aggregate_id,
            "aggregate_version": e.aggregate_version,
            "created": timestamp(e.created_at),
            "editor": e.editor_user_id,
        }
        for e in found
    ]
    status = 400 if problem else 200
    return _page(
        request,
        "events.html",
        "Events",
        session,
        status,
        events=events,
        filters=filters,
        next=following if len(found) == 50 else "",
        problem=problem,
    )


@router.get("/events/{locator}")
async def event_page(request: Request, locator: str) -> Response:
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return _message(request, session, 403, "Your token may not read events.")
    log = services(request).events
    tenant = session.caller.tenant_id
    try:
        event = await log.get(tenant, locator)
    except ChronikError:
        return _message(request, session, 404, f"There is no event {locator!r}.")
    return _page(
        request,
        "event.html",
        f"Event {event.sequence}",
        session,
        e=event,
        created=timestamp(event.created_at),
        payload=json.dumps(event.payload, indent=2, ensure_ascii=False),
        metadata=json.dumps(event.metadata, indent=2, ensure_ascii=False) if event.metadata else "",
        request_events=await log.of_request(tenant, event.request_id),
    )


# -- tokens --------------------------------------------------------------------------------------


async def _tokens_page(
    request: Request, session: Session, *, issued: str = "", problem: str = "", status: int = 200
) -> Response:
    records = await services(request).tokens.list(session.caller.tenant_id)
    tokens = [
        {
            "id": r.id,
            "name": r.name,
            "roles": list(r.roles),
            "created": timestamp(r.created_at),
            "revoked": timestamp(r.revoked_at) if r.revoked_at else "",
        }
        for r in records
    ]
    return _page(
        request,
        "tokens.html",
        "Tokens",
        session,
        status,
        tokens=tokens,
        roles=sorted(ROLES),
        issued=issued,
        problem=problem,
    )


@router.get("/tokens")
async def tokens_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    if not Can.of(session.caller).tokens:
        return _message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    return await _tokens_page(request, session)


@router.post("/tokens/issue")
async def issue_token(request: Request) -> Response:
    session, form, refused = await _writer(request, p.IAM_READ)
    if session is None:
        return refused  # type: ignore[return-value]
    if OWNER not in session.caller.roles:
        return _message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    name, role = form.get("name", "").strip(), form.get("role", "")
    if not 1 <= len(name) <= 200 or role not in ROLES:
        problem = "A token needs a name (1 to 200 characters) and one of the roles."
        return await _tokens_page(request, session, problem=problem, status=400)
    _, bearer = await services(request).tokens.issue(
        session.caller.tenant_id,
        [role],
        name=name,
        organisation_id=session.caller.organisation_id,
    )
    return await _tokens_page(request, session, issued=bearer)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    session, _, refused = await _writer(request, p.IAM_READ)
    if session is None:
        return refused  # type: ignore[return-value]
    if OWNER not in session.caller.roles:
        return _message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    try:
        await services(request).tokens.revoke(session.caller.tenant_id, token_id)
    except ChronikError as exc:
        return _message(request, session, exc.http_status, exc.message)
    return _to(request, "/tokens")


# -- webhooks' diverted events -----------------------------------------------------------------


@router.get("/webhooks/{locator}/diverted")
async def diverted_page(request: Request, locator: str) -> Response:
    session = await _session(request)
    if session is None:
        return _to(request, "/sign-in")
    granted = session.caller.permissions
    if p.DIVERTED_LIST not in granted or p.DIVERTED_READ not in granted:
        return _message(request, session, 403, "Your token may not see diverted events.")
    webhooks = services(request).webhooks
    try:
        hook = await webhooks.get(session.caller.tenant_id, locator)
        found = await webhooks.diverted(session.caller.tenant_id, locator, count=1000)
    except ChronikError as exc:
        return _message(request, session, exc.http_status, exc.message)
    diverted = [
        {
            "event_locator": d.event_locator,
            "sequence": d.sequence,
            "failure_trigger": d.failure_trigger,
            "failure_count": d.failure_count,
            "failure_message": d.failure_message,
            "failed": timestamp(d.failure_timestamp),
        }
        for d in found
    ]
    return _page(
        request,
        "diverted.html",
        f"Diverted events of {hook.definition.name}",
        session,
        locator=locator,
        diverted=diverted,
        can_resend=p.DIVERTED_RESEND in granted,
        can_delete=p.DIVERTED_DELETE in granted,
    )


@router.post("/webhooks/{locator}/diverted/{event_locator}/{what}")
async def diverted_action(
    request: Request, locator: str, event_locator: str, what: str
) -> Response:
    needed = {"resend": p.DIVERTED_RESEND, "delete": p.DIVERTED_DELETE}.get(what)
    if needed is None:
        return _message(request, await _session(request), 404, "No such action.")
    session, _, refused = await _writer(request, needed)
    if session is None:
        return refused  # type: ignore[return-value]
    webhooks = services(request).webhooks
    try:
        if what == "resend":
            await webhooks.resend(session.caller.tenant_id, locator, event_locator)
        else:
            await webhooks.delete_diverted(session.caller.tenant_id, locator, event_locator)
    except ChronikError as exc:
        return _message(request, session, exc.http_status, exc.message)
    return _to(request, f"/webhooks/{locator}/diverted")
