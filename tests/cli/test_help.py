"""What ``chronik --help`` (and ``-h``) of every command shows a person: whole paragraphs
wrapped to the terminal, no type labels such as ``<bool>`` beside flags, no reStructuredText
markup from docstrings, a line of help for every option; and ``--version``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chronik.cli import app
from tests.cli.conftest import ENV, TIMEOUT

WIDTH = 78
"""click's help width on an 80-column terminal."""

_MARKUP = re.compile(r"``|:(class|mod|func|meth|data|attr|exc):`")
_HELP_COLUMN = re.compile(r"^ {2}\S.*?\s{2,}(?=\S)")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _help(path: tuple[str, ...], flag: str = "--help") -> str:
    result = CliRunner().invoke(app, [*path, flag], prog_name="chronik", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def _ragged(text: str) -> list[str]:
    """Lines broken before the terminal's edge in the middle of a paragraph or of an
    option's help: the next word would have fitted."""
    found = []
    section = ""
    for line, following in zip(text.splitlines(), text.splitlines()[1:], strict=False):
        if line and not line[0].isspace():
            section = line
        if not line.strip() or not following.strip() or not following[0].isspace():
            continue
        indent = len(following) - len(following.lstrip())
        if section.startswith("Usage:"):
            continues = indent == 2  # the command's description: paragraphs at indent 2
        else:
            start = _HELP_COLUMN.match(line)
            column = start.end() if start else len(line) - len(line.lstrip())
            continues = indent > 2 and indent == column
        if continues and len(line) + 1 + len(following.split()[0]) <= WIDTH:
            found.append(line)
    return found


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "chronik")
def test_help_reads_as_prose_without_type_labels_or_markup(path: tuple[str, ...]) -> None:
    shown = _help(path)
    usage = shown.splitlines()[0]
    assert usage.startswith(f"Usage: chronik {' '.join(path)}".rstrip())
    assert not re.search("[a-z]", usage.partition("[OPTIONS]")[2])  # FILE, NAME: not name
    assert "<bool>" not in shown
    assert not _MARKUP.search(shown), shown
    assert _ragged(shown) == [], shown


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "chronik")
def test_dash_h_is_help_too(path: tuple[str, ...]) -> None:
    assert _help(path, "-h") == _help(path)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "chronik")
def test_every_option_says_what_it_is_for(path: tuple[str, ...]) -> None:
    silent = [
        param.opts
        for param in COMMANDS[path].params
        if param.param_type_name == "option" and not (param.help or "").strip()
    ]
    assert silent == []


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chronik", "--version"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=TIMEOUT,
        check=True,
    )
    assert done.stdout == f"chronik {version('chronik')}\n"
