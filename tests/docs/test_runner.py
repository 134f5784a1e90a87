"""The docs runner itself: it catches what a reader would trip over, and obeys its markers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.docs import runner
from tests.docs.markdown import MarkerError, blocks
from tests.docs.output import difference
from tests.docs.runner import console_commands, run_document

FENCE = "```"


def document(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text.replace("'''", FENCE))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    return run_document(document(tmp_path, text), tmp_path / "run").problems


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MarkerError, match="needs a reason"):
        blocks(document(tmp_path, "<!-- doc-test: skip -->\n'''sh\nfalse\n'''\n"))


def test_an_unknown_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MarkerError, match="unknown marker 'doc-test: skipp'"):
        blocks(document(tmp_path, "<!-- doc-test: skipp — typo -->\n'''sh\nfalse\n'''\n"))


def test_a_marker_away_from_its_block_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MarkerError, match="directly before a fenced block"):
        blocks(document(tmp_path, "<!-- doc-test: skip — x -->\nSome text.\n'''sh\nfalse\n'''\n"))


def test_console_commands_carry_their_shown_output() -> None:
    commands = console_commands("$ echo a \\\n  b\na b\n$ true\n$ printf '%s\\n' x\n> \nx\n")
    assert [(c.text, c.shown) for c in commands] == [
        ("echo a \\\n  b", "a b"),
        ("true", ""),
        ("printf '%s\\n' x\n", "x"),
    ]


def test_ids_times_and_blanks_do_not_count_as_differences() -> None:
    shown = "id                          at\n01JD5QW7M3XKZJ8V6TF5AQH0YB  2026-11-23T15:40:02Z\n"
    printed = "id   at\n01KABCDEFGHJKMNPQRSTVWXYZ0  2026-12-03T16:00:00.123+00:00\n"
    assert difference(shown, printed) is None


def test_a_different_count_is_a_difference_but_another_measurement_is_not() -> None:
    assert difference("count 3\n", "count 4\n") is not None
    assert difference("stamp succeeded 9.2\n", "stamp succeeded 2.1\n") is None


def test_an_ellipsis_line_stands_for_any_lines() -> None:
    assert difference("first\n…\nlast\n", "first\nsecond\nthird\nlast\n") is None


def test_json_is_compared_as_values_with_ellipses() -> None:
    shown = '{"events": [{"type": "user.added", "…": "…"}, "…"], "pagingToken": "…"}'
    printed = '{"pagingToken": "x", "events": [{"type": "user.added", "sequence": 1}, {}]}'
    assert difference(shown, printed) is None
    assert difference(shown, printed.replace("user.added", "user.removed")) is not None


def test_shell_state_carries_over_to_later_blocks(tmp_path: Path) -> None:
    text = "'''sh\nTOKEN=$(cat chronik-data/bootstrap-token)\ncd chronik-data\n'''\n"
    text += "'''sh\ntest -n \"$TOKEN\" && test -f bootstrap-token\n'''\n"
    assert problems(tmp_path, text) == []


def test_a_failing_block_fails_its_document(tmp_path: Path) -> None:
    found = problems(tmp_path, "'''sh\ntrue\nfalse\necho never\n'''\n")
    assert len(found) == 1
    assert "should succeed; exit code 1" in found[0]


def test_an_http_error_status_fails_the_block(tmp_path: Path) -> None:
    found = problems(tmp_path, "'''sh\ncurl -s http://127.0.0.1:8080/v1/me\n'''\n")
    assert "exit code 22" in found[0]


def test_the_shown_output_of_a_console_command_is_compared(tmp_path: Path) -> None:
    found = problems(tmp_path, "'''console\n$ echo 3 events\n4 events\n'''\n")
    assert "-4 events" in found[0]
    assert "+3 events" in found[0]


def test_an_output_block_is_compared_with_the_block_before(tmp_path: Path) -> None:
    text = "'''sh\ncurl -s http://127.0.0.1:8080/healthz\n'''\n"
    text += "<!-- doc-test: output -->\n'''json\n{\"status\": \"down\"}\n'''\n"
    assert "JSON differs" in problems(tmp_path, text)[0]


def test_a_file_block_is_written_for_later_blocks(tmp_path: Path) -> None:
    text = "<!-- doc-test: file scripts/a.js -->\n'''js\nfunction a() {}\n'''\n"
    text += "'''console\n$ cat scripts/a.js\nfunction a() {}\n'''\n"
    assert problems(tmp_path, text) == []


def test_a_block_marked_fails_must_fail(tmp_path: Path) -> None:
    text = "<!-- doc-test: fails -->\n'''console\n$ true\n$ true\n'''\n"
    assert "should fail" in problems(tmp_path, text)[0]


def test_a_server_block_is_waited_for_and_reached_on_the_rewritten_port(tmp_path: Path) -> None:
    text = "'''sh\nchronik migrate\n'''\n<!-- doc-test: server -->\n'''sh\nchronik serve\n'''\n"
    text += "'''sh\ncurl -s http://localhost:8080/healthz\n'''\n"
    assert problems(tmp_path, text) == []


def test_the_repository_examples_are_in_the_working_directory(tmp_path: Path) -> None:
    assert problems(tmp_path, "'''sh\ntest -f examples/user_counts.py\n'''\n") == []


def test_the_block_after_a_background_one_waits_for_its_readiness_probe(tmp_path: Path) -> None:
    text = "<!-- doc-test: background until test -f ready -->\n"
    text += "'''sh\nsleep 0.5; touch ready\n'''\n'''sh\ntest -f ready\n'''\n"
    assert problems(tmp_path, text) == []


def test_a_command_that_does_not_end_fails_and_is_stopped_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "COMMAND_SECONDS", 1.0)
    found = problems(tmp_path, "'''sh\necho $$ > shell.pid\nsleep 60 &\nsleep 60\n'''\n")
    assert "did not finish within 1.0 s" in found[0]
    group = int((tmp_path / "run" / "work" / "shell.pid").read_text())
    assert gone(group)


def gone(group: int) -> bool:
    """Whether no process of ``group`` is left, once the killed ones have been reaped."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_background_python_block_runs_as_python(tmp_path: Path) -> None:
    text = "<!-- doc-test: background until test -s started -->\n"
    text += "'''python\nimport pathlib, time\npathlib.Path('started').write_text('yes')\n"
    text += "time.sleep(60)\n'''\n'''sh\ntest -s started\n'''\n"
    assert problems(tmp_path, text) == []


def test_a_second_server_block_replaces_the_first(tmp_path: Path) -> None:
    text = "'''sh\nchronik migrate\n'''\n<!-- doc-test: server -->\n'''sh\nchronik serve\n'''\n"
    text += "<!-- doc-test: server -->\n'''sh\nchronik serve --max-body-bytes 10\n'''\n"
    text += "<!-- doc-test: fails -->\n'''console\n"
    text += "$ curl -s -o /dev/null -w '%{http_code}' -d 12345678901 localhost:8080/v1/events\n"
    text += "413\n'''\n"
    assert problems(tmp_path, text) == []
