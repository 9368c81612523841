"""Broker accounts behind one small interface, implemented with mosquitto's dynamic-security plugin.

``BrokerAccounts`` is what the CLI, the demo and the stack use; :class:`DynsecAccounts` speaks the plugin's
``$CONTROL/dynamic-security/v1`` JSON API over one MQTT connection (commands are batched, so provisioning
1,000 devices is a handful of messages, not a CLI start per device). A clustered broker (EMQX's or HiveMQ's
authentication API) can take its place by implementing the same five methods. The roles and what each
account may do are in ``facility.services.dynsec``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from facility.mqtt import BrokerConfig, create_client
from facility.services.dynsec import (
    CONTROL_TOPIC,
    DEVICE,
    RESERVED_PREFIX,
    AccountError,
    AccountSpec,
    DynsecBroker,
    new_password,
    role_name,
)

RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
#: one control message carries at most this many bytes of commands (well under ``message_size_limit``)
BATCH_BYTES = 48 * 1024

__all__ = ["AccountError", "AccountSpec", "BrokerAccount", "BrokerAccounts", "DynsecAccounts", "SyncReport"]


@dataclass(frozen=True)
class BrokerAccount:
    """An account as the broker has it."""

    username: str
    rolenames: tuple[str, ...]
    client_id: str | None
    disabled: bool = False


@dataclass
class SyncReport:
    """What ``sync`` did: new accounts with their passwords (shown once), and what it left or removed."""

    created: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class BrokerAccounts(Protocol):
    """The broker's account API; each call acts on the running broker at once."""

    def add(self, spec: AccountSpec, password: str) -> None:
        """Create the account (AccountError if it exists)."""

    def revoke(self, username: str) -> None:
        """Delete the account; a connected client with it is disconnected at once."""

    def rotate(self, username: str, password: str) -> None:
        """Set a new password, keeping the account (and so its persistent session and backlog)."""

    def sync(self, specs: Sequence[AccountSpec], prune_devices: bool = False) -> SyncReport:
        """Create every missing account (fresh passwords); with ``prune_devices`` delete devices not listed."""

    def list(self) -> list[BrokerAccount]:
        """Every account the broker knows."""


# --------------------------------------------------------------------------- the dynsec command language


def role_commands(spec: AccountSpec) -> list[dict[str, Any]]:
    return [{"command": "createRole", "rolename": spec.rolename, "acls": [a.as_json() for a in spec.acls]}]


def client_command(spec: AccountSpec, password: str) -> dict[str, Any]:
    cmd: dict[str, Any] = {
        "command": "createClient",
        "username": spec.username,
        "password": password,
        "roles": [{"rolename": spec.rolename, "priority": 0}],
    }
    if spec.client_id:
        cmd["clientid"] = spec.client_id
    return cmd


def batches(commands: Sequence[dict[str, Any]], limit: int = BATCH_BYTES) -> list[list[dict[str, Any]]]:
    """Commands grouped so that each control message (``{"commands": [...]}``, each command with the
    ``correlationData`` we add) stays under ``limit`` bytes."""
    out: list[list[dict[str, Any]]] = []
    size = limit + 1
    for cmd in commands:
        n = len(json.dumps(cmd)) + len(', "correlationData": "123456789012"') + 2
        if size + n > limit:
            out.append([])
            size = len('{"commands": []}')
        out[-1].append(cmd)
        size += n
    return out


# --------------------------------------------------------------------------- the dynsec implementation


class DynsecAccounts:
    """``BrokerAccounts`` for mosquitto's dynamic-security plugin, over one admin MQTT connection."""

    def __init__(self, config: BrokerConfig, timeout_s: float = 10.0) -> None:
        """Connect as the broker's admin (``config`` carries its user name and password)."""
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._replies: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition(self._lock)
        self._ready = threading.Event()
        self._refused: str | None = None
        c = create_client(config, f"{RESERVED_PREFIX}admin-{secrets.token_hex(4)}")
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *a: self._ready.set()
        c.on_message = self._on_message
        self._client = c
        try:
            c.connect(config.host, config.port, keepalive=config.keepalive_s)
        except OSError as exc:
            raise AccountError(
                f"cannot reach the broker at {config.host}:{config.port} ({exc}): is it running?"
            ) from None
        c.loop_start()
        if not self._ready.wait(timeout_s) or self._refused:
            self.close()
            raise AccountError(
                f"the broker at {config.host}:{config.port} refused the admin account {config.username!r}"
                f" ({self._refused or 'no answer'}): check its password"
            )

    @classmethod
    def for_broker(cls, broker: DynsecBroker, timeout_s: float = 10.0) -> DynsecAccounts:
        user, password = broker.admin
        return cls(BrokerConfig(broker.host, broker.port, user, password), timeout_s)

    def __enter__(self) -> DynsecAccounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            self._refused = str(rc)
            self._ready.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        with self._arrived:
            for r in body.get("responses", []):
                cid = r.get("correlationData")
                if cid is not None:
                    self._replies[str(cid)] = r
            self._arrived.notify_all()

    def call(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands (batched), wait for every response; returns them in order."""
        ids = []
        for batch in batches(commands):
            payload = []
            for cmd in batch:
                cid = str(next(self._ids))
                ids.append(cid)
                payload.append({**cmd, "correlationData": cid})
            info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": payload}), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise AccountError(f"could not send to the broker: {mqtt.error_string(info.rc)}")
        with self._arrived:
            # a big batch takes the plugin a while (it saves its file after each command): give up only when
            # no answer at all has come for ``timeout_s``
            answered = -1
            while (done := sum(i in self._replies for i in ids)) < len(ids):
                if done == answered:
                    raise AccountError(
                        f"the broker answered {done} of {len(ids)} account commands and then nothing for "
                        f"{self.timeout_s:.0f} s: is the dynamic-security plugin loaded?"
                    )
                answered = done
                self._arrived.wait_for(partial(self._more_than, ids, done), self.timeout_s)
            return [self._replies.pop(i) for i in ids]

    def _more_than(self, ids: Sequence[str], n: int) -> bool:
        return sum(i in self._replies for i in ids) > n

    def _checked(
        self, commands: Sequence[dict[str, Any]], tolerate: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        replies = self.call(commands)
        for cmd, reply in zip(commands, replies, strict=True):
            err = reply.get("error")
            if err and err not in tolerate:
                who = cmd.get("username") or cmd.get("rolename") or ""
                raise AccountError(f"broker refused {cmd['command']} {who}: {err}")
        return replies

    # -- BrokerAccounts

    def add(self, spec: AccountSpec, password: str) -> None:
        if any(a.username == spec.username for a in self.list()):
            raise AccountError(f"account {spec.username!r} exists: rotate its password or revoke it first")
        self._create([(spec, password)])

    def _create(self, accounts: Sequence[tuple[AccountSpec, str]]) -> None:
        roles = [c for spec, _ in accounts if spec.role == DEVICE for c in role_commands(spec)]
        # a service role exists already (made with the config file); a device role may be left from a crash
        self._checked(roles, tolerate=("Role already exists",))
        self._checked([client_command(spec, pw) for spec, pw in accounts])

    def revoke(self, username: str) -> None:
        found = [a for a in self.list() if a.username == username]
        if not found:
            raise AccountError(f"no account {username!r} on the broker: see `facility devices list`")
        self._delete(found)

    def _delete(self, accounts: Sequence[BrokerAccount]) -> None:
        self._checked([{"command": "deleteClient", "username": a.username} for a in accounts])
        own = [r for a in accounts for r in a.rolenames if r == role_name(a.username, DEVICE)]
        self._checked([{"command": "deleteRole", "rolename": r} for r in own], tolerate=("Role not found",))

    def rotate(self, username: str, password: str) -> None:
        (reply,) = self.call([{"command": "setClientPassword", "username": username, "password": password}])
        if reply.get("error"):
            raise AccountError(f"cannot set the password of {username!r}: {reply['error']}")

    def sync(self, specs: Sequence[AccountSpec], prune_devices: bool = False) -> SyncReport:
        have = {a.username: a for a in self.list()}
        report = SyncReport()
        missing = []
        for spec in specs:
            if spec.username in have:
                report.unchanged.append(spec.username)
            else:
                missing.append((spec, new_password()))
        self._create(missing)
        report.created = {spec.username: pw for spec, pw in missing}
        if prune_devices:
            wanted = {s.username for s in specs}
            gone = [
                a
                for a in have.values()
                if a.username not in wanted and role_name(a.username, DEVICE) in a.rolenames
            ]
            self._delete(gone)
            report.removed = sorted(a.username for a in gone)
        return report

    def list(self) -> list[BrokerAccount]:
        (reply,) = self._checked([{"command": "listClients", "verbose": True, "count": -1}])
        return [
            BrokerAccount(
                c["username"],
                tuple(r["rolename"] for r in c.get("roles", [])),
                c.get("clientid"),
                bool(c.get("disabled", False)),
            )
            for c in reply["data"]["clients"]
        ]
