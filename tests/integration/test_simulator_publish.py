"""The simulators' MQTT publisher against a real mosquitto: a subscriber gets exactly what was simulated."""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections import defaultdict

import orjson
import paho.mqtt.client as mqtt
import pytest

from facility.contract import Channel, Reading, decode, subscription
from facility.fleet import parse_fleet
from simulators.fleetsim import FleetSimulator
from simulators.publisher import BrokerConfig, MqttPublisher, PublishError, topic_and_payload

pytestmark = pytest.mark.integration

START = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)


def small_fleet(estate: str):
    counts = {"elevator": 1, "fire_alarm": 1, "water_pump": 1, "smart_bin": 1}
    return parse_fleet(
        {"estates": [{"id": estate, "company": "pc", "buildings": [{"id": "b1", "counts": counts}]}]}
    )


FLEET = small_fleet("pub")


class Subscriber:
    def __init__(self, host: str, port: int, topic: str) -> None:
        self.got: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{time.monotonic_ns()}")
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda c, u, m: self.got.put((m.topic, m.payload, bool(m.retain)))
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscription not acknowledged"

    def take(self, n: int, timeout_s: float = 30.0) -> list[tuple[str, bytes, bool]]:
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < n and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                out.append(self.got.get(timeout=0.2))
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_subscriber_receives_exactly_the_simulated_messages(mosquitto_server):
    sim = FleetSimulator(FLEET, 1, START, auto_repair_after_s=3600)
    msgs = sim.advance(START + 12 * 86_400_000, 900)
    sub = Subscriber(mosquitto_server.host, mosquitto_server.port, "facility/pub/#")
    refs = [a.ref for a in FLEET.assets]
    clock_ms = int(time.time() * 1000)
    publisher = MqttPublisher(
        BrokerConfig(mosquitto_server.host, mosquitto_server.port, client_id_prefix="t-exact"),
        refs,
        status_clock=lambda: clock_ms,
        max_queued=5,  # tiny queue: publish() must slow down and retry instead of dropping
    ).start()
    publisher.publish_many(msgs)
    publisher.close()
    got = sub.take(len(msgs) + 2 * len(refs))
    time.sleep(0.3)  # anything extra (a duplicate) would arrive now
    sub.close()
    assert sub.got.empty()
    assert publisher.queue_full_waits > 0
    statuses = [(t, orjson.loads(p)["state"], r) for t, p, r in got if t.endswith("/status")]
    for ref in refs:
        mine = [(s, r) for t, s, r in statuses if t == ref.topic(Channel.STATUS)]
        assert mine == [("online", False), ("offline", False)]  # live (not retained) copies, in order
    data = [(t, p) for t, p, _ in got if not t.endswith("/status")]
    per_device_sent = defaultdict(list)
    for m in msgs:
        topic, payload, _ = topic_and_payload(m)
        per_device_sent[m.ref.asset].append((topic, payload))
    per_device_got = defaultdict(list)
    for t, p in data:
        per_device_got[t.split("/")[4]].append((t, p))
    assert (
        per_device_got == per_device_sent
    )  # same payload bytes, same order per device, nothing lost or doubled
    decoded = [decode(t, p, START + 13 * 86_400_000)[0] for t, p in data[:50]]
    assert all(d.ref.estate == "pub" for d in decoded)


def test_status_is_retained_and_the_last_will_says_offline(mosquitto_server):
    refs = [a.ref for a in small_fleet("will").assets]
    publisher = MqttPublisher(
        BrokerConfig(mosquitto_server.host, mosquitto_server.port, client_id_prefix="t-will"), refs
    ).start()
    victim = refs[0]
    late = Subscriber(mosquitto_server.host, mosquitto_server.port, "facility/will/+/+/+/status")
    retained = {t: (orjson.loads(p)["state"], r) for t, p, r in late.take(len(refs), 10)}
    assert retained == {ref.topic(Channel.STATUS): ("online", True) for ref in refs}
    # cut one device's network connection without a DISCONNECT: the broker publishes its will
    publisher._by_asset[victim.asset].client.socket().close()
    seen = [(t, orjson.loads(p)["state"]) for t, p, _ in late.take(2, 20)]
    late.close()
    assert seen == [(victim.topic(Channel.STATUS), "offline"), (victim.topic(Channel.STATUS), "online")]
    publisher.close()


def test_unreachable_broker_is_one_clear_error():
    from facility.services.ports import free_port

    port = free_port()
    publisher = MqttPublisher(BrokerConfig("127.0.0.1", port), [FLEET.assets[0].ref], connect_timeout_s=0.5)
    with pytest.raises(PublishError, match=f"cannot connect to the MQTT broker at 127.0.0.1:{port}"):
        publisher.start()


def test_subscription_filter_matches_simulator_topics():
    ref = FLEET.assets[0].ref
    assert mqtt.topic_matches_sub(subscription(), ref.topic(Channel.EVENT))


def test_messages_published_during_a_broker_outage_arrive_after_it_returns(tmp_path):
    from facility.services.mosquitto import MosquittoServer
    from facility.services.ports import free_port

    broker = MosquittoServer(tmp_path, free_port())
    broker.start()
    fleet = small_fleet("out")
    refs = [a.ref for a in fleet.assets]
    # a persistent subscriber session: the broker keeps its messages while it is away
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="outage-sub", clean_session=False)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    sub.subscribe("facility/out/+/+/+/telemetry", qos=1)
    assert subscribed.wait(10)
    sub.disconnect()
    sub.loop_stop()
    sim = FleetSimulator(fleet, 3, START)
    first = sim.advance(START + 86_400_000, 900)
    second = sim.advance(START + 2 * 86_400_000, 900)
    publisher = MqttPublisher(BrokerConfig(broker.host, broker.port, client_id_prefix="t-out"), refs).start()
    try:
        publisher.publish_many(first)
        publisher.flush()
        broker.stop()
        restart = threading.Timer(1.5, broker.start)
        restart.start()
        publisher.publish_many(second)  # waits for paho to reconnect; nothing is dropped
        restart.join()
        publisher.flush(30)
        assert publisher.reconnect_waits + publisher.sent_while_disconnected > 0  # the outage was hit
    finally:
        publisher.close()
    got: queue.Queue[bytes] = queue.Queue()
    sub2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="outage-sub", clean_session=False)
    sub2.on_message = lambda c, u, m: got.put(m.payload)
    sub2.connect(broker.host, broker.port)
    sub2.loop_start()
    sent = {topic_and_payload(m)[1] for m in first + second if isinstance(m, Reading)}
    received: set[bytes] = set()
    deadline = time.monotonic() + 30
    while received != sent and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            received.add(got.get(timeout=0.2))
    sub2.disconnect()
    sub2.loop_stop()
    broker.stop()
    assert received == sent  # QoS 1: at least once (a redelivered duplicate is allowed), none lost


def test_history_lands_in_influxdb_through_ingest_line_protocol(influx):
    from facility.settings import Settings
    from simulators.service import load_history

    fleet = small_fleet("hist")
    settings = Settings(influx_url=influx.url, influx_db=influx.database)
    end = START + 3 * 86_400_000
    h = load_history(settings, fleet, days=2, step_s=900, seed=2, end_ms=end)
    pump = next(a.ref for a in fleet.assets if a.kind.value == "water_pump")
    sent = [m for m in h.messages() if isinstance(m, Reading) and m.ref == pump]
    rows = influx.records(f"SELECT * FROM water_pump WHERE asset = '{pump.asset}' ORDER BY time")
    assert len(rows) == len(sent) == 2 * 96
    for row, m in zip(rows, sent, strict=True):
        assert row["time"] == m.ts_ms and row["seq"] == m.seq
        assert {k: row[k] for k in m.values} == pytest.approx(dict(m.values))


def test_per_device_credentials_on_a_broker_with_accounts_and_acl(tmp_path):
    from facility.services.mosquitto import MosquittoServer
    from facility.services.ports import free_port
    from ingest.security import Account, device_prefix, hash_password, render_acl, render_password_file

    fleet = small_fleet("auth")
    refs = [a.ref for a in fleet.assets]
    secret = {ref.asset: f"pw-{ref.asset}" for ref in refs}
    accounts = [Account(r.asset, "device", device_prefix(r), hash_password(secret[r.asset]), 0) for r in refs]
    accounts.append(Account("reader", "service", "", hash_password("reader-pw"), 0))
    (tmp_path / "passwd").write_text(render_password_file(accounts))
    (tmp_path / "acl").write_text(render_acl(accounts))
    broker = MosquittoServer(
        tmp_path, free_port(), password_file=tmp_path / "passwd", acl_file=tmp_path / "acl"
    )
    broker.start()
    try:
        got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        ready = threading.Event()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="auth-reader")
        sub.username_pw_set("reader", "reader-pw")
        sub.on_connect = lambda c, *_: c.subscribe("facility/auth/+/+/+/telemetry", qos=1)
        sub.on_subscribe = lambda *_: ready.set()
        sub.on_message = lambda c, u, m: got.put((m.topic, m.payload))
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        assert ready.wait(10)
        msgs = [
            m
            for m in FleetSimulator(fleet, 4, START).advance(START + 6 * 3_600_000, 900)
            if isinstance(m, Reading)
        ]
        config = BrokerConfig(broker.host, broker.port, client_id_prefix="t-auth")
        with MqttPublisher(config, refs, credentials=lambda ref: (ref.asset, secret[ref.asset])) as pub:
            pub.publish_many(msgs)
            pub.flush()
        received = []
        deadline = time.monotonic() + 20
        while len(received) < len(msgs) and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                received.append(got.get(timeout=0.2))
        sub.disconnect()
        sub.loop_stop()
        assert sorted(received) == sorted(topic_and_payload(m)[:2] for m in msgs)
        wrong = MqttPublisher(
            config, refs[:1], credentials=lambda ref: (ref.asset, "wrong"), connect_timeout_s=5
        )
        with pytest.raises(PublishError, match="refused the connection"):
            wrong.start()
    finally:
        broker.stop()
