"""Every shell and Python block of README.md and docs/ runs as shown, one test per document
(its blocks share a shell state and a server, in order). The markers that let a block be
not run, start a server, run in the background, be a file or an output, are described in
:mod:`tests.docs.runner`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.runner import run_document

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


# A document runs its commands one after another; the CLI reference runs dozens.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_every_block_runs_as_the_document_shows(document: Path, tmp_path: Path) -> None:
    report = run_document(document, tmp_path)
    print("\n".join(report.lines))
    if report.problems:
        pytest.fail("\n\n".join(report.problems), pytrace=False)
