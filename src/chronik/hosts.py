"""Where Chronik may open connections on its users' behalf (actions' ``http.fetch``,
webhooks): the operator's allow-list of ``host[:port]``, and the public-address rule."""

from __future__ import annotations

import ipaddress
import urllib.parse


def allowed_host(entry: str, what: str = "actions may fetch from") -> tuple[str, int | None]:
    """An allow-list entry as (host, port or None); ValueError if it is none."""
    try:
        parts = urllib.parse.urlsplit(f"//{entry.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{entry!r} is not a host[:port] that {what}")
    if port == 0 or " " in host:
        raise ValueError(f"{entry!r} is not a host[:port] that {what}")
    return host, port


def public(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local,
    shared, multicast, reserved or unspecified (an IPv4-mapped IPv6 address as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
