"""Reproducible benchmarks of Chronik against the raw limit of the same database.

Run ``python -m bench.log --backend all`` (see ``docs/benchmarks.md``). Every figure is a
ratio against plain inserts through the same driver, taken in the same run, so machine
noise cancels; absolute rates are notes.

The benchmarks measure the code of this checkout: its ``src`` goes first on ``sys.path``,
whatever copy of Chronik the environment has installed.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if (Path(_SRC) / "chronik").is_dir() and (not sys.path or sys.path[0] != _SRC):
    sys.path.insert(0, _SRC)
