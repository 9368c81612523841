"""The broker's roles as the dynamic-security plugin gets them: what each account may do, pure."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from facility.contract import AssetKind, AssetRef
from facility.services.dynsec import (
    SERVICE_ROLES,
    AccountError,
    AccountSpec,
    dynsec_document,
    ensure_dynsec,
    service_role_commands,
)
from facility.services.process import exit_reason
from facility.services.retain_guard import should_clear
from ingest.broker_accounts import batches, client_command, role_commands
from ingest.security import Account, render_acl

REPO = Path(__file__).resolve().parents[2]
LIFT = AssetRef("E1", "B1", AssetKind.ELEVATOR, "lift-1")


def test_a_device_may_publish_exactly_its_three_contract_topics_with_its_own_client_id() -> None:
    spec = AccountSpec.device(LIFT)
    assert (spec.username, spec.client_id, spec.rolename) == ("lift-1", "lift-1", "device-lift-1")
    assert [(a.acltype, a.topic, a.allow) for a in spec.acls] == [
        ("publishClientSend", "facility/E1/B1/elevator/lift-1/telemetry", True),
        ("publishClientSend", "facility/E1/B1/elevator/lift-1/event", True),
        ("publishClientSend", "facility/E1/B1/elevator/lift-1/status", True),
    ]
    assert role_commands(spec)[0]["acls"][0] == {
        "acltype": "publishClientSend", "topic": "facility/E1/B1/elevator/lift-1/telemetry", "allow": True, "priority": 0,
    }  # fmt: skip
    assert client_command(spec, "pw") == {
        "command": "createClient", "username": "lift-1", "password": "pw", "clientid": "lift-1",
        "roles": [{"rolename": "device-lift-1", "priority": 0}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AccountSpec.device(LIFT, "facility-ingest"), "reserved for services"),
        (
            lambda: AccountSpec("lift-1", "device", "other-id", "facility/E1/B1/elevator/lift-1"),
            "bound to the client",
        ),
        (lambda: AccountSpec("x y", "device", "x y", "facility/a"), "must be 1-128 letters"),
        (lambda: AccountSpec("svc", "root"), "role must be 'device' or one of"),
    ],
)
def test_account_specs_name_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        make()  # type: ignore[operator]


def test_only_ingest_may_share_only_admin_may_control_and_no_service_publishes_as_anything_else() -> None:
    def topics(role: str, acltype: str) -> list[str]:
        return [a.topic for a in SERVICE_ROLES[role] if a.acltype == acltype and a.allow]

    assert {
        r for r in SERVICE_ROLES if any(t.startswith("$share/") for t in topics(r, "subscribePattern"))
    } == {"ingest"}
    assert {r for r in SERVICE_ROLES if any("$CONTROL" in a.topic for a in SERVICE_ROLES[r])} == {"admin"}
    assert topics("ingest", "publishClientSend") == []
    assert topics("simulator", "publishClientSend") == [
        "facility/+/+/+/+/telemetry", "facility/+/+/+/+/event", "facility/+/+/+/+/status",
    ]  # fmt: skip
    assert topics("app", "publishClientSend") == [
        "facility/crews/#",
        "facility/engineers/#",
        "facility/escalations/#",
    ]


def test_the_plugin_file_holds_hashes_it_can_check(tmp_path: Path) -> None:
    doc = dynsec_document(("admin", "a-pw"), [(AccountSpec.service("ingest"), "i-pw")])
    clients = {c["username"]: c for c in doc["clients"]}
    salt = base64.b64decode(clients["ingest"]["salt"])
    digest = hashlib.pbkdf2_hmac("sha512", b"i-pw", salt, 101, 64)
    assert (len(salt), clients["ingest"]["password"]) == (12, base64.b64encode(digest).decode())
    assert [r["rolename"] for r in clients["ingest"]["roles"]] == ["facility-ingest"]
    assert doc["defaultACLAccess"] == {
        "publishClientSend": False, "publishClientReceive": True, "subscribe": False, "unsubscribe": True,
    }  # fmt: skip


def test_the_local_broker_file_keeps_devices_and_gains_new_services(tmp_path: Path) -> None:
    conf, secrets_file = tmp_path / "d.json", tmp_path / "c.json"
    creds = ensure_dynsec(conf, secrets_file, {"ingest": "ingest"})
    assert sorted(creds) == ["admin", "ingest"] and oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(conf.read_text())  # the plugin adds a device while the broker runs
    doc["clients"].append(
        {"username": "lift-1", "clientid": "lift-1", "roles": [{"rolename": "device-lift-1"}]}
    )
    doc["roles"].append({"rolename": "device-lift-1", "acls": []})
    conf.write_text(json.dumps(doc))

    again = ensure_dynsec(
        conf, secrets_file, {"ingest": "ingest", "app": "app"}
    )  # a newer version adds "app"
    assert {k: again[k] for k in creds} == creds and sorted(again) == ["admin", "app", "ingest"]
    doc = json.loads(conf.read_text())
    assert sorted(c["username"] for c in doc["clients"]) == ["admin", "app", "ingest", "lift-1"]
    assert {r["rolename"] for r in doc["roles"]} >= {"device-lift-1", "facility-app", "facility-ingest"}

    secrets_file.unlink()  # lost: every service gets a new password, devices stay
    lost = ensure_dynsec(conf, secrets_file, {"ingest": "ingest"})
    assert lost["ingest"] != creds["ingest"]
    clients = {c["username"]: c for c in json.loads(conf.read_text())["clients"]}
    salt = base64.b64decode(clients["ingest"]["salt"])
    digest = hashlib.pbkdf2_hmac("sha512", lost["ingest"].encode(), salt, 101, 64)
    assert clients["ingest"]["password"] == base64.b64encode(digest).decode() and "lift-1" in clients


def test_the_compose_roles_file_is_generated_from_the_roles() -> None:
    committed = json.loads((REPO / "deploy/mosquitto/roles.json").read_text())
    assert committed == {"commands": service_role_commands()}, (
        "deploy/mosquitto/roles.json is stale: python -m facility.services.dynsec > deploy/mosquitto/roles.json"
    )


def test_commands_are_batched_under_the_size_limit_in_order() -> None:
    cmds = [
        client_command(AccountSpec.device(AssetRef("E", "B", AssetKind.SMART_BIN, f"bin-{i}")), "p")
        for i in range(300)
    ]
    got = batches(cmds, limit=4096)
    assert [c for b in got for c in b] == cmds
    assert all(len(json.dumps({"commands": b})) <= 4096 for b in got) and len(got) > 1


@pytest.mark.parametrize(
    ("topic", "retain", "payload", "clear"),
    [
        ("facility/E/B/elevator/l1/telemetry", True, b"{}", True),
        ("facility/E/B/elevator/l1/event", True, b"{}", True),
        ("facility/E/B/elevator/l1/status", True, b"online", False),
        ("facility/E/B/elevator/l1/telemetry", False, b"{}", False),
        ("facility/E/B/elevator/l1/telemetry", True, b"", False),  # our own delete
        ("facility/crews/c1", True, b"{}", False),
    ],
)
def test_the_retain_guard_deletes_retained_telemetry_and_events_only(
    topic: str, retain: bool, payload: bytes, clear: bool
) -> None:
    assert should_clear(topic, retain, payload) is clear


def test_exit_reasons_name_the_signal() -> None:
    assert (exit_reason(-9), exit_reason(-11), exit_reason(1)) == (
        "killed by signal SIGKILL", "killed by signal SIGSEGV", "exited with status 1",
    )  # fmt: skip


def test_static_acl_files_still_confine_devices() -> None:
    """The password-file mode (``MosquittoServer(password_file=...)``) kept for older set-ups."""
    acl = render_acl(
        [
            Account("el1", "device", "facility/e/b/elevator/el1", "$7$101$x$y", 0),
            Account("gone", "device", "facility/e/b/elevator/gone", "h", 0, revoked_at_ms=5),
        ]
    )
    assert "user el1\ntopic write facility/e/b/elevator/el1/#\n" in acl and "gone" not in acl
