"""How a failure is retried and how it reads in a record: shared by views (failed events)
and schedules (failed jobs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait before the n-th retry of a failed event: ``first * factor**(n-1)``,
    at most ``longest``."""

    first: float = 1.0
    factor: float = 2.0
    longest: float = 300.0

    def delay(self, failures: int) -> float:
        return float(min(self.longest, self.first * self.factor ** max(0, failures - 1)))


def error_text(exc: BaseException, limit: int = 2000) -> str:
    """How a failure reads in a failed-event record: ``ID=<id> Message=<text>`` when the
    error carries an id (an ``error_id`` attribute or detail), else its message."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    error_id = getattr(exc, "error_id", None) or getattr(exc, "details", {}).get("error_id")
    text = f"ID={error_id} Message={message}" if error_id else message
    return text[:limit]
