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
    """Issue the bootstrap admin token once; write it to ``data_dir/bootstrap-token``
    (mode 0600) and return it. ``None`` when the installation was bootstrapped before.

    ``given`` (``CHRONIK_BOOTSTRAP_TOKEN``) becomes the token, for scripted installs.
    """
    path = data_dir / FILE_NAME
    if path.exists() or await tokens.list(tenant.id):
        return None
    _, bearer = await tokens.issue(tenant.id, ["IAM_OWNER"], name="bootstrap admin", bearer=given)
    _write_private(path, bearer)
    return bearer


def _write_private(path: Path, bearer: str) -> None:
    """Create the file readable by its owner only, and never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(bearer + "\n")
