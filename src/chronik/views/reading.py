"""Reading a view's rows: the checks of a read, and the opaque tokens its pages go on from
(the answers, :class:`~chronik.records.Row` and :class:`~chronik.records.RowPage`, are
records, so that the remote client answers with them too)."""

from __future__ import annotations

import binascii
import math

import msgspec

from chronik.errors import InvalidArgument
from chronik.events.paging import b64, invalid_token, unb64

MAX_PAGE_SIZE = 1000
MAX_WAIT_SECONDS = 30.0
"""The longest a read waits for a view to reach ``min_sequence``; longer asks are cut."""


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    """A page's place as it travels inside a token: the view, the prefix read, the last key."""

    view: str
    prefix: str
    after: str


_VERSION = b"r1"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Cursor)


def next_token(view: str, prefix: str, after: str) -> str:
    body = _VERSION + _encoder.encode(_Cursor(view, prefix, after))
    return b64(body)


def resume(token: str, view: str, prefix: str) -> tuple[str, str]:
    """The prefix and the last key of the page before, from a token this view gave out:
    one token per page, so an altered one is refused rather than read. ``prefix`` may be
    left empty (the token's is used), or must be the token's."""
    invalid = invalid_token()
    try:
        body = unb64(token)
        if not body.startswith(_VERSION):
            raise invalid
        cursor = _decoder.decode(body[len(_VERSION) :])
    except (UnicodeEncodeError, binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise invalid from exc
    if next_token(cursor.view, cursor.prefix, cursor.after) != token or cursor.view != view:
        raise invalid
    if prefix and prefix != cursor.prefix:
        raise InvalidArgument(
            "the paging token goes on with another prefix; leave prefix out", field="prefix"
        )
    return cursor.prefix, cursor.after


def checked(
    *, page_size: int = 1, min_sequence: int = 0, wait_seconds: float = 0.0, **texts: str
) -> float:
    """Refuse what no read can answer; the seconds to wait, at most ``MAX_WAIT_SECONDS``."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page size must be between 1 and {MAX_PAGE_SIZE}", field="pageSize")
    if min_sequence < 0:
        raise InvalidArgument("minSequence must not be negative", field="minSequence")
    if not math.isfinite(wait_seconds) or wait_seconds < 0:
        raise InvalidArgument(
            "waitSeconds must be a number of seconds, not negative", field="waitSeconds"
        )
    for name, text in texts.items():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise InvalidArgument(f"{name} holds an unpaired surrogate", field=name) from None
    return min(wait_seconds, MAX_WAIT_SECONDS)
