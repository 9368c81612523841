from __future__ import annotations

from pathlib import Path

import pytest

from facility.contract import AssetKind, AssetRef
from facility.settings import Settings
from ingest.security import (
    DeviceRegistry,
    SecurityError,
    broker_files,
    hash_password,
    parse_device,
    provision,
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


def test_provision_writes_password_and_acl_files(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    refs = [
        AssetRef("E1", "B1", AssetKind.ELEVATOR, "lift-1"),
        AssetRef("E2", "B9", AssetKind.SMART_BIN, "bin-3"),
    ]
    creds = provision(settings, refs)
    assert set(creds) == {"lift-1", "bin-3", "ingest", "api", "maintenance"}
    passwd, acl = broker_files(settings)
    users = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert all(verify_password(creds[u], users[u]) for u in creds)
    text = acl.read_text()
    assert "user lift-1\ntopic write facility/E1/B1/elevator/lift-1/#\n" in text
    assert "user bin-3\ntopic write facility/E2/B9/smart_bin/bin-3/#\n" in text
    assert "user ingest\ntopic read facility/#\n" in text
    assert oct(passwd.stat().st_mode & 0o777) == "0o600"


def test_revoke_removes_the_account_from_the_files(tmp_path: Path) -> None:
    reg = DeviceRegistry(tmp_path / "devices.db")
    reg.add_device(AssetRef("E1", "B1", AssetKind.ELEVATOR, "lift-1"))
    reg.add_device(AssetRef("E1", "B1", AssetKind.ELEVATOR, "lift-2"))
    reg.revoke("lift-1")
    reg.write_broker_files(tmp_path / "passwd", tmp_path / "acl")
    assert [line.split(":")[0] for line in (tmp_path / "passwd").read_text().splitlines()] == ["lift-2"]
    assert "lift-1" not in (tmp_path / "acl").read_text()
    assert [a.username for a in reg.accounts(include_revoked=True)] == ["lift-1", "lift-2"]
    with pytest.raises(SecurityError, match="no active account 'lift-1'"):
        reg.revoke("lift-1")
    reg.close()
