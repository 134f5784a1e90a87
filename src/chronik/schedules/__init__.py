"""Schedules: named future firings that append an event when due, and their failed jobs."""

from chronik.schedules.scheduler import Scheduler
from chronik.schedules.service import ScheduleRecord, Schedules, TenantEvent

__all__ = ["ScheduleRecord", "Scheduler", "Schedules", "TenantEvent"]
