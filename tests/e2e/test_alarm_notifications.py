"""An entrapment published by a simulated lift over MQTT reaches the maintenance service: a P1 order for the
lift crew, an alarm linked to it, and a note on every channel the crew configured (WeCom, DingTalk, Feishu,
SMS, e-mail), each checked by a local receiver that verifies the documented format and signature."""

from __future__ import annotations

import secrets
import time

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
import yaml

from facility.contract import AssetKind, AssetRef, Channel, EventType, encode_event
from facility.settings import Settings
from maintenance.alarms.models import AlarmRow, ChannelRow
from maintenance.models import Crew, Order
from maintenance.service import MaintenanceService
from tests.alarm_receivers import Mailbox, Receivers
from tests.maint_helpers import FLEET_YAML
from tests.registry_support import import_fleet

pytestmark = pytest.mark.e2e
LIFT = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")
SECRET = "robot-secret-0123456789"


def _until(check, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_entrapment_opens_a_p1_order_and_reaches_every_channel_of_the_lift_crew(
    mosquitto_server, tmp_path
) -> None:
    hooks, mailbox = Receivers(SECRET).start(), Mailbox()
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
        outgoing_allow=["127.0.0.1"],
        smtp_port=mailbox.port,
        alarm_tick_s=0.5,
    )
    import_fleet(settings, fleet)  # the registry is loaded by the operator, not by the service
    svc = MaintenanceService(settings, interval_s=0.5)
    with svc.db.transaction() as s:
        s.add(Crew(id="lift-a", name="Lift A", skills=["elevator"], estates=["lvyuan"]))
        s.add(Crew(id="pumps", name="Pumps", skills=["water_pump"], estates=["lvyuan"]))
        own = dict(owner_type="crew", owner_id="lift-a")
        s.add_all(
            [
                ChannelRow(**own, type="wecom", target=hooks.url("/wecom")),
                ChannelRow(
                    **own, type="dingtalk", secret=SECRET, target=hooks.url("/dingtalk?access_token=t")
                ),
                ChannelRow(**own, type="feishu", secret=SECRET, target=hooks.url("/feishu")),
                ChannelRow(
                    **own, type="sms", secret=SECRET, target=hooks.url("/sms"), recipients="13800000001"
                ),
                ChannelRow(**own, type="email", target="lift-a@example.com"),
                # another crew's channel hears nothing of a lift
                ChannelRow(
                    owner_type="crew", owner_id="pumps", type="wecom", target=hooks.url("/wecom?pumps")
                ),
            ]
        )
    svc.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"lift-{secrets.token_hex(4)}")
    try:
        assert svc.listener.subscribed.wait(10) and svc.alarm_consumer.subscribed.wait(10)
        pub.connect(mosquitto_server.host, mosquitto_server.port)
        pub.loop_start()
        sent = time.monotonic()
        payload = encode_event(EventType.FAULT, "entrapment", int(time.time() * 1000), 7, "car stopped at 5F")
        assert pub.publish(LIFT.topic(Channel.EVENT), payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS

        def order() -> tuple[str, str | None, int | None] | None:
            with svc.db.transaction() as s:
                o = s.scalars(sa.select(Order)).first()
                a = s.scalars(sa.select(AlarmRow)).first()
                return (o.priority, o.crew_id, a.order_id if a else None) if o and a and a.order_id else None

        got = _until(order)
        order_s = time.monotonic() - sent
        assert got is not None and got[:2] == ("p1", "lift-a")
        assert _until(lambda: len(hooks.accepted) >= 4 and mailbox.messages)
        notified_s = time.monotonic() - sent
        assert hooks.refused == []
        assert sorted(r.path for r in hooks.accepted) == ["/dingtalk", "/feishu", "/sms", "/wecom"]
        assert all("lvyuan-b1-el1" in str(r.body) for r in hooks.accepted)
        assert "car stopped at 5F" in mailbox.messages[0].get_content()
        with svc.db.transaction() as s:
            assert [c.last_error for c in s.scalars(sa.select(ChannelRow))] == [None] * 6
        print(f"entrapment → P1 order {order_s:.2f} s, → all five channels {notified_s:.2f} s")
    finally:
        pub.loop_stop()
        svc.stop()
        hooks.stop()
        mailbox.stop()
