"""Signing crew webhooks, and the check a receiver runs (no database, HTTP or MQTT imports: copy or import it).

Header ``X-Facility-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` — the scheme
Stripe and Slack use. The timestamp is inside the signed bytes, so a receiver that rejects timestamps outside a
tolerance window (default 5 minutes) cannot be fed a captured request again later, and the body cannot be
changed without the secret. Several ``v1=`` entries may appear (a receiver accepts any of them, which allows
rotating a secret); unknown schemes (``v0=``, ``v2=``) are ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

SIGNATURE_HEADER = "X-Facility-Signature"
SCHEME = "v1"
#: how far a signature's timestamp may lie from the receiver's clock, either way (seconds)
DEFAULT_TOLERANCE_S = 300.0


class SignatureError(ValueError):
    """The request must be refused (HTTP 401); the message says why."""


def signed_bytes(timestamp: int, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), signed_bytes(timestamp, body), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds): ``t=<timestamp>,v1=<hex>``."""
    return f"t={timestamp},{SCHEME}={digest(secret, timestamp, body)}"


def parse_header(header: str | None) -> tuple[int, list[str]]:
    """``(timestamp, v1 signatures)`` from a header value; SignatureError when missing or malformed."""
    if header is None or not header.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header: the request is not signed")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(
                f"malformed {SIGNATURE_HEADER} header: {part.strip()!r} is not key=value"
                " (expected t=<unix seconds>,v1=<hex>)"
            )
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        raise SignatureError(
            f"malformed {SIGNATURE_HEADER} header: it needs exactly one t=<unix seconds>, got {header!r}"
        )
    if not signatures:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: no {SCHEME}= signature in {header!r}")
    return int(timestamps[0]), signatures


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    now: dt.datetime | float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a received webhook; returns its timestamp, or raises SignatureError naming what is wrong.

    ``header`` is the raw ``X-Facility-Signature`` value (None when absent), ``body`` the raw request bytes
    (before any JSON parsing), ``now`` the receiver's clock (aware datetime or unix seconds). A timestamp more
    than ``tolerance_s`` away from ``now`` is refused before the HMAC is checked; the HMAC comparison takes
    constant time. A receiver that must also refuse a replay inside the window remembers the
    (timestamp, signature) pairs it has accepted for ``tolerance_s``.
    """
    timestamp, signatures = parse_header(header)
    now_s = now.timestamp() if isinstance(now, dt.datetime) else float(now)
    age = now_s - timestamp
    if age > tolerance_s:
        raise SignatureError(
            f"signature too old: signed {age:.0f} s ago, the tolerance is {tolerance_s:.0f} s"
            " (a replayed request, or the sender's clock is wrong)"
        )
    if -age > tolerance_s:
        raise SignatureError(
            f"signature from the future: signed {-age:.0f} s ahead of this clock, the tolerance is"
            f" {tolerance_s:.0f} s (check both clocks)"
        )
    expected = digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError(
            "bad signature: the body or timestamp was altered, or the secret differs from the crew's"
        )
    return timestamp
