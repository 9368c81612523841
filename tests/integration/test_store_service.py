"""The maintenance service as `facility maintenance` / the demo run it: fleet loaded on first start, MQTT
events → orders, crew notifications and SLA escalations delivered by its periodic loop."""

from __future__ import annotations

import datetime as dt
import json
import queue
import secrets

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
import yaml

from facility.contract import AssetKind, AssetRef, Channel, EventType, encode_event
from facility.settings import Settings
from maintenance.models import Crew, Engineer, Order
from maintenance.service import MaintenanceService
from tests.ingest_support import own_broker_fixture  # noqa: F401
from tests.maint_helpers import FLEET_YAML, T0
from tests.registry_support import import_fleet

pytestmark = pytest.mark.integration
EL = AssetRef("jinhu", "t1", AssetKind.ELEVATOR, "jinhu-t1-el1")


def test_service_turns_mqtt_faults_into_orders_and_escalates(own_broker, tmp_path) -> None:
    # a broker of its own: the service also reads status, and other tests leave retained status messages
    mosquitto_server = own_broker
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET_YAML), encoding="utf-8")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'svc.db'}",
        var_dir=tmp_path,
        mqtt_host=mosquitto_server.host,
        mqtt_port=mosquitto_server.port,
        fleet_file=fleet,
        maintenance_client_id=f"svc-{secrets.token_hex(4)}",
        manage_services=False,
    )
    import_fleet(settings, fleet)  # the registry is loaded by the operator, not by the service
    now = [T0 + dt.timedelta(seconds=1)]
    svc = MaintenanceService(settings, clock=lambda: now[0], interval_s=0.1)
    with svc.db.transaction() as s:
        s.add(Crew(id="j", name="J", skills=["elevator"], estates=["jinhu"]))
        s.add(
            Engineer(
                id="eng-j", name="E", estates=["jinhu"], hours_start=8, hours_end=20, timezone="Asia/Shanghai"
            )
        )
    got: queue.Queue = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"svc-sub-{secrets.token_hex(4)}")
    ready: queue.Queue = queue.Queue()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(
        [("facility/crews/j/orders", 1), ("facility/engineers/#", 1)]
    )
    sub.on_subscribe = lambda c, u, mid, rc, p: ready.put(True)
    sub.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    sub.connect(mosquitto_server.host, mosquitto_server.port)
    sub.loop_start()
    ready.get(timeout=10)
    svc.start()
    try:
        assert svc.listener.subscribed.wait(10)
        with svc.db.transaction() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"svc-dev-{secrets.token_hex(4)}")
        pub.connect(mosquitto_server.host, mosquitto_server.port)
        pub.loop_start()
        # a broken message is dropped (and acknowledged) without stalling the ones behind it
        assert pub.publish(EL.topic(Channel.EVENT), b"not json", qos=1).rc == mqtt.MQTT_ERR_SUCCESS
        payload = encode_event(EventType.FAULT, "entrapment", int(T0.timestamp() * 1000), 1)
        assert pub.publish(EL.topic(Channel.EVENT), payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS
        topic, note = got.get(timeout=10)
        assert (topic, note["event"], note["priority"], note["asset"]) == (
            "facility/crews/j/orders",
            "assigned",
            "p1",
            EL.asset,
        )
        now[0] = T0 + dt.timedelta(minutes=11)  # 17:11 in Shanghai: the engineer is on duty
        topic, note = got.get(timeout=10)
        assert (topic, note["event"], note["clock"], note["order"]) == (
            "facility/engineers/eng-j/escalations",
            "sla_breach",
            "response",
            1,
        )
        pub.loop_stop()
        pub.disconnect()
    finally:
        svc.stop()
        sub.loop_stop()
        sub.disconnect()
