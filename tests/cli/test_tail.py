"""``chronik events tail``: following the log from another process."""

from __future__ import annotations

import msgspec

from tests.cli.conftest import TIMEOUT, Cli, Lines, interrupt, new


def test_tail_prints_events_another_process_appends(cli: Cli) -> None:
    (before,) = cli.append(new("1"))
    with cli.popen("events", "tail", "--from-start", "--count", "3") as tail:
        assert tail.stdout is not None
        out = Lines(tail.stdout)
        assert msgspec.json.decode(out.next()) == before
        later = cli.append(new("2"), new("3"))
        assert [msgspec.json.decode(out.next()) for _ in later] == later
        assert tail.wait(TIMEOUT) == 0


def test_tail_starts_at_the_head_by_default(sqlite_cli: Cli) -> None:
    sqlite_cli.append(new("old"))
    with sqlite_cli.popen("events", "tail", "--count", "1") as tail:
        assert tail.stdout is not None and tail.stderr is not None
        assert Lines(tail.stderr).next() == b"following events after sequence 1; Ctrl-C stops\n"
        out = Lines(tail.stdout)
        (later,) = sqlite_cli.append(new("new"))
        assert msgspec.json.decode(out.next()) == later
        assert tail.wait(TIMEOUT) == 0


def test_ctrl_c_stops_tail_with_exit_code_0(sqlite_cli: Cli) -> None:
    sqlite_cli.append(new("1"))
    with sqlite_cli.popen("events", "tail", "--from-start", "--output", "table") as tail:
        assert tail.stdout is not None and tail.stderr is not None
        out = Lines(tail.stdout)
        assert out.next().split()[0] == b"sequence"
        assert b"user/1" in out.next()
        interrupt(tail)
        assert tail.wait(TIMEOUT) == 0
        assert b"Traceback" not in tail.stderr.read()
