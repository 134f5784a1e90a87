"""Paging tokens: the whole search and its cursor, signed, so a token is all a next page needs.

A token never expires: it names sequence positions, which never move. It is bound to its
tenant and signed with a key kept in the database, so an altered or foreign token is refused
rather than read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime

import msgspec

from chronik.errors import InvalidArgument


class Cursor(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    """A search as it travels inside a token (short, positional: tokens travel in URLs)."""

    tenant_id: str
    asc: bool
    limit: int
    position: int = 0
    event_types: tuple[str, ...] = ()
    aggregate_types: tuple[str, ...] = ()
    aggregate_id: str = ""
    editor_user_id: str = ""
    resource_owner: str = ""
    lower: datetime | None = None
    lower_inclusive: bool = True
    upper: datetime | None = None
    upper_inclusive: bool = False
    after: int = 0
    before: int | None = None
    users_only: bool = False  # new fields go last: tokens made before them still decode
    correlation_id: str = ""


_VERSION = b"2"
# Sequences are per tenant from this version on (migrations 0012 / 0015): the positions of
# older tokens point at other events.
_PER_TENANT_SINCE = b"2"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Cursor)


def b64(data: bytes) -> str:
    """Unpadded URL-safe base64, the text of every paging token."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def invalid_token() -> InvalidArgument:
    """The one answer to a paging token this server did not give out, or that was altered."""
    return InvalidArgument("the paging token is not valid", field="pagingToken")


def encode(cursor: Cursor, key: bytes) -> str:
    body = _VERSION + _encoder.encode(cursor)
    mac = hmac.new(key, body, hashlib.sha256).digest()[:16]
    return f"{b64(body)}.{b64(mac)}"


def decode(token: str, key: bytes, tenant_id: str) -> Cursor:
    invalid = invalid_token()
    if not isinstance(token, str) or len(token) > 8192 or token.count(".") != 1:
        raise invalid
    body_text, mac_text = token.split(".")
    try:
        body, mac = unb64(body_text), unb64(mac_text)
    except (binascii.Error, ValueError) as exc:
        raise invalid from exc
    if b64(body) != body_text or b64(mac) != mac_text:
        raise invalid  # one token per search: base64 with stray bits is an altered token
    expected = hmac.new(key, body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        raise invalid
    if body[:1] < _PER_TENANT_SINCE:
        raise InvalidArgument(
            "the paging token was made before this server numbered each tenant's events on "
            "its own, and its positions no longer hold: start again without it, from a "
            "sequence or a time",
            field="pagingToken",
        )
    if not body.startswith(_VERSION):
        raise invalid
    try:
        cursor = _decoder.decode(body[len(_VERSION) :])
    except msgspec.DecodeError as exc:
        raise invalid from exc
    if cursor.tenant_id != tenant_id:
        raise invalid
    return cursor
