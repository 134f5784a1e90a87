"""Views (projections) fed from the log, and the events they failed to process."""

from chronik.retries import Backoff
from chronik.views.reading import Row, RowPage
from chronik.views.rows import Rows
from chronik.views.runner import Step, ViewRunner
from chronik.views.service import Views, ViewStatus
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
