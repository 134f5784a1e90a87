"""Time rules: when a schedule fires next, and how many fire times a downtime missed.

Cron expressions are read by ``croniter`` in the rule's time zone (so ``0 2 * * *`` in
Europe/Berlin fires at 02:00 local time, 03:00 on the day the clocks skip 02:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from chronik.errors import InvalidArgument
from chronik.records import TimeRule

KINDS = ("once", "interval", "cron")
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
MISSED_COUNT_CAP = 1000
"""Cron fire times counted one by one at most per misfire; past that the count is a lower
bound and the rule jumps to its first fire time after now."""
SHORTEST = 0.001
LONGEST = 100 * 365 * 86400


def validate(rule: TimeRule, now: datetime) -> TimeRule:
    """``rule`` checked, with an interval's start defaulting to ``now``; every mistake is an
    :class:`InvalidArgument` naming the field."""
    if rule.kind not in KINDS:
        raise InvalidArgument(
            f"unknown rule kind {rule.kind!r}; known: {', '.join(KINDS)}", field="kind"
        )
    zone = _zone(rule.time_zone)
    if rule.repeat_limit is not None and rule.repeat_limit < 1:
        raise InvalidArgument("repeatLimit must be at least 1", field="repeatLimit")
    if rule.at is not None and not datetime(1970, 1, 1, tzinfo=UTC) <= rule.at < LATEST:
        raise InvalidArgument("the fire time must lie between 1970 and 9999", field="at")
    if rule.kind == "once":
        if rule.at is None:
            raise InvalidArgument("a once rule needs its instant ('at')", field="at")
        return rule
    if rule.kind == "interval":
        every = rule.every_seconds
        if every is None or not SHORTEST <= every <= LONGEST:
            raise InvalidArgument(
                "an interval rule needs everySeconds from 0.001 to 100 years", field="everySeconds"
            )
        return TimeRule(
            kind="interval",
            at=rule.at or now,
            every_seconds=every,
            time_zone=rule.time_zone,
            repeat_limit=rule.repeat_limit,
        )
    if not rule.cron or not croniter.is_valid(rule.cron):
        raise InvalidArgument(f"cron expression {rule.cron!r} does not parse", field="cron")
    try:
        croniter(rule.cron, (rule.at or now).astimezone(zone)).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError, ValueError) as exc:
        raise InvalidArgument(f"cron expression {rule.cron!r}: {exc}", field="cron") from None
    return rule


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"unknown time zone {name!r}", field="timeZone") from None


def first(rule: TimeRule, now: datetime) -> datetime | None:
    """The first fire time of a new (or changed) schedule."""
    if rule.kind in ("once", "interval"):
        return rule.at
    return after(rule, (rule.at or now) - timedelta(microseconds=1))


def after(rule: TimeRule, moment: datetime) -> datetime | None:
    """The first fire time strictly after ``moment`` (None: there is none)."""
    if rule.kind == "once":
        return rule.at if rule.at is not None and rule.at > moment else None
    if rule.kind == "interval":
        start, every = rule.at, rule.every_seconds
        assert start is not None and every is not None
        if moment < start:
            return start
        steps = int((moment - start).total_seconds() // every) + 1
        found = start + timedelta(seconds=every * steps)
        while found <= moment:  # float rounding
            found += timedelta(seconds=every)
        return found if found < LATEST else None
    assert rule.cron is not None
    try:
        found = croniter(rule.cron, moment.astimezone(_zone(rule.time_zone))).get_next(datetime)
    except CroniterBadDateError:
        return None
    assert isinstance(found, datetime)
    return found.astimezone(UTC)


def missed_between(rule: TimeRule, due: datetime, now: datetime) -> tuple[int, datetime | None]:
    """Fire times in ``[due, now]`` (``due`` is one) and the first one after ``now``."""
    count = 1
    upcoming = after(rule, due)
    while upcoming is not None and upcoming <= now and count < MISSED_COUNT_CAP:
        if rule.kind == "interval" and rule.every_seconds:
            skipped = int((now - upcoming).total_seconds() // rule.every_seconds)
            count += skipped + 1
            return count, after(rule, now)
        count += 1
        upcoming = after(rule, upcoming)
    if upcoming is not None and upcoming <= now:
        upcoming = after(rule, now)
    return count, upcoming


def upcoming(
    rule: TimeRule, next_fire_at: datetime | None, fired: int, count: int
) -> list[datetime]:
    """The next ``count`` fire times of a schedule that fires next at ``next_fire_at`` and
    has fired ``fired`` times, as the scheduler would take them (its repeat limit
    honoured, no misfire)."""
    found: list[datetime] = []
    left = count if rule.repeat_limit is None else min(count, rule.repeat_limit - fired)
    moment = next_fire_at
    while moment is not None and len(found) < left:
        found.append(moment)
        moment = after(rule, moment)
    return found
