"""Rows of the webhooks table as records, for both backends."""

from __future__ import annotations

from typing import Any

import msgspec

from chronik.records import Webhook, WebhookDefinition
from chronik.storage.views import Time

DATABASE = "webhooks"
"""The database column of every webhook's view."""
_decode = msgspec.json.Decoder(WebhookDefinition).decode
_encode = msgspec.json.encode


def encode(definition: WebhookDefinition) -> str:
    return _encode(definition).decode()


def webhook(tenant_id: str, r: Any, time: Time) -> Webhook:
    """A row of ``locator, definition, created_at, updated_at, suspended_at``."""
    return Webhook(
        locator=r[0],
        tenant_id=tenant_id,
        definition=_decode(r[1]),
        created_at=time(r[2]),
        updated_at=time(r[3]),
        suspended_at=None if r[4] is None else time(r[4]),
    )
