"""The broker's accounts and roles as mosquitto's dynamic-security plugin holds them, and its config file.

What each account may do (everything else is denied by the default ACL access):

* a **device** is bound to its own client id (= its user name) and may publish only the contract's three
  topics under its own prefix ``facility/{estate}/{building}/{kind}/{asset}/{telemetry|event|status}``;
  it may not subscribe at all (so no ``$share`` either);
* ``ingest`` reads every device topic, also through ``$share/<group>/...`` (the only role that may);
* ``app`` (maintenance, API, predictor) reads device topics and publishes crew / engineer / escalation notices;
* ``alarms`` reads device topics and publishes alarm notices and the same notices;
* ``simulator`` stands in for every device of a simulated fleet (publishes device topics only);
* ``admin`` alone may use ``$CONTROL/dynamic-security/#``; it also reads device topics and may publish
  to telemetry/event topics, so the retain guard it runs can delete retained messages there.

Passwords are hashed as the plugin does (PBKDF2-HMAC-SHA512, 12-byte salt, 101 iterations), so the file
can be written before the broker's first start; after that the plugin owns it and saves every change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facility.contract import TOPIC_ROOT, AssetRef, Channel

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
DEVICE = "device"
ITERATIONS = 101
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: user names and client ids of the services start with this: no device may be called that
RESERVED_PREFIX = "facility-"


class AccountError(ValueError):
    """An account request we (or the broker) refused; the message names the account and what to do."""


@dataclass(frozen=True)
class Acl:
    """One dynsec ACL entry (publishClientSend, publishClientReceive, subscribePattern, unsubscribePattern...)."""

    acltype: str
    topic: str
    allow: bool = True
    priority: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow, "priority": self.priority}


def _reads(*filters: str) -> tuple[Acl, ...]:
    return tuple(Acl("subscribePattern", f) for f in filters) + tuple(
        Acl("unsubscribePattern", f) for f in filters
    )


def _writes(*topics: str) -> tuple[Acl, ...]:
    return tuple(Acl("publishClientSend", t) for t in topics)


DEVICE_TOPICS = tuple(f"{TOPIC_ROOT}/+/+/+/+/{c.value}" for c in Channel)
_NOTICES = tuple(f"{TOPIC_ROOT}/{n}/#" for n in ("crews", "engineers", "escalations"))
_HEALTH = "$SYS/broker/uptime"
_RETAIN_CLEARED = tuple(f"{TOPIC_ROOT}/+/+/+/+/{c.value}" for c in (Channel.TELEMETRY, Channel.EVENT))

#: what an account may do that none of its roles mentions
_DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": True,
    "subscribe": False,
    "unsubscribe": True,
}

#: the service roles and what each may do
SERVICE_ROLES: Mapping[str, tuple[Acl, ...]] = {
    "ingest": _reads(f"{TOPIC_ROOT}/#", f"$share/+/{TOPIC_ROOT}/#", _HEALTH),
    "app": _reads(f"{TOPIC_ROOT}/#", _HEALTH) + _writes(*_NOTICES),
    "alarms": _reads(f"{TOPIC_ROOT}/#", _HEALTH) + _writes(f"{TOPIC_ROOT}/alarms/#", *_NOTICES),
    "simulator": _reads(_HEALTH) + _writes(*DEVICE_TOPICS),
    "admin": _reads(f"{CONTROL_TOPIC}/#", f"{TOPIC_ROOT}/#", _HEALTH)
    + _writes(CONTROL_TOPIC, *_RETAIN_CLEARED)
    + (Acl("publishClientReceive", f"{CONTROL_TOPIC}/#"),),
}

#: the service accounts of a local stack (user name -> role); compose uses ingest, app and simulator
LOCAL_SERVICES: Mapping[str, str] = {
    "ingest": "ingest",
    "app": "app",
    "maintenance": "app",
    "api": "app",
    "worker": "app",
    "alarms": "alarms",
    "simulator": "simulator",
}


def device_prefix(ref: AssetRef) -> str:
    return f"{TOPIC_ROOT}/{ref.estate}/{ref.building}/{ref.kind.value}/{ref.asset}"


def device_acls(prefix: str) -> tuple[Acl, ...]:
    """A device publishes exactly the contract's three topics under its own prefix, nothing deeper."""
    return _writes(*(f"{prefix}/{c.value}" for c in Channel))


def role_name(username: str, role: str) -> str:
    """A device gets a role of its own (dynsec 2.0 has no %u/%c patterns); a service shares its role."""
    return f"device-{username}" if role == DEVICE else f"{RESERVED_PREFIX}{role}"


@dataclass(frozen=True)
class AccountSpec:
    """An account as we want it: a device (``topic_prefix`` set) or a service (``role`` in SERVICE_ROLES)."""

    username: str
    role: str
    #: the client id the account must connect with (None: any; a device is always bound to its name)
    client_id: str | None = None
    topic_prefix: str = ""

    def __post_init__(self) -> None:
        if not _USERNAME.match(self.username):
            raise AccountError(f"user name {self.username!r} must be 1-128 letters, digits, '_', '-' or '.'")
        if self.role != DEVICE and self.role not in SERVICE_ROLES:
            raise AccountError(
                f"role must be 'device' or one of {sorted(SERVICE_ROLES)}, but was {self.role!r}"
            )
        if self.role == DEVICE:
            if self.username.startswith(RESERVED_PREFIX):
                raise AccountError(
                    f"device user name {self.username!r} starts with {RESERVED_PREFIX!r}, which is "
                    "reserved for services: choose another --username"
                )
            if not self.topic_prefix.startswith(f"{TOPIC_ROOT}/"):
                raise AccountError(f"device {self.username!r} needs its topic prefix facility/e/b/kind/asset")
            if self.client_id != self.username:
                raise AccountError(
                    f"device {self.username!r} must be bound to the client id {self.username!r}"
                )

    @classmethod
    def device(cls, ref: AssetRef, username: str | None = None) -> AccountSpec:
        name = username or ref.asset
        return cls(name, DEVICE, name, device_prefix(ref))

    @classmethod
    def service(cls, username: str, role: str | None = None, client_id: str | None = None) -> AccountSpec:
        return cls(username, role or LOCAL_SERVICES.get(username, username), client_id)

    @property
    def rolename(self) -> str:
        return role_name(self.username, self.role)

    @property
    def acls(self) -> tuple[Acl, ...]:
        return device_acls(self.topic_prefix) if self.role == DEVICE else SERVICE_ROLES[self.role]


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hashed(password: str, salt: bytes | None = None) -> dict[str, Any]:
    """The plugin's stored form of a password: base64 PBKDF2-SHA512 digest, base64 salt, iterations."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def _service_roles() -> list[dict[str, Any]]:
    return [
        {"rolename": role_name("", r), "acls": [a.as_json() for a in acls]}
        for r, acls in SERVICE_ROLES.items()
    ]


def dynsec_document(
    admin: tuple[str, str], services: Iterable[tuple[AccountSpec, str]] = ()
) -> dict[str, Any]:
    """The plugin's JSON config: the admin account, every service role, and ``services`` (spec, password).

    Default access denies publishing and subscribing; receiving what a subscription allows is permitted.
    """
    roles = _service_roles()
    clients = []
    for spec, password in [(AccountSpec(admin[0], "admin"), admin[1]), *services]:
        client: dict[str, Any] = {
            "username": spec.username,
            "roles": [{"rolename": spec.rolename, "priority": 0}],
            **hashed(password),
        }
        if spec.client_id:
            client["clientid"] = spec.client_id
        clients.append(client)
    return {
        "defaultACLAccess": dict(_DEFAULT_ACCESS),
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_dynsec(
    config_file: Path, secrets_file: Path, services: Mapping[str, str] = LOCAL_SERVICES, admin: str = "admin"
) -> dict[str, str]:
    """The plugin's config and our service passwords (user name -> password, ``admin`` included), before the
    broker starts.

    The first call writes both files (mode 0600) with fresh passwords. Later calls keep the plugin's file (it
    holds the device accounts added since) but bring it up to date: the service roles are rewritten as
    ``SERVICE_ROLES`` says now, and a service account missing from our passwords file (a new service, or the
    file was lost) gets a fresh password in both files.
    """
    creds: dict[str, str] = json.loads(secrets_file.read_text()) if secrets_file.is_file() else {}
    wanted = {admin: "admin", **services}
    if config_file.is_file():
        doc = json.loads(config_file.read_text())
        fresh = {name: new_password() for name in wanted if name not in creds}
    else:  # a new plugin file: every service account, with the passwords we have (so running services keep theirs)
        doc = {"defaultACLAccess": dict(_DEFAULT_ACCESS), "clients": [], "groups": [], "roles": []}
        fresh = {name: creds.get(name) or new_password() for name in wanted}
    creds.update(fresh)
    clients = {c["username"]: c for c in doc.get("clients", [])}
    for name, password in fresh.items():
        spec = AccountSpec.service(name, wanted[name])
        client = clients.setdefault(name, {"username": name})
        client.update(hashed(password), roles=[{"rolename": spec.rolename, "priority": 0}])
        client.pop("clientid", None)
    ours = {role_name("", r) for r in SERVICE_ROLES}
    doc["roles"] = [r for r in doc.get("roles", []) if r["rolename"] not in ours] + _service_roles()
    doc["clients"] = list(clients.values())
    _write_private(secrets_file, json.dumps(creds, indent=1))
    _write_private(config_file, json.dumps(doc, indent=1))
    return creds


@dataclass(frozen=True)
class DynsecBroker:
    """Where a dynsec broker listens and the passwords of its admin and service accounts."""

    host: str
    port: int
    #: user name -> password, for ``admin`` and each service account (ingest, maintenance, api, ...)
    credentials: Mapping[str, str]
    admin_username: str = "admin"

    @property
    def admin(self) -> tuple[str, str]:
        return self.admin_username, self.credentials[self.admin_username]

    def login(self, username: str) -> tuple[str, str]:
        if username not in self.credentials:
            raise AccountError(f"no service account {username!r}; known: {sorted(self.credentials)}")
        return username, self.credentials[username]


def service_role_commands() -> list[dict[str, Any]]:
    """Control commands that (re)create every service role and set the default access: the body of
    deploy/mosquitto/roles.json, which the compose stack's init sends to its broker on each start."""
    cmds: list[dict[str, Any]] = [
        {
            "command": "setDefaultACLAccess",
            "acls": [{"acltype": t, "allow": a} for t, a in _DEFAULT_ACCESS.items()],
        }
    ]
    for role, acls in SERVICE_ROLES.items():
        name = role_name("", role)
        cmds.append({"command": "deleteRole", "rolename": name})
        cmds.append({"command": "createRole", "rolename": name, "acls": [a.as_json() for a in acls]})
    return cmds


if __name__ == "__main__":  # python -m facility.services.dynsec > deploy/mosquitto/roles.json
    print(json.dumps({"commands": service_role_commands()}, indent=1))
