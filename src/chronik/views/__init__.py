"""Views (projections) fed from the log, and the events they failed to process."""

from chronik.records import Row, RowPage, ViewStatus
from chronik.retries import Backoff
from chronik.views.rows import Rows
from chronik.views.runner import Step, ViewRunner
from chronik.views.service import Views
from chronik.views.view import Registry, Unprocessable, View, installed

__all__ = [
    "Backoff",
    "Registry",
    "Row",
    "RowPage",
    "Rows",
    "Step",
    "Unprocessable",
    "View",
    "ViewRunner",
    "ViewStatus",
    "Views",
    "installed",
]
