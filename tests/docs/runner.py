"""Runs the shell and Python blocks of a document as a reader would, in order.

What runs: every fenced block whose language is ``sh``, ``bash``, ``shell``, ``console`` or
``python``, in README.md and docs/**/*.md. Every such block without a marker must run and
succeed. Each document runs in a fresh temporary directory (its working directory) with:

- its own ``chronik serve`` on a free port, started before the first block, with its data in
  ``./chronik-data`` (so ``TOKEN=$(cat chronik-data/bootstrap-token)`` works), unless the
  document starts its own (``server`` below). ``127.0.0.1:8080`` and ``localhost:8080`` in
  blocks and shown output are rewritten to that port, and ``chronik serve`` gets
  ``--port PORT`` added when it has no ``--port``;
- the installed ``chronik`` command (the one beside this test's interpreter, first on
  ``PATH``), no ``CHRONIK_*`` setting of the developer's, and SQLite;
- a copy of the repository's ``examples/`` (``--views examples/user_counts.py:views``);
- one shell state: the shell blocks run in bash with ``set -eo pipefail``, one after the
  other; their variables, functions and working directory carry over to the next block
  (``TOKEN=$(...)`` in one block, ``$TOKEN`` in a later one). ``curl`` runs with
  ``--fail-with-body``, so an HTTP error status fails the block (its body is still shown);
- Python blocks run, each as a whole program, by this test's interpreter (``python -c``,
  working directory as above).

A ``console`` block is a terminal session: ``$ command`` lines (continued by a trailing
``\\`` or a next line starting with ``> ``) run one by one; the lines after a command, up
to the next ``$``, are its shown output and are compared with what it printed (stdout and
stderr) when there are any. A block stops at its first failing command, and a document at
its first failing block; differences of output are all reported at the end.

Comparison (:mod:`tests.docs.output`): ids, times, durations, tokens and decimal fractions
are placeholders, blanks are collapsed; ``…`` (or ``...``) alone on a line stands for any
lines, inside a line for any text; JSON is compared as values (``"…"`` is any value, a
``"…": "…"`` member any further members, a last ``"…"`` item any further items).

Markers are HTML comments, invisible on GitHub, each alone on a line directly before the
opening fence (blank lines between are fine; several markers may stack):

``<!-- doc-test: skip — reason -->``
    The block is not run. The reason is mandatory (``—``, ``-`` or ``:`` before it is
    optional) and is listed in the test's output.
``<!-- doc-test: server -->``
    The block starts Chronik's server: it runs in the background (each command of a console
    block) and the next block waits until ``/healthz`` answers on the port. A document with
    such a block gets no server of the runner's. A later ``server`` block stops the servers
    started before it first, as a reader would (Ctrl-C) to restart with other options.
``<!-- doc-test: background -->``
    The block runs in the background until the document ends (``chronik events tail``);
    its output is not compared.
``<!-- doc-test: background until COMMAND -->``
    The same, and the next block waits until COMMAND (a shell command, in the document's
    shell state) succeeds, tried every 0.1 s for at most ``START_SECONDS``: a readiness
    probe for what the block starts, such as
    ``curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:8080/v1/views/user_counts/rows``.
``<!-- doc-test: file PATH -->``
    The block (any language: a script, a view, a TOML file) is written to PATH, relative to
    the working directory, and not run.
``<!-- doc-test: output -->``
    The block (``json``, ``text``…) is the output of the block that ran just before it,
    compared as above.
``<!-- doc-test: no-compare — reason -->``
    The block runs, but the output it shows is not compared (it is an illustration).
``<!-- doc-test: fails -->``
    The block must fail (a console block: its last command; the others must succeed): an
    example of an error.

Unknown markers, a skip without a reason and a marker not before a block fail the document.
Each command may take at most ``COMMAND_SECONDS``: one that runs until stopped needs
``background`` or ``server``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.acceptance.server import child_env, free_port
from tests.docs.markdown import CONSOLE, PYTHON, Block, MarkerError, blocks
from tests.docs.output import difference

COMMAND_SECONDS = 30.0
START_SECONDS = 20.0
STOP_SECONDS = 10.0
SERVERS = frozenset({"serve", "server"})
"""The runner's own server, and those of ``server`` blocks."""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

_ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):8080\b")
_SERVE = re.compile(r"\bchronik serve\b(?![^\n]*--port)")
_SAVE_STATE = r"""
set +eo pipefail
for __doc_name in $(compgen -v); do
  case $__doc_name in
    BASH*|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SRANDOM|SECONDS|EPOCH*|_|PPID|SHLVL|PWD|OLDPWD|\
    HISTCMD|GROUPS|DIRSTACK|SHELLOPTS|UID|EUID|__doc_*) ;;
    *) declare -p "$__doc_name" ;;
  esac
done > "$__doc_state"
declare -f >> "$__doc_state"
printf 'cd %q\n' "$PWD" >> "$__doc_state"
"""


@dataclass(frozen=True)
class Command:
    text: str
    shown: str
    """The output the document shows after it ('' when it shows none)."""


@dataclass(frozen=True)
class Background:
    """A process left running by a block (``kind`` background or server) or by the runner."""

    process: subprocess.Popen[bytes]
    log: Path
    kind: str


@dataclass
class Report:
    """What happened to each block, and every problem found."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def console_commands(text: str) -> list[Command]:
    """The ``$`` commands of a console block, each with the output shown after it."""
    commands: list[Command] = []
    current: list[str] = []
    shown: list[str] = []
    continued = False
    for line in text.splitlines():
        if line.startswith("$ ") or line == "$":
            if current:
                commands.append(Command("\n".join(current), "\n".join(shown)))
            current, shown = [line[2:]], []
        elif current and (continued or line.startswith("> ")) and not shown:
            current.append(line if continued else line[2:])
        elif current:
            shown.append(line)
        continued = bool(current) and not shown and current[-1].endswith("\\")
    if current:
        commands.append(Command("\n".join(current), "\n".join(shown)))
    return commands


class DocumentRun:
    """One document's blocks, run in ``work`` (the reader's directory) with the runner's own
    files (scripts, shell state, logs) kept apart in ``runner``."""

    def __init__(self, document: Path, root: Path) -> None:
        self.document = document
        self.work = root / "work"
        self.runner = root / "runner"
        shutil.copytree(
            EXAMPLES, self.work / "examples", ignore=shutil.ignore_patterns("__pycache__")
        )
        self.runner.mkdir(parents=True)
        self.port = free_port()
        bindir = str(Path(sys.executable).parent)
        self.env = child_env({"PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"})
        self.state = self.runner / "state.sh"
        self.state.write_text(f"cd {shlex.quote(str(self.work))}\n")
        self.processes: list[Background] = []
        self.report = Report()
        self.last_output: str | None = None
        self.await_server = False
        self.await_probe = ""
        self._scripts = 0

    def rewrite(self, text: str) -> str:
        text = _ADDRESS.sub(f"127.0.0.1:{self.port}", text)
        return _SERVE.sub(f"chronik serve --port {self.port}", text)

    # ---------------------------------------------------------------- processes

    def _shell_script(self, command: str) -> Path:
        self._scripts += 1
        body = self.runner / f"block-{self._scripts}.sh"
        body.write_text(self.rewrite(command) + "\n")
        script = self.runner / f"run-{self._scripts}.sh"
        script.write_text(
            f"__doc_state={shlex.quote(str(self.state))}\n"
            'source "$__doc_state" 2>/dev/null\n'
            'curl() { command curl --fail-with-body "$@"; }\n'
            "set -eo pipefail\n"
            f"source {shlex.quote(str(body))}\n" + _SAVE_STATE
        )
        return script

    def _run(self, argv: list[str]) -> tuple[int, str]:
        """Run to the end; whatever it left running in its process group is killed with it."""
        process = subprocess.Popen(
            argv,
            cwd=self.work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            printed, _ = process.communicate(timeout=COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            printed, _ = process.communicate()
            late = f"\n[did not finish within {COMMAND_SECONDS} s]"
            return -1, printed.decode(errors="replace") + late
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        return process.returncode, printed.decode(errors="replace")

    def _start(self, argv: list[str], kind: str) -> None:
        log = self.runner / f"{kind}-{len(self.processes)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv,
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(Background(process, log, kind))

    def _wait_for_server(self) -> str | None:
        """None once /healthz answers; otherwise why not, with the server's log."""
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=1.0) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").status_code == 200:
                        return None
                except httpx.TransportError:
                    pass
                servers = [b for b in self.processes if b.kind in SERVERS]
                if all(b.process.poll() is not None for b in servers):
                    break
                time.sleep(0.05)
        return f"no server answered /healthz on port {self.port}:\n{self._logs()}"

    def _wait_for_probe(self) -> str | None:
        """None once the readiness command of a background block succeeds; otherwise why."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            code, printed = self._run(["bash", str(self._shell_script(self.await_probe))])
            if code == 0:
                return None
            if time.monotonic() > deadline:
                return (
                    f"`{self.await_probe}` did not succeed within {START_SECONDS} s:\n"
                    f"{printed}\n{self._logs()}"
                )
            time.sleep(0.1)

    def _logs(self) -> str:
        return "\n".join(
            f"--- {b.log.name}:\n{b.log.read_text(errors='replace')[-3000:]}"
            for b in self.processes
        )

    def stop(self, kinds: frozenset[str] | None = None) -> None:
        """Stop the background process groups this run started (of ``kinds``, or all):
        SIGTERM, then SIGKILL."""
        stopping = [b for b in self.processes if kinds is None or b.kind in kinds]
        for background in stopping:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(background.process.pid, signal.SIGTERM)
        for background in stopping:
            with contextlib.suppress(subprocess.TimeoutExpired):
                background.process.wait(timeout=STOP_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(background.process.pid, signal.SIGKILL)
            background.process.wait()

    # ---------------------------------------------------------------- blocks

    def _fail(self, block: Block, message: str) -> None:
        self.report.problems.append(f"{block.where} ({block.language}): {message}")

    def _compare(self, block: Block, command: str, shown: str, printed: str) -> None:
        if not shown.strip() or block.marker("no-compare"):
            return
        wrong = difference(self.rewrite(shown), printed)
        if wrong is not None:
            self._fail(block, f"output of `{command.strip()}` is not what is shown:\n{wrong}")

    def _argv(self, block: Block, command: Command) -> list[str]:
        if block.language == PYTHON:
            return [sys.executable, "-c", self.rewrite(command.text)]
        return ["bash", str(self._shell_script(command.text))]

    def _commands(self, block: Block) -> list[Command]:
        if block.language == CONSOLE:
            return console_commands(block.text)
        return [Command(block.text, "")]

    def _run_block(self, block: Block) -> bool:
        """Run one block; False when the document cannot go on."""
        if self.await_server and (problem := self._wait_for_server()) is not None:
            self._fail(block, problem)
            return False
        self.await_server = False
        if self.await_probe and (problem := self._wait_for_probe()) is not None:
            self._fail(block, problem)
            return False
        self.await_probe = ""
        commands = self._commands(block)
        if block.marker("server") or block.marker("background"):
            kind = "server" if block.marker("server") else "background"
            if kind == "server":
                self.stop(SERVERS)
            for command in commands:
                self._start(self._argv(block, command), kind)
            self.await_server = block.marker("server") is not None
            probe = block.marker("background")
            self.await_probe = probe.argument if probe else ""
            self.last_output = None
            return True
        output: list[str] = []
        for number, command in enumerate(commands, 1):
            code, printed = self._run(self._argv(block, command))
            output.append(printed)
            must_fail = block.marker("fails") is not None and number == len(commands)
            if (code == 0) == must_fail:
                wanted = "fail" if must_fail else "succeed"
                if "chronik serve" in command.text:
                    wanted += " (a block that starts the server needs 'doc-test: server')"
                self._fail(
                    block,
                    f"`{command.text.strip()}` should {wanted}; exit code {code}, output:\n"
                    f"{printed}\n{self._logs()}",
                )
                return False
            self._compare(block, command.text, command.shown, printed)
        self.last_output = "".join(output)
        return True

    def run(self) -> Report:
        try:
            found = blocks(self.document)
        except MarkerError as error:
            self.report.problems.append(str(error))
            return self.report
        if any(b.runs for b in found) and not any(b.runs and b.marker("server") for b in found):
            self._start(
                ["chronik", "serve", "--port", str(self.port), "--log-level", "warning"], "serve"
            )
            self.await_server = True
        try:
            for block in found:
                if not self._block(block):
                    break
        finally:
            self.stop()
        return self.report

    def _block(self, block: Block) -> bool:
        if (file := block.marker("file")) is not None:
            target = self.work / file.argument
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.rewrite(block.text))
            self.report.lines.append(f"{block.where}: written to {file.argument}")
            return True
        if (skip := block.marker("skip")) is not None:
            self.report.lines.append(f"{block.where}: not run: {skip.argument}")
            return True
        if block.marker("output") is not None:
            if self.last_output is None:
                self._fail(block, "an output block must follow a block that ran in front")
            else:
                self._compare(block, "the block before", block.text, self.last_output)
            return True
        if not block.runs:
            return True
        self.report.lines.append(f"{block.where}: run")
        return self._run_block(block)


def run_document(document: Path, root: Path) -> Report:
    """Run ``document``'s blocks in a fresh directory under ``root``."""
    return DocumentRun(document, root).run()
