"""Done-when of issue 4: an elevator fault over MQTT → an assigned corrective order, notified on the crew's
topic → the crew acknowledges, starts and resolves it over the API → exact timeline and SLA figures; the
resolution breach is escalated while it happens (before the fix), to the engineer on duty."""

from __future__ import annotations

import datetime as dt
import json
import queue
import secrets

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.contract import AssetKind, AssetRef, Channel, EventType, encode_event
from facility.settings import Settings
from maintenance.db import Database
from maintenance.handler import Outcome
from maintenance.listener import EventListener
from maintenance.notify import MqttPublisher
from maintenance.tokens import Role, create_token
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.e2e
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


def subscriber(host: str, port: int, topics: list[str]) -> tuple[mqtt.Client, queue.Queue]:
    got: queue.Queue = queue.Queue()
    ready: queue.Queue = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-sub-{secrets.token_hex(4)}")
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([(t, 1) for t in topics])
    c.on_subscribe = lambda cl, u, mid, rc, p: ready.put(True)
    c.on_message = lambda cl, u, m: got.put((m.topic, json.loads(m.payload)))
    c.connect(host, port)
    c.loop_start()
    ready.get(timeout=10)
    return c, got


def test_elevator_fault_to_fix(mosquitto_server, db_url: str, tmp_path) -> None:
    """On SQLite and on PostgreSQL (``db_url``): the listener thread and the API share the store."""
    host, port = mosquitto_server.host, mosquitto_server.port
    db = Database.open(db_url)
    with db.transaction() as s:
        seed(s)
        crew_token = create_token(s, "li", Role.CREW, T0, crew_id="lift-a")
        eng_token = create_token(s, "wang", Role.ENGINEER, T0)
    clock = Clock(T0 + dt.timedelta(seconds=5))
    sub, got = subscriber(host, port, ["facility/crews/+/orders", "facility/engineers/+/escalations"])
    publisher = MqttPublisher(host, port, client_id=f"e2e-notify-{secrets.token_hex(4)}")
    outcomes: queue.Queue[Outcome] = queue.Queue()
    listener = EventListener(
        db,
        host,
        port,
        f"e2e-maint-{secrets.token_hex(4)}",
        publisher=publisher,
        clock=clock,
        on_outcome=outcomes.put,
    )
    listener.start()
    assert listener.subscribed.wait(10)
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-dev-{secrets.token_hex(4)}")
    device.connect(host, port)
    device.loop_start()
    try:
        info = device.publish(
            EL.topic(Channel.EVENT),
            encode_event(EventType.FAULT, "door_fault", int(T0.timestamp() * 1000), 7),
            qos=1,
        )
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        outcome = outcomes.get(timeout=15)
        assert (outcome.action, outcome.crew_id) == ("opened", "lift-a")
        topic, note = got.get(timeout=10)
        assert topic == "facility/crews/lift-a/orders"
        assert (note["event"], note["order"], note["asset"], note["crew"], note["priority"]) == (
            "assigned",
            outcome.order_id,
            EL.asset,
            "lift-a",
            "p2",
        )
        assert note["opened_at"] == T0.isoformat()

        settings = Settings(database_url=db_url, var_dir=tmp_path, manage_services=False)
        ctx = AppContext.from_settings(settings)
        ctx.extras.update(db=db, clock=clock, publisher=publisher)
        client = TestClient(create_app(settings, ctx))
        crew = {"Authorization": f"Bearer {crew_token}"}
        order_url = f"/api/v1/orders/{outcome.order_id}"

        def move(to: str, at: dt.timedelta) -> dict:
            clock.t = T0 + at
            r = client.post(f"{order_url}/transitions", json={"to": to}, headers=crew)
            assert r.status_code == 200, r.text
            return r.json()

        move("acknowledged", dt.timedelta(minutes=12))
        move("in_progress", dt.timedelta(minutes=20))
        clock.t = T0 + dt.timedelta(
            hours=24, minutes=1
        )  # resolution clock (24 h) runs out while work goes on
        r = client.post("/api/v1/sla/check", headers={"Authorization": f"Bearer {eng_token}"})
        assert [(e["order_id"], e["clock"], e["engineer_id"]) for e in r.json()] == [
            (outcome.order_id, "resolution", "eng-wang")
        ]
        assert client.post("/api/v1/sla/check", headers={"Authorization": f"Bearer {eng_token}"}).json() == []
        done = move("resolved", dt.timedelta(hours=26))

        seen: list[tuple[str, dict]] = []
        while len(seen) < 4:
            seen.append(got.get(timeout=10))
        assert [(t, n["event"]) for t, n in seen] == [
            ("facility/crews/lift-a/orders", "acknowledged"),
            ("facility/crews/lift-a/orders", "in_progress"),
            ("facility/engineers/eng-wang/escalations", "sla_breach"),
            ("facility/crews/lift-a/orders", "resolved"),
        ]
        assert done["sla"] == {
            "respond_due": "2026-11-02T09:15:00Z",
            "resolve_due": "2026-11-03T09:00:00Z",
            "response_minutes": 12.0,
            "resolution_hours": 26.0,
            "response_breached": False,
            "resolution_breached": True,
        }
        assert [(t["from_state"], t["to_state"], t["actor"], t["at"]) for t in done["transitions"]] == [
            (None, "created", "system:events", "2026-11-02T09:00:00Z"),
            ("created", "assigned", "system:events", "2026-11-02T09:00:00Z"),
            ("assigned", "acknowledged", "crew:li", "2026-11-02T09:12:00Z"),
            ("acknowledged", "in_progress", "crew:li", "2026-11-02T09:20:00Z"),
            ("in_progress", "resolved", "crew:li", "2026-11-03T11:00:00Z"),
        ]
        r = client.get(f"/api/v1/assets/{EL.asset}/timeline", headers=crew)
        assert [(i["state"], i["start"], i["end"]) for i in r.json()] == [
            ("in_service", "2010-01-01T00:00:00Z", "2026-11-02T09:00:00Z"),
            ("faulted", "2026-11-02T09:00:00Z", "2026-11-02T09:20:00Z"),
            ("under_maintenance", "2026-11-02T09:20:00Z", "2026-11-03T11:00:00Z"),
            ("in_service", "2026-11-03T11:00:00Z", None),
        ]
    finally:
        device.loop_stop()
        device.disconnect()
        listener.stop()
        publisher.close()
        sub.loop_stop()
        sub.disconnect()
        db.dispose()
