"""The broker cases of the probe (issue 15) on mosquitto with the dynamic-security plugin, as the stack runs it.

Each case asserts the broker's own answer (CONNACK / SUBACK / PUBACK reason codes, disconnect reasons) and
what a subscriber actually received.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

from facility.contract import MAX_PAYLOAD_BYTES, AssetKind, AssetRef, Channel, encode_reading
from facility.services.dynsec import AccountSpec, DynsecBroker
from ingest.broker_accounts import DynsecAccounts

pytestmark = pytest.mark.integration

#: MQTT 5 reason codes (mosquitto 2.0 answers a wrong password with 135 as well, not 134)
SUCCESS, NOT_AUTHORIZED, ADMIN_ACTION = 0, 135, 152
T0 = int(time.time() * 1000)
_names = itertools.count()


class Peer:
    """One MQTT 5 connection that records every broker answer."""

    def __init__(
        self,
        broker: DynsecBroker,
        login: tuple[str, str] | None,
        client_id: str,
        persistent: bool = False,
    ) -> None:
        self.connack: int | None = None
        self.subacks: list[int] = []
        self.pubacks: dict[int, int] = {}
        self.received: list[tuple[str, bytes, bool]] = []
        self.disconnects: list[int] = []
        self._answer = threading.Condition()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if login:
            c.username_pw_set(*login)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda cl, ud, fl, rc, pr: self._note(self.disconnects.append, rc.value)
        c.on_subscribe = lambda cl, ud, mid, rcs, pr: self._note(self.subacks.extend, [r.value for r in rcs])
        c.on_publish = lambda cl, ud, mid, rc, pr: self._note(
            lambda v: self.pubacks.__setitem__(mid, v), rc.value
        )
        c.on_message = lambda cl, ud, m: self._note(
            self.received.append, (m.topic, m.payload, bool(m.retain))
        )
        self.c = c
        props = None
        if persistent:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        c.connect(broker.host, broker.port, clean_start=not persistent, properties=props)
        c.loop_start()
        self.wait(lambda: self.connack is not None)

    def _on_connect(self, client: mqtt.Client, ud: Any, flags: Any, rc: Any, props: Any) -> None:
        self._note(lambda v: setattr(self, "connack", v), rc.value)

    def _note(self, fn: Any, value: Any) -> None:
        with self._answer:
            fn(value)
            self._answer.notify_all()

    def wait(self, cond: Any, timeout_s: float = 10.0) -> bool:
        with self._answer:
            return self._answer.wait_for(cond, timeout_s)

    def subscribe(self, topic: str, retain_as_published: bool = False) -> int:
        n = len(self.subacks)
        self.c.subscribe(topic, options=SubscribeOptions(qos=1, retainAsPublished=retain_as_published))
        assert self.wait(lambda: len(self.subacks) > n)
        return self.subacks[n]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        assert self.wait(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def accounts(dynsec_broker: DynsecBroker) -> Iterator[DynsecAccounts]:
    with DynsecAccounts.for_broker(dynsec_broker) as acc:
        yield acc


@pytest.fixture(scope="module")
def svc(accounts: DynsecAccounts) -> dict[str, tuple[str, str]]:
    """Service accounts of this module's own (the session's shared ones may be rotated by other tests)."""
    logins = {}
    for role in ("ingest", "app"):
        name = f"probe-{role}-{next(_names)}"
        accounts.add(AccountSpec.service(name, role), "pw-" + name)
        logins[role] = (name, "pw-" + name)
    return logins


def new_device(accounts: DynsecAccounts, kind: AssetKind = AssetKind.ELEVATOR) -> tuple[AssetRef, str]:
    ref = AssetRef("E9", "B9", kind, f"probe-{next(_names)}")
    accounts.add(AccountSpec.device(ref), "pw-" + ref.asset)
    return ref, "pw-" + ref.asset


def reading(seq: int) -> bytes:
    return encode_reading({"motor_current_a": 10.0 + seq % 7}, T0 + seq, seq)


def test_anonymous_and_wrong_password_are_refused(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts
) -> None:
    ref, pw = new_device(accounts)
    assert Peer(dynsec_broker, None, ref.asset).connack == NOT_AUTHORIZED
    assert Peer(dynsec_broker, (ref.asset, pw + "x"), ref.asset).connack == NOT_AUTHORIZED
    assert Peer(dynsec_broker, ("nobody", pw), "nobody").connack == NOT_AUTHORIZED
    ok = Peer(dynsec_broker, (ref.asset, pw), ref.asset)
    assert ok.connack == SUCCESS
    ok.close()


def test_a_device_publishes_only_its_own_contract_topics(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts, svc: dict[str, tuple[str, str]]
) -> None:
    (a, pw_a), (b, _) = new_device(accounts), new_device(accounts, AssetKind.WATER_PUMP)
    ingest = Peer(dynsec_broker, svc["ingest"], f"probe-ingest-{next(_names)}")
    assert ingest.subscribe("facility/E9/#") == 1
    dev = Peer(dynsec_broker, (a.asset, pw_a), a.asset)
    own = a.topic(Channel.TELEMETRY)
    assert dev.publish(own, reading(1)) == SUCCESS
    assert dev.publish(a.topic(Channel.EVENT), b'{"ts":1}') == SUCCESS
    refused = {
        b.topic(Channel.TELEMETRY): dev.publish(b.topic(Channel.TELEMETRY), reading(2)),  # another device's
        own + "/extra": dev.publish(own + "/extra", reading(3)),  # wrong depth under its own prefix
        f"facility/E9/B9/elevator/{a.asset}/config": dev.publish(
            f"facility/E9/B9/elevator/{a.asset}/config", b"x"
        ),
        "facility/crews/c1": dev.publish("facility/crews/c1", b"{}"),  # a notice only the app may send
    }
    assert refused == dict.fromkeys(refused, NOT_AUTHORIZED)
    assert dev.subscribe("facility/#") == NOT_AUTHORIZED  # a device reads nothing
    assert dev.publish(own, reading(4)) == SUCCESS  # a marker: everything before it has been routed
    assert ingest.wait(lambda: len(ingest.received) == 3)
    time.sleep(0.2)  # let anything wrongly routed arrive as well
    assert [(t, p) for t, p, _ in ingest.received] == [
        (own, reading(1)),
        (a.topic(Channel.EVENT), b'{"ts":1}'),
        (own, reading(4)),
    ]
    # the broker's size limit is the contract's: one byte more is refused before anything stores or routes it.
    # mosquitto 2.0 answers PUBACK 0x95, a code MQTT 5 does not allow on a PUBACK, so paho drops the connection
    dev.c.reconnect_delay_set(60, 60)
    assert dev.c.publish(own, b" " * (MAX_PAYLOAD_BYTES + 1), qos=1, retain=True).rc == mqtt.MQTT_ERR_SUCCESS
    assert dev.wait(lambda: bool(dev.disconnects))
    time.sleep(0.2)
    assert len(ingest.received) == 3
    dev.c.loop_stop()
    ingest.close()


def test_only_the_ingest_role_may_subscribe_to_a_share_group(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts, svc: dict[str, tuple[str, str]]
) -> None:
    ref, pw = new_device(accounts)
    dev = Peer(dynsec_broker, (ref.asset, pw), ref.asset)
    app = Peer(dynsec_broker, svc["app"], f"probe-app-{next(_names)}")
    ingest = Peer(dynsec_broker, svc["ingest"], f"probe-ingest-{next(_names)}")
    share = "$share/ingest/facility/+/+/+/+/+"
    assert dev.subscribe(share) == NOT_AUTHORIZED
    assert app.subscribe(share) == NOT_AUTHORIZED
    assert app.subscribe("facility/+/+/+/+/event") == 1  # the app reads events directly
    assert ingest.subscribe(share) == 1
    for p in (dev, app, ingest):
        p.close()


def test_client_id_takeover_is_refused_and_the_ingester_keeps_its_backlog(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts
) -> None:
    """Issue 11: a device connecting as ``facility-ingest`` destroyed the ingester's session (97 of 1,000
    readings lost). Now it is refused; and rotating the ingest password while it is away keeps the backlog."""
    ref, pw = new_device(accounts)
    ingest_id = f"facility-ingest-probe-{next(_names)}"
    user = f"probe-ingest-{next(_names)}"
    accounts.add(AccountSpec.service(user, "ingest"), "before")
    ingest = Peer(dynsec_broker, (user, "before"), ingest_id, persistent=True)
    assert ingest.subscribe(f"facility/E9/B9/elevator/{ref.asset}/telemetry") == 1
    ingest.close()  # away (a restart): the broker keeps its session and queues for it

    dev = Peer(dynsec_broker, (ref.asset, pw), ref.asset)
    sent = [reading(i) for i in range(300)]
    acks = [dev.publish(ref.topic(Channel.TELEMETRY), p) for p in sent[:150]]
    rogue = Peer(
        dynsec_broker, (ref.asset, pw), ingest_id, persistent=True
    )  # its own login, the ingester's id
    assert rogue.connack == NOT_AUTHORIZED
    other = new_device(accounts)
    assert (
        Peer(dynsec_broker, (other[0].asset, other[1]), ref.asset).connack == NOT_AUTHORIZED
    )  # nor a device's
    acks += [dev.publish(ref.topic(Channel.TELEMETRY), p) for p in sent[150:]]
    assert acks == [SUCCESS] * 300
    dev.close()

    accounts.rotate(user, "after")  # the service's password changes while it is away
    assert Peer(dynsec_broker, (user, "before"), ingest_id).connack == NOT_AUTHORIZED
    back = Peer(dynsec_broker, (user, "after"), ingest_id, persistent=True)
    assert back.connack == SUCCESS
    assert back.wait(lambda: len(back.received) == 300)
    assert [p for _, p, _ in back.received] == sent
    back.close()


def test_a_revoked_device_is_disconnected_at_once_and_cannot_reconnect(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts
) -> None:
    ref, pw = new_device(accounts)
    dev = Peer(dynsec_broker, (ref.asset, pw), ref.asset)
    dev.c.reconnect_delay_set(60, 60)  # no automatic reconnect inside the test
    assert dev.publish(ref.topic(Channel.TELEMETRY), reading(0)) == SUCCESS
    accounts.revoke(ref.asset)
    assert dev.wait(lambda: bool(dev.disconnects), timeout_s=5.0), "still connected 5 s after revoke"
    assert dev.disconnects[0] == ADMIN_ACTION
    assert Peer(dynsec_broker, (ref.asset, pw), ref.asset).connack == NOT_AUTHORIZED
    assert ref.asset not in {a.username for a in accounts.list()}
    dev.c.loop_stop()


def test_retained_messages_are_kept_only_on_status(
    dynsec_broker: DynsecBroker, accounts: DynsecAccounts, svc: dict[str, tuple[str, str]]
) -> None:
    ref, pw = new_device(accounts)
    prefix = f"facility/E9/B9/elevator/{ref.asset}"
    watcher = Peer(dynsec_broker, svc["ingest"], f"probe-watch-{next(_names)}")
    assert watcher.subscribe(f"{prefix}/+", retain_as_published=True) == 1
    dev = Peer(dynsec_broker, (ref.asset, pw), ref.asset)
    assert dev.publish(ref.topic(Channel.TELEMETRY), reading(0), retain=True) == SUCCESS
    assert dev.publish(ref.topic(Channel.EVENT), b'{"ts":1}', retain=True) == SUCCESS
    assert dev.publish(ref.topic(Channel.STATUS), b"online", retain=True) == SUCCESS
    dev.close()
    # the guard's deletes (zero-length retained messages) pass through the broker like any message
    assert watcher.wait(lambda: sum(1 for _, p, _ in watcher.received if p == b"") == 2)
    assert sorted((t.rsplit("/", 1)[1], p) for t, p, r in watcher.received if r and p == b"") == [
        ("event", b""),
        ("telemetry", b""),
    ]
    watcher.close()
    late = Peer(dynsec_broker, svc["ingest"], f"probe-late-{next(_names)}")
    assert late.subscribe(f"{prefix}/+") == 1
    assert late.wait(lambda: len(late.received) >= 1)
    time.sleep(0.2)  # anything else retained would arrive with it
    assert [(t, p, r) for t, p, r in late.received] == [(f"{prefix}/status", b"online", True)]
    late.close()
