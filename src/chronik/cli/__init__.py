"""The ``chronik`` command line: every command is assembled here, each group's commands
live in a module of their own, and what they share (database options, settings, error
handling) in :mod:`chronik.cli.context`.

Exit codes (docs/cli.md): 0 done, 1 refused by Chronik (a
:class:`~chronik.errors.ChronikError`, bad input data), 2 wrong usage of the command line or
a database that cannot be opened, 3 ``serve`` cannot listen on its address, 130 interrupted.

Help is click's plain format (typer's rich panels keep a docstring's line breaks and show
``<bool>`` beside every flag); every command takes ``-h`` as well as ``--help``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Annotated

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
    webhooks,
)

app = typer.Typer(
    name="chronik",
    help="An append-only, multi-tenant event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"chronik {version('chronik')}")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version of Chronik and exit.",
        ),
    ] = False,
) -> None:
    """An append-only, multi-tenant event log."""


def _summary(doc: str | None) -> str:
    """The first sentence of a command's help, whole: click would cut a long one short with
    '...' in the list of commands."""
    first = " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".") + "."


def _add(group: typer.Typer, command: Callable[..., None], name: str | None = None) -> None:
    group.command(name, short_help=_summary(command.__doc__))(command)


def _group(name: str, summary: str, commands: dict[str, Callable[..., None]]) -> typer.Typer:
    group = typer.Typer(help=summary, short_help=summary, no_args_is_help=True)
    for command_name, command in commands.items():
        _add(group, command, command_name)
    app.add_typer(group, name=name)
    return group


_add(app, migrate.migrate)
_add(app, serve.serve)
_add(app, views.worker)
_group(
    "events",
    "Append, search, follow, export and import events.",
    {
        "append": events.append,
        "search": events.search,
        "tail": events.tail,
        "export": transfer.export,
        "import": transfer.import_,
    },
)
_group(
    "tenants",
    "Create, list and move tenants.",
    {"create": tenants.create, "list": tenants.list_, "move": tenants.move},
)
_group(
    "tokens",
    "Create, list and revoke access tokens.",
    {"create": tokens.create, "list": tokens.list_, "revoke": tokens.revoke},
)
_group(
    "views",
    "List views, read their rows, reset, pause and resume them.",
    {
        "list": views.list_,
        "rows": views.rows,
        "reset": views.reset,
        "pause": views.pause,
        "resume": views.resume,
    },
)
_group(
    "failed",
    "List, retry and remove failed events.",
    {"list": views.failed_list, "retry": views.failed_retry, "remove": views.failed_remove},
)
_group(
    "schedules",
    "Create, list and manage schedules and failed jobs.",
    {
        "create": schedules.create,
        "list": schedules.list_,
        "show": schedules.show,
        "pause": schedules.pause,
        "resume": schedules.resume,
        "delete": schedules.delete,
        "failed": schedules.failed,
        "resume-failed": schedules.resume_failed,
        "delete-failed": schedules.delete_failed,
    },
)
_group(
    "webhooks",
    "Create, list, change and delete webhooks; resend or delete their diverted events.",
    {
        "create": webhooks.create,
        "list": webhooks.list_,
        "show": webhooks.show_,
        "update": webhooks.update,
        "unsuspend": webhooks.unsuspend,
        "delete": webhooks.delete,
        "diverted": webhooks.diverted,
        "resend": webhooks.resend,
        "delete-diverted": webhooks.delete_diverted,
    },
)
_group(
    "actions",
    "Create, change, test and delete actions; list them and their runs.",
    {
        "create": actions.create,
        "list": actions.list_,
        "update": actions.update,
        "deactivate": actions.deactivate,
        "reactivate": actions.reactivate,
        "delete": actions.delete,
        "runs": actions.runs,
        "test": actions.test,
    },
)
_group(
    "flows",
    "Bind actions to the triggers of flows, show and clear them.",
    {"set": flows.set_, "get": flows.get, "clear": flows.clear},
)


def main() -> None:
    app(prog_name="chronik")
