"""``python -m chronik``: the ``chronik`` command."""

from chronik.cli import main

main()
