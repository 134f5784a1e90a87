"""The webhooks' metrics: deliveries by outcome, and per webhook its lag and kept failures
with the age of the oldest."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from chronik.records import Endpoint, FailureHandling, NewEvent, WebhookDefinition
from chronik.services import Chronik
from chronik.settings import Settings
from tests.receiver import receiving, receiving_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return receiving_settings(database_url)


def value(text: str, name: str, **labels: str) -> float:
    """The sample of ``name`` with exactly ``labels`` in a Prometheus exposition."""
    shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{shown}}}" if labels else name) + r" (\S+)"
    found = re.search("^" + pattern + "$", text, re.MULTILINE)
    assert found, f"{name} {labels} is not in the metrics"
    return float(found[1])


async def test_deliveries_lag_and_diverted_events_show_in_the_metrics(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    with receiving() as receiver:
        hook = await chronik.webhooks.create(
            tenant,
            WebhookDefinition(
                name="crm",
                endpoint=Endpoint(url=receiver.url()),
                failure_handling=FailureHandling(triggers=("5xx",), divert=True),
            ),
        )
        chronik.start_webhooks()
        receiver.answers = [500, 404]
        for n in range(3):
            await chronik.events.append(
                tenant, [NewEvent(aggregate_type="policy", aggregate_id=f"p{n}", type="t")]
            )
        await receiver.wait_for(3)
        labels = {"webhook": hook.locator, "tenant": tenant}
        for _ in range(300):  # the view counts its failed events after its commit
            text = (await api.get("/metrics")).text
            counted = sum(
                value(text, "chronik_webhook_deliveries_total", outcome=outcome)
                for outcome in ("delivered", "failed", "ignored")
            )
            if (
                counted == 3
                and "chronik_webhook_diverted_events{" in text
                and value(text, "chronik_webhook_diverted_events", **labels) == 1
            ):
                break
            await asyncio.sleep(0.05)
    assert value(text, "chronik_webhook_deliveries_total", outcome="delivered") == 1
    assert value(text, "chronik_webhook_deliveries_total", outcome="failed") == 1
    assert value(text, "chronik_webhook_deliveries_total", outcome="ignored") == 1
    assert value(text, "chronik_webhook_diverted_events", **labels) == 1
    assert value(text, "chronik_webhook_lag_events", **labels) == 0
    assert value(text, "chronik_webhook_oldest_diverted_seconds", **labels) >= 0
