from __future__ import annotations

import pytest

from facility.contract import AssetKind, AssetRef
from ingest.security import (
    Account,
    SecurityError,
    hash_password,
    parse_device,
    render_password_file,
    verify_password,
)


def test_hash_round_trip_and_format() -> None:
    h = hash_password("s3cret", salt=b"0123456789ab")
    assert h.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert verify_password("s3cret", h) and not verify_password("s3cre", h)


def test_parse_device_names_the_problem() -> None:
    assert parse_device("E1/B1/water_pump/p-1") == AssetRef("E1", "B1", AssetKind.WATER_PUMP, "p-1")
    with pytest.raises(SecurityError, match="estate/building/kind/asset"):
        parse_device("E1/B1/p-1")
    with pytest.raises(SecurityError, match=r"unknown kind 'toaster', expected one of"):
        parse_device("E1/B1/toaster/t1")


def test_the_static_password_file_lists_active_accounts_only() -> None:
    accounts = [
        Account("lift-1", "device", "facility/E1/B1/elevator/lift-1", hash_password("a"), 0),
        Account("lift-2", "device", "facility/E1/B1/elevator/lift-2", hash_password("b"), 0, revoked_at_ms=1),
    ]
    users = dict(line.split(":", 1) for line in render_password_file(accounts).splitlines())
    assert list(users) == ["lift-1"] and verify_password("a", users["lift-1"])
