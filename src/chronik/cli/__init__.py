"""The ``chronik`` command line: every command is assembled here, each group's commands
live in a module of their own, and what they share (database options, settings, error
handling) in :mod:`chronik.cli.context`.

Exit codes: 0 done, 1 refused by Chronik (a :class:`~chronik.errors.ChronikError`, bad
input data), 2 wrong usage of the command line.
"""

from __future__ import annotations

import typer

from chronik.cli import (
    actions,
    events,
    flows,
    migrate,
    schedules,
    serve,
    tenants,
    tokens,
    transfer,
    views,
)

app = typer.Typer(
    name="chronik",
    help="An append-only, multi-tenant event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command()(migrate.migrate)
app.command()(serve.serve)
app.command()(views.worker)

events_app = typer.Typer(
    help="Append, search, follow, export and import events.", no_args_is_help=True
)
events_app.command()(events.append)
events_app.command()(events.search)
events_app.command()(events.tail)
events_app.command()(transfer.export)
events_app.command("import")(transfer.import_)
app.add_typer(events_app, name="events")

tenants_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
tenants_app.command()(tenants.create)
tenants_app.command("list")(tenants.list_)
app.add_typer(tenants_app, name="tenants")

tokens_app = typer.Typer(help="Create, list and revoke access tokens.", no_args_is_help=True)
tokens_app.command()(tokens.create)
tokens_app.command("list")(tokens.list_)
tokens_app.command()(tokens.revoke)
app.add_typer(tokens_app, name="tokens")

views_app = typer.Typer(help="List, reset, pause and resume views.", no_args_is_help=True)
views_app.command("list")(views.list_)
views_app.command("reset")(views.reset)
views_app.command("pause")(views.pause)
views_app.command("resume")(views.resume)
app.add_typer(views_app, name="views")

failed_app = typer.Typer(help="List, retry and remove failed events.", no_args_is_help=True)
failed_app.command("list")(views.failed_list)
failed_app.command("retry")(views.failed_retry)
failed_app.command("remove")(views.failed_remove)
app.add_typer(failed_app, name="failed")

schedules_app = typer.Typer(
    help="Create, list and manage schedules and failed jobs.", no_args_is_help=True
)
schedules_app.command()(schedules.create)
schedules_app.command("list")(schedules.list_)
for _name in ("show", "pause", "resume", "delete", "failed"):
    schedules_app.command(_name)(getattr(schedules, _name))
schedules_app.command("resume-failed")(schedules.resume_failed)
schedules_app.command("delete-failed")(schedules.delete_failed)
app.add_typer(schedules_app, name="schedules")

actions_app = typer.Typer(
    help="Create, list, change, test and delete actions, and list their runs.",
    no_args_is_help=True,
)
actions_app.command()(actions.create)
actions_app.command("list")(actions.list_)
for _name in ("update", "deactivate", "reactivate", "delete", "runs", "test"):
    actions_app.command(_name)(getattr(actions, _name))
app.add_typer(actions_app, name="actions")

flows_app = typer.Typer(
    help="Bind actions to the triggers of flows, show and clear them.", no_args_is_help=True
)
flows_app.command("set")(flows.set_)
flows_app.command()(flows.get)
flows_app.command()(flows.clear)
app.add_typer(flows_app, name="flows")


def main() -> None:
    app(prog_name="chronik")
