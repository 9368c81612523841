"""Webhook signatures: ``t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` and the receiver's check."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import pytest

from maintenance.signing import SignatureError, sign, verify_signature

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"event":"assigned","order":1}'
T = 1_793_610_000  # 2026-11-02 09:00:00 UTC


def test_header_is_timestamp_and_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1793610000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t=1793610000,v1={expected}"
    assert sign(SECRET, BODY, T + 1) != sign(SECRET, BODY, T)  # the timestamp is inside the signed bytes


def test_a_fresh_signature_is_accepted_within_the_window_either_way() -> None:
    header = sign(SECRET, BODY, T)
    assert verify_signature(SECRET, header, BODY, now=T) == T
    assert verify_signature(SECRET, header, BODY, now=T + 300, tolerance_s=300) == T
    assert verify_signature(SECRET, header, BODY, now=T - 300, tolerance_s=300) == T
    aware = dt.datetime(2026, 11, 2, 9, 4, 59, tzinfo=dt.UTC)
    assert verify_signature(SECRET, header, BODY, now=aware) == T


@pytest.mark.parametrize(
    ("header", "body", "now", "message"),
    [
        (None, BODY, T, "missing X-Facility-Signature header"),
        ("  ", BODY, T, "missing X-Facility-Signature header"),
        ("sha256=abcdef", BODY, T, "needs exactly one t=<unix seconds>"),
        ("t=1793610000", BODY, T, "no v1= signature"),
        ("t=1793610000;v1=ab", BODY, T, "malformed X-Facility-Signature header"),
        ("t=soon,v1=ab", BODY, T, "needs exactly one t=<unix seconds>"),
        ("t=1,t=1793610000,v1=ab", BODY, T, "needs exactly one t=<unix seconds>"),
        ("t=1793610000,v1", BODY, T, "'v1' is not key=value"),
        (sign(SECRET, BODY, T), BODY, T + 301, "signature too old: signed 301 s ago, the tolerance is 300 s"),
        (sign(SECRET, BODY, T), BODY, T - 301, "signature from the future: signed 301 s ahead"),
        (sign(SECRET, BODY, T), BODY.replace(b"1", b"2"), T, "bad signature"),
        (sign("another-secret", BODY, T), BODY, T, "bad signature"),
        # the timestamp changed to look fresh: the HMAC no longer matches
        (sign(SECRET, BODY, T).replace("t=1793610000", "t=1793610600"), BODY, T + 600, "bad signature"),
    ],
)
def test_refusals_say_what_is_wrong(header: str | None, body: bytes, now: float, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)):
        verify_signature(SECRET, header, body, now=now, tolerance_s=300)


def test_any_of_several_v1_signatures_and_unknown_schemes_are_ignored() -> None:
    good = sign(SECRET, BODY, T).split(",")[1]
    old = sign("retired-secret", BODY, T).split(",")[1]
    assert verify_signature(SECRET, f"t={T},v0=zz,{old},{good}", BODY, now=T) == T
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signature(SECRET, f"t={T},v0=zz,{old}", BODY, now=T)
