"""Who is calling: the tenant a request is bound to and what it may do there."""

from __future__ import annotations

import msgspec

from chronik.errors import PermissionDenied


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    organisation_id: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    subject: str
    """The token id, or the ``sub`` claim of a JWT."""
    display_name: str = ""

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(f"missing permission {permission!r}", permission=permission)
