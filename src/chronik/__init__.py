"""Chronik: an append-only, multi-tenant event log with views, schedules and actions.

The async API is :class:`Chronik`; :class:`SyncChronik` has its shape (``c.events.append``,
``c.views.statuses``…) for blocking code.
"""

from chronik.errors import (
    AlreadyExists,
    ChronikError,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from chronik.events import EventQuery, Page
from chronik.records import Editor, Event, ExpectedVersion, NewEvent, Tenant
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.sync import SyncChronik

__all__ = [
    "AlreadyExists",
    "Chronik",
    "ChronikError",
    "Conflict",
    "Editor",
    "Event",
    "EventQuery",
    "ExpectedVersion",
    "FailedPrecondition",
    "InvalidArgument",
    "NewEvent",
    "NotFound",
    "Page",
    "PermissionDenied",
    "Settings",
    "SyncChronik",
    "Tenant",
    "Unauthenticated",
    "Unavailable",
]
