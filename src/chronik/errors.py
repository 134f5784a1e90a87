"""Chronik's one error tree.

Every failure a caller can act on is a :class:`ChronikError`. Each subclass names the gRPC
status it stands for; the HTTP status and each surface's body are derived from that in one
place (``chronik.api``), so the core never thinks in HTTP.

    ChronikError
    ├── InvalidArgument      the request itself is wrong (400)
    ├── NotFound             no such object for this tenant (404)
    ├── AlreadyExists        a unique key is taken (409)
    ├── Conflict             an expected version did not hold (409)
    │   └── ViewBehind       a view had not reached the sequence a read waited for
    ├── FailedPrecondition   the system is not in a state to do this (400)
    ├── PermissionDenied     authenticated, but not allowed (403)
    ├── ResourceExhausted    a size limit was passed (413)
    ├── Unauthenticated      no valid credentials (401)
    └── Unavailable          the database or a dependency cannot be reached (503)
        ├── DatabaseUnavailable  the database named cannot be opened at all
        └── TenantMoved      a write reached a database its tenant has moved out of

Driver exceptions never leave a storage backend: each backend translates them in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChronikError(Exception):
    """Base of every error Chronik raises on purpose."""

    grpc_code: ClassVar[int] = 2  # UNKNOWN
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgument(ChronikError):
    grpc_code = 3
    http_status = 400


class NotFound(ChronikError):
    grpc_code = 5
    http_status = 404


class AlreadyExists(ChronikError):
    grpc_code = 6
    http_status = 409


class Conflict(ChronikError):
    """An optimistic-concurrency check failed; ``details`` names what was expected and found."""

    grpc_code = 10  # ABORTED
    http_status = 409


class ViewBehind(Conflict):
    """A read asked for a view at ``min_sequence`` or later, and the view was still at
    ``position`` when the wait ran out: the caller may ask again."""

    def __init__(self, view: str, position: int, min_sequence: int) -> None:
        super().__init__(
            f"view {view!r} is at sequence {position}, not yet at {min_sequence}",
            position=str(position),
            min_sequence=str(min_sequence),
        )
        self.position = position
        self.min_sequence = min_sequence


class FailedPrecondition(ChronikError):
    grpc_code = 9
    http_status = 400


class PermissionDenied(ChronikError):
    grpc_code = 7
    http_status = 403


class ResourceExhausted(ChronikError):
    grpc_code = 8
    http_status = 413


class Unauthenticated(ChronikError):
    grpc_code = 16
    http_status = 401


class Unavailable(ChronikError):
    grpc_code = 14
    http_status = 503


class DeliveryFailed(ChronikError):
    """A webhook's receiver did not take a delivery an operator asked for (a resend)."""

    grpc_code = 14
    http_status = 502


class DatabaseUnavailable(Unavailable):
    """The database the settings name cannot be opened: it does not exist (and this process
    was not asked to create it), holds no Chronik schema, or its server refuses the
    connection or the credentials. The command line exits 2 on it, as on a wrong option."""


class TenantMoved(Unavailable):
    """A write reached a database that its tenant has been moved out of (or is being moved
    out of): nothing of it was written. The placement router waits for the move's cutover
    and sends the write again to the tenant's new database; a caller sees this only when the
    move does not finish in time."""
