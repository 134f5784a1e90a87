"""The ``chronik`` command line: every command is assembled here, each group's commands
live in a module of their own, and what they share (database options, settings, error
handling) in :mod:`chronik.cli.context`.

Exit codes: 0 done, 1 refused by Chronik (a :class:`~chronik.errors.ChronikError`, bad
input data), 2 wrong usage of the command line.
"""

from __future__ import annotations

import typer

from chronik.cli import events, migrate, serve, tenants, tokens, transfer

app = typer.Typer(
    name="chronik",
    help="An append-only, multi-tenant event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command()(migrate.migrate)
app.command()(serve.serve)

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


def main() -> None:
    app(prog_name="chronik")
