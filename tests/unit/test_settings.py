"""Settings take values as a caller naturally writes them, and name the field of a wrong one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chronik import Settings


def test_a_str_data_dir_is_a_path() -> None:
    settings = Settings(data_dir="some/dir")  # type: ignore[arg-type]
    assert settings.resolved_database_url == "sqlite:///some/dir/chronik.db"


def test_lists_are_taken_for_tuples() -> None:
    settings = Settings(views=["app:view"], action_http_hosts=["example.org"])  # type: ignore[arg-type]
    assert (settings.views, settings.action_http_hosts) == (("app:view",), ("example.org",))


def test_settings_equal_whether_given_as_str_or_path() -> None:
    assert Settings(data_dir="d") == Settings(data_dir=Path("d"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("data_dir", 3, "Settings.data_dir must be a path (str or Path), not 3"),
        ("views", "app:view", "Settings.views must be a list of strings, not 'app:view'"),
        ("max_payload_bytes", 1.5, "Settings.max_payload_bytes must be an integer, not 1.5"),
        ("max_payload_bytes", True, "Settings.max_payload_bytes must be an integer, not True"),
        ("create_database", 1, "Settings.create_database must be True or False, not 1"),
        ("database_url", None, "Settings.database_url must be a string, not None"),
        ("bootstrap_token", 7, "Settings.bootstrap_token must be a string or None, not 7"),
        ("follow_poll_seconds", "1", "Settings.follow_poll_seconds must be a number, not '1'"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(TypeError) as refused:
        Settings(**{field: value})
    assert str(refused.value) == message


def test_an_unknown_durability_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="must be one of OFF, NORMAL, FULL, not 'normal'"):
        Settings(sqlite_durability="normal")  # type: ignore[arg-type]
