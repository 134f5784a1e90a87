"""The first start of an installation: a default tenant and one admin token for it."""

from __future__ import annotations

import os
from pathlib import Path

from chronik.auth.tokens import Tokens
from chronik.records import Tenant

FILE_NAME = "bootstrap-token"


async def bootstrap(
    tokens: Tokens, tenant: Tenant, data_dir: Path, given: str | None
) -> str | None:
    """Issue the bootstrap admin token once per database; write it to
    ``data_dir/bootstrap-token`` (mode 0600) and return it. ``None`` when the installation
    was bootstrapped before, or when another process starting at the same time did it: the
    check and the issue are one step in the database, so however many nodes start together,
    one token exists and one process shows it.

    ``given`` (``CHRONIK_BOOTSTRAP_TOKEN``) becomes the token, for scripted installs.
    """
    path = data_dir / FILE_NAME
    if path.exists():
        return None
    issued = await tokens.issue_first(
        tenant.id, ["IAM_OWNER"], name="bootstrap admin", bearer=given
    )
    if issued is None:
        return None
    _write_private(path, issued[1])
    return issued[1]


def _write_private(path: Path, bearer: str) -> None:
    """Create the file readable by its owner only, and never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(bearer + "\n")
