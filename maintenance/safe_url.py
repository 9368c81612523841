"""Safe destinations for outgoing requests (webhooks, group robots, the SMS gateway).

Every URL is checked when it is set (the API answers 422) and again right before each request (DNS may have
changed since): the scheme must be http or https, the URL must carry no user:password, and every address the
host resolves to must be globally routable — loopback, private (RFC 1918, unique-local), link-local (cloud
metadata 169.254.169.254), carrier-grade NAT (Alibaba Cloud's metadata 100.100.100.200), multicast, reserved
and unspecified addresses are refused. An administrator may allow hosts or networks by listing them in the
``FACILITY_OUTGOING_ALLOW`` setting (host names like ``hooks.local`` or networks like ``10.1.0.0/16``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """A destination that must not be called; the message says why and how to allow it."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve ({exc}): check the URL") from None
    return sorted({str(info[4][0]) for info in infos})


def _address(raw: str) -> IpAddress:
    ip = ipaddress.ip_address(raw.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _allowed(host: str, ip: IpAddress | None, allow: Iterable[str]) -> bool:
    for entry in allow:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host:
            return True
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def check_url(url: str, allow: Sequence[str] = (), resolver: Resolver = resolve) -> str:
    """Return ``url`` if it may be called, else raise UnsafeUrl naming the reason."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"URL scheme {parts.scheme!r} is not allowed: use http or https")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl(f"URL {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("URL must not carry user:password; put secrets in the channel's secret field")
    if _allowed(host, None, allow):
        return url
    try:
        addresses = [_address(host)]
    except ValueError:
        addresses = [_address(a) for a in resolver(host, port or (443 if parts.scheme == "https" else 80))]
    if not addresses:
        raise UnsafeUrl(f"host {host!r} does not resolve: check the URL")
    for ip in addresses:
        if ip.is_global and not ip.is_multicast:
            continue
        if _allowed(host, ip, allow):
            continue
        raise UnsafeUrl(
            f"URL {url!r} points at {ip}, a loopback, private, link-local or metadata address: outgoing "
            "notifications may only reach public hosts (an administrator can allow it in "
            "FACILITY_OUTGOING_ALLOW)"
        )
    return url
