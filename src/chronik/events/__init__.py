"""The event log: model, append, search, paging tokens, following, and the type catalogue."""

from chronik.events.catalogue import Catalogue, LocalizedType
from chronik.events.log import EventLog
from chronik.records import EventQuery, Page

__all__ = ["Catalogue", "EventLog", "EventQuery", "LocalizedType", "Page"]
