"""ULIDs for locators and request ids.

``python-ulid`` spends about 5 microseconds on each new id, a fifth of the whole budget of an
event in a bulk append, so batches are made here from one clock read and one ``urandom``
call; the result is the standard ULID text
(python-ulid parses it back, and the tests check that it does).
"""

from __future__ import annotations

import hashlib
import os
import re
import time

_SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BYTE_TO_SYMBOL = bytes(ord(_SYMBOLS[b & 31]) for b in range(256))
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def new_ulids(count: int) -> list[str]:
    """``count`` fresh ULIDs sharing the current millisecond.

    A ULID is 10 characters of 48-bit time and 16 of 80 random bits. Each random character
    comes from one random byte mapped onto the 32 symbols (256 is a multiple of 32, so the
    symbols stay uniform), which the C-level ``bytes.translate`` does for a whole batch.
    """
    millis = time.time_ns() // 1_000_000
    stamp = "".join(_SYMBOLS[(millis >> shift) & 31] for shift in range(45, -1, -5))
    noise = os.urandom(16 * count).translate(_BYTE_TO_SYMBOL).decode("ascii")
    return [stamp + noise[i : i + 16] for i in range(0, 16 * count, 16)]


def derived_ulids(request_id: str, scope: str, count: int) -> list[str]:
    """``count`` ULIDs that are the same whenever they are derived again from the same
    ``request_id`` (a ULID, whose time they share) and ``scope``: 80 bits of SHAKE-256 each."""
    key = f"{scope}\x00{request_id}".encode()
    noise = hashlib.shake_256(key).digest(16 * count).translate(_BYTE_TO_SYMBOL).decode("ascii")
    stamp = request_id[:10]
    return [stamp + noise[i : i + 16] for i in range(0, 16 * count, 16)]


def new_ulid() -> str:
    return new_ulids(1)[0]


def is_ulid(text: str) -> bool:
    """Whether ``text`` is a canonical (upper-case) ULID."""
    return bool(_ULID.fullmatch(text))
