"""Schedules: named future firings that append an event when due, and their failed jobs."""

from chronik.schedules.scheduler import Scheduler
from chronik.schedules.service import Schedules, TenantEvent

__all__ = ["Scheduler", "Schedules", "TenantEvent"]
