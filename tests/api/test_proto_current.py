"""The committed Python code generated from the ``.proto`` files is what they generate now."""

from __future__ import annotations

from pathlib import Path

from chronik.api.proto.generate import HERE, generate, generated_files


def test_committed_generated_code_is_what_the_proto_files_generate(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in generate(tmp_path)}
    committed = {p.relative_to(HERE).as_posix(): p.read_bytes() for p in generated_files(HERE)}
    assert sorted(committed) == sorted(fresh), "run python -m chronik.api.proto.generate"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], "run python -m chronik.api.proto.generate"
