"""Webhooks: events pushed to HTTP endpoints, in order, signed, with Socotra's failure
handling (retries, alerts, diverted events, suspension), each delivered by its own view."""

from chronik.webhooks.delivery import Deliverer, Destinations
from chronik.webhooks.runner import WebhookRunner
from chronik.webhooks.service import WebhookChange, Webhooks, WebhookStatus

__all__ = [
    "Deliverer",
    "Destinations",
    "WebhookChange",
    "WebhookRunner",
    "WebhookStatus",
    "Webhooks",
]
