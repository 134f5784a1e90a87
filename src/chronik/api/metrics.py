"""Prometheus metrics of one app: requests, latency, appended events, database pool use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from chronik.actions.execution import BUCKETS

if TYPE_CHECKING:
    from fastapi import FastAPI

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per app: no process-wide singletons, so tests can build many apps."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chronik_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "chronik_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.appended = Counter(
            "chronik_events_appended",
            "Events appended through this server.",
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(app))
        self.registry.register(_ViewCollector(app))
        self.registry.register(_SchedulerCollector(app))
        self.registry.register(_ActionCollector(app))
        self.registry.register(_SubscriptionCollector(app))
        self.registry.register(_WebhookCollector(app))

        # The labelled children by (route, method, status): ``labels()`` checks and joins
        # its arguments on every call, a tenth of a small request's CPU.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, method, status))
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)


class _PoolCollector(Collector):
    """Connections of the PostgreSQL pool in use and waiting (nothing on SQLite)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        pool = getattr(getattr(chronik, "db", None), "pool", None)
        if pool is None:
            return
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        available = stats.get("pool_available", 0)
        yield GaugeMetricFamily(
            "chronik_db_pool_connections_in_use",
            "Pooled connections in use.",
            value=size - available,
        )
        yield GaugeMetricFamily(
            "chronik_db_pool_connections", "Pooled connections open.", value=size
        )
        yield GaugeMetricFamily(
            "chronik_db_pool_requests_waiting",
            "Requests waiting for a connection.",
            value=stats.get("requests_waiting", 0),
        )


class _SubscriptionCollector(Collector):
    """Live subscriptions (Server-Sent Events) of this process: open, and dropped so far."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        if chronik is None:
            return
        live, dropped = chronik.events.subscribers
        yield GaugeMetricFamily(
            "chronik_subscribers", "Live subscriptions receiving events.", value=live
        )
        yield CounterMetricFamily(
            "chronik_subscribers_dropped",
            "Subscriptions dropped for falling behind.",
            value=dropped,
        )


class _ViewCollector(Collector):
    """The views this process runs: position, lag (in sequences and in seconds behind the
    newest event it saw), failed-event records, handled events, failures, handler time."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        runner = getattr(getattr(chronik, "views", None), "runner", None)
        if runner is None:
            return
        labels = ["view", "tenant"]
        position = GaugeMetricFamily(
            "chronik_view_position", "Last sequence a view dealt with.", labels=labels
        )
        lag = GaugeMetricFamily(
            "chronik_view_lag_events",
            "Events of the tenant a view has yet to handle.",
            labels=labels,
        )
        lag_seconds = GaugeMetricFamily(
            "chronik_view_lag_seconds",
            "Age of a lagging view's last processed event (0 when caught up).",
            labels=labels,
        )
        failed = GaugeMetricFamily(
            "chronik_view_failed_events",
            "Failed-event records a view has (retrying, skipped or waited on).",
            labels=labels,
        )
        handled = CounterMetricFamily(
            "chronik_view_events_handled", "Events a view's handler processed.", labels=["view"]
        )
        failures = CounterMetricFamily(
            "chronik_view_failures", "Events a view's handler failed on.", labels=["view"]
        )
        seconds = CounterMetricFamily(
            "chronik_view_handler_seconds", "Time spent in a view's handler.", labels=["view"]
        )
        now = datetime.now(UTC)
        for name, stats in runner.stats.items():
            handled.add_metric([name], stats.handled)
            failures.add_metric([name], stats.failures)
            seconds.add_metric([name], stats.handler_seconds)
            for tenant, at in stats.positions.items():
                behind = max(0, stats.heads.get(tenant, at) - at)
                position.add_metric([name, tenant], at)
                lag.add_metric([name, tenant], behind)
                last = stats.event_times.get(tenant)
                age = (now - last).total_seconds() if behind and last is not None else 0.0
                lag_seconds.add_metric([name, tenant], age)
            for tenant, count in stats.failed.items():
                failed.add_metric([name, tenant], count)
        yield from (position, lag, lag_seconds, failed, handled, failures, seconds)


class _SchedulerCollector(Collector):
    """What this process's scheduler did: firings, missed fire times, failed firings."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[CounterMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        scheduler = getattr(getattr(chronik, "schedules", None), "scheduler", None)
        if scheduler is None:
            return
        stats = scheduler.stats
        for name, help_text, value in (
            ("chronik_schedule_firings", "Scheduled events appended.", stats.fired),
            (
                "chronik_schedule_missed_firings",
                "Fire times missed (by downtime or a pause) past the misfire threshold.",
                stats.missed,
            ),
            ("chronik_schedule_failed_firings", "Firings that failed.", stats.failed),
        ):
            yield CounterMetricFamily(name, help_text, value=value)


class _ActionCollector(Collector):
    """Runs of actions in this process: by action, trigger and outcome (timeouts, crashes
    and running out of memory are outcomes), and their durations per action."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        executor = getattr(getattr(chronik, "actions", None), "executor", None)
        if executor is None:
            return
        stats = executor.stats
        runs = CounterMetricFamily(
            "chronik_action_runs",
            "Runs of actions by action, trigger and outcome.",
            labels=["action_id", "action", "trigger", "outcome"],
        )
        for (action_id, name, trigger, outcome), count in sorted(stats.runs.items()):
            runs.add_metric([action_id, name, trigger, outcome], count)
        seconds = HistogramMetricFamily(
            "chronik_action_run_seconds",
            "How long runs of actions took (the worker's round trip included).",
            labels=["action_id", "action"],
        )
        for (action_id, name), histogram in sorted(stats.seconds.items()):
            total, count, counts = histogram[0], histogram[1], histogram[2:]
            cumulative, buckets = 0.0, []
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            seconds.add_metric([action_id, name], buckets, total)
        yield runs
        yield seconds


class _WebhookCollector(Collector):
    """Deliveries of the webhooks this process delivers: by outcome, and per webhook its
    lag, its kept failures and the age of the oldest."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        chronik = getattr(self._app.state, "chronik", None)
        runner = getattr(getattr(chronik, "webhooks", None), "runner", None)
        if runner is None:
            return
        deliveries = CounterMetricFamily(
            "chronik_webhook_deliveries",
            "Deliveries by outcome: delivered, failed (a trigger matched), ignored (a failure "
            "no trigger names).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "failed", "ignored"):
            deliveries.add_metric([outcome], runner.outcomes[outcome])
        labels = ["webhook", "tenant"]
        lag = GaugeMetricFamily(
            "chronik_webhook_lag_events",
            "Events of the tenant between a webhook's position and the tenant's head.",
            labels=labels,
        )
        lag_seconds = GaugeMetricFamily(
            "chronik_webhook_lag_seconds",
            "Age of a lagging webhook's last delivered event (0 when caught up).",
            labels=labels,
        )
        diverted = GaugeMetricFamily(
            "chronik_webhook_diverted_events",
            "Failed deliveries a webhook keeps (diverted, or being retried).",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "chronik_webhook_oldest_diverted_seconds",
            "Age of a webhook's oldest kept failed delivery.",
            labels=labels,
        )
        now = datetime.now(UTC)
        for hook in runner.delivering():
            stats = runner.views.stats.get(hook.view)
            tenant = hook.tenant_id
            if stats is not None and tenant in stats.positions:
                at = stats.positions[tenant]
                behind = max(0, stats.heads.get(tenant, at) - at)
                lag.add_metric([hook.locator, tenant], behind)
                last = stats.event_times.get(tenant)
                age = (now - last).total_seconds() if behind and last is not None else 0.0
                lag_seconds.add_metric([hook.locator, tenant], age)
            if stats is not None and tenant in stats.failed:
                diverted.add_metric([hook.locator, tenant], stats.failed[tenant])
            first = runner.oldest_diverted.get((tenant, hook.locator))
            if first is not None:
                oldest.add_metric([hook.locator, tenant], (now - first).total_seconds())
        yield from (deliveries, lag, lag_seconds, diverted, oldest)
