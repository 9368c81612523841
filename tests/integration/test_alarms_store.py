"""Alarms in the store (SQLite and PostgreSQL): one alarm with a repeat count, alarm → order rules linked
both ways, acknowledge/clear, and notifications through every channel to local receivers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from facility.contract import AssetKind, AssetRef, Event, EventType, Status
from maintenance.alarms.engine import AlarmEngine, backfill_alarms
from maintenance.alarms.models import AlarmRow, ChangeRow, ChannelRow
from maintenance.alarms.store import AlarmConflict, acknowledge, clear
from maintenance.channels.email import SmtpConfig
from maintenance.db import Database
from maintenance.handler import handle_event
from maintenance.models import Order, OutboxMessage
from maintenance.notify import ChannelSettings, deliver_channels
from tests.alarm_receivers import Mailbox, Receivers
from tests.maint_helpers import T0, seed

PUMP = AssetRef("jinhu", "t1", AssetKind.WATER_PUMP, "jinhu-t1-wp1")
LIFT = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")
SECRET = "s3cret-for-robots-0123"


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    with database.transaction() as s:
        seed(s)
    yield database
    database.dispose()


def test_low_pressure_is_one_alarm_with_its_count_and_its_repetition_opens_a_water_order(
    db: Database,
) -> None:
    engine = AlarmEngine(db)
    msgs = []
    for i in range(5):  # five episodes in ten hours, nobody acknowledges
        at = T0 + dt.timedelta(hours=2 * i)
        msgs.append(Event(PUMP, ms(at), EventType.ALARM, "low_pressure"))
        if i < 4:
            msgs.append(Event(PUMP, ms(at + dt.timedelta(minutes=20)), EventType.ALARM_CLEAR, "low_pressure"))
    engine.handle(msgs)
    with db.transaction() as s:
        rows = {r.rule_key: r for r in s.scalars(sa.select(AlarmRow))}
        assert sorted(rows) == ["low_pressure", "low_pressure_repeated"]
        low, rep = rows["low_pressure"], rows["low_pressure_repeated"]
        assert (low.state, low.count, low.first_at, low.last_at) == (
            "active",
            5,
            T0,
            T0 + dt.timedelta(hours=8),
        )
        assert (rep.state, rep.count, rep.severity) == ("active", 5, "major")
        order = s.get(Order, rep.order_id)
        assert order is not None
        assert (order.priority, order.crew_id, order.fault_code, order.type) == (
            "p2",
            "all-j",
            "low_pressure",
            "corrective",
        )
        assert low.order_id == rep.order_id  # the device alarm joins the order its repetition opened
        ack = acknowledge(s, rep.id, "engineer:wang", T0 + dt.timedelta(hours=9), "seen")
        assert (ack.state, ack.acknowledged_by) == ("acknowledged", "engineer:wang")
        with pytest.raises(AlarmConflict, match="already acknowledged"):
            acknowledge(s, rep.id, "engineer:wang", T0 + dt.timedelta(hours=9))
        done = clear(s, rep.id, "engineer:wang", T0 + dt.timedelta(hours=10))
        assert (done.state, done.cleared_by) == ("cleared", "engineer:wang")
        assert s.get(Order, rep.order_id).state == "assigned"  # clearing the alarm leaves the order open
        topics = [c.topic for c in s.scalars(sa.select(ChangeRow))]
        # one entry per alarm the batch touched (its final state), then the acknowledgement and the clearing
        assert topics.count("alarm") == 4 and "order" in topics


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_demo_history_backfill_raises_the_repeated_low_pressure_and_its_water_order(db: Database) -> None:
    """H2 #2: the demo's history never passed the rules; backfill_alarms (called by runtime/demo.py on a first
    run) replays its events in time order: one active alarm with its count, the order, nobody notified."""
    days = [T0 - dt.timedelta(days=29 - d, hours=3) for d in range(0, 30, 2)]  # 15 episodes, every 2 days
    late = [T0 - dt.timedelta(hours=h) for h in (20, 8)]  # then 2 within the last day, the last one open
    history: list = []
    for at in days + late:
        history.append(Event(PUMP, ms(at), EventType.ALARM, "low_pressure"))
        if at != late[-1]:
            history.append(
                Event(PUMP, ms(at + dt.timedelta(minutes=30)), EventType.ALARM_CLEAR, "low_pressure")
            )
    history.reverse()  # as a history may list them: backfill sorts by time
    assert backfill_alarms(db, history) > 0
    with db.transaction() as s:
        rows = {r.rule_key: r for r in s.scalars(sa.select(AlarmRow))}
        low, rep = rows["low_pressure"], rows["low_pressure_repeated"]
        assert (low.state, low.count, low.last_at) == ("active", 17, late[-1])
        # 2-day spacing never makes 3 in 24 h; the last episode (3 within 24 h: days[-1], late…) raises it
        assert (rep.state, rep.count, rep.first_at) == ("active", 3, late[-1])
        order = s.get(Order, rep.order_id)
        assert order is not None and low.order_id == order.id
        assert (order.type, order.priority, order.crew_id, order.state) == (
            "corrective",
            "p2",
            "all-j",
            "assigned",
        )
        assert s.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel_id.is_not(None))).all() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_offline_status_at_a_restart_waits_for_the_silence_and_online_clears(db: Database) -> None:
    """H2 #4: 44 offline alarms at once on the last wills of a restart, still active after the devices returned."""
    engine = AlarmEngine(db)
    t0 = ms(T0)

    def rows() -> list[tuple[str, str, int]]:
        with db.transaction() as s:
            q = sa.select(AlarmRow.rule_key, AlarmRow.state, AlarmRow.count).where(
                AlarmRow.asset_id == PUMP.asset
            )
            return [tuple(r) for r in s.execute(q)]

    engine.handle([Status(PUMP, t0, False)])  # the last will, heard by a fresh engine
    engine.tick(T0 + dt.timedelta(minutes=1))
    assert rows() == []
    engine.handle([Status(PUMP, t0 + 12_000, True)])  # back 12 s later
    engine.tick(T0 + dt.timedelta(minutes=15))  # 15 min after the offline status: it came back
    assert rows() == []
    engine.handle([Status(PUMP, t0 + 30 * 60_000, False)])  # gone for good this time
    engine.tick(T0 + dt.timedelta(minutes=44))
    assert rows() == []
    engine.tick(T0 + dt.timedelta(minutes=46))  # 16 min after: "no data for 15 min"
    assert rows() == [("pump_offline", "active", 1)]
    fresh = AlarmEngine(db)  # a restarted engine hears the device come back
    fresh.handle([Status(PUMP, t0 + 50 * 60_000, True)])
    assert rows() == [("pump_offline", "cleared_unacknowledged", 1)]


def test_entrapment_opens_one_p1_order_linked_both_ways_whichever_comes_first(db: Database) -> None:
    engine = AlarmEngine(db)
    trapped = Event(LIFT, ms(T0), EventType.FAULT, "entrapment")
    engine.handle([trapped])  # the alarm engine may see it before the event handler
    with db.transaction() as s:
        out = handle_event(s, trapped, T0)
    with db.transaction() as s:
        (alarm,) = s.scalars(sa.select(AlarmRow)).all()
        (order,) = s.scalars(sa.select(Order)).all()
        assert (alarm.rule_key, alarm.severity, alarm.order_id) == ("entrapment", "critical", order.id)
        assert (order.priority, order.crew_id, out.order_id) == ("p1", "lift-a", order.id)
        # the other way round: the handler first, then the alarm joins the order
    engine.handle([Event(LIFT, ms(T0) + 60_000, EventType.RECOVERY, "entrapment")])
    with db.transaction() as s:
        assert s.scalars(sa.select(AlarmRow.state)).all() == ["cleared_unacknowledged"]
        assert s.scalars(sa.select(Order.state)).all() == ["assigned"]


def test_every_channel_is_notified_and_a_failing_one_backs_off_alone(db: Database) -> None:
    hooks, mailbox = Receivers(SECRET).start(), Mailbox()
    try:
        with db.transaction() as s:
            s.add_all(
                [
                    ChannelRow(
                        owner_type="crew", owner_id="lift-a", type="wecom", target=hooks.url("/wecom")
                    ),
                    ChannelRow(
                        owner_type="crew",
                        owner_id="lift-a",
                        type="dingtalk",
                        secret=SECRET,
                        target=hooks.url("/dingtalk?access_token=abc"),
                    ),
                    ChannelRow(
                        owner_type="crew",
                        owner_id="lift-a",
                        type="feishu",
                        secret=SECRET,
                        target=hooks.url("/feishu"),
                    ),
                    ChannelRow(
                        owner_type="crew",
                        owner_id="lift-a",
                        type="sms",
                        secret=SECRET,
                        target=hooks.url("/sms"),
                        recipients="13800000000",
                    ),
                    ChannelRow(
                        owner_type="crew", owner_id="lift-a", type="email", target="lifts@example.com"
                    ),
                    ChannelRow(
                        owner_type="crew", owner_id="lift-a", type="wecom", target=hooks.url("/broken")
                    ),
                    # a minor alarm in quiet hours waits; (the entrapment is critical and goes through)
                    ChannelRow(
                        owner_type="crew",
                        owner_id="lift-a",
                        type="wecom",
                        target=hooks.url("/wecom"),
                        quiet_start=0,
                        quiet_end=23,
                    ),
                ]
            )
        hooks.failing.add("/broken")
        now = dt.datetime.now(dt.UTC)
        AlarmEngine(db).handle([Event(LIFT, ms(now), EventType.FAULT, "entrapment")])
        cfg = ChannelSettings(("127.0.0.1",), SmtpConfig("127.0.0.1", mailbox.port))
        sent, failed = deliver_channels(db, now, cfg)
        assert (sent, failed) == (6, 1)
        assert hooks.refused == []
        assert sorted(r.path for r in hooks.accepted) == ["/dingtalk", "/feishu", "/sms", "/wecom", "/wecom"]
        wecom = next(r.body for r in hooks.accepted if r.path == "/wecom")
        assert "lvyuan-b1-el1" in wecom["text"]["content"] and "紧急" in wecom["text"]["content"]
        assert wecom["text"]["mentioned_mobile_list"] == ["@all"]
        (mail,) = mailbox.messages
        assert mail["To"] == "lifts@example.com" and "lvyuan-b1-el1" in mail["Subject"]
        assert "北京时间" in mail.get_content()
        with db.transaction() as s:
            broken = s.scalars(sa.select(ChannelRow).where(ChannelRow.target.like("%broken"))).one()
            assert broken.last_error is not None and "HTTP 500" in broken.last_error
            row = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel_id == broken.id)).one()
            assert (row.attempts, row.delivered_at, row.next_attempt_at) == (
                1,
                None,
                now + dt.timedelta(seconds=10),
            )
        assert deliver_channels(db, now + dt.timedelta(seconds=5), cfg) == (0, 0)  # backing off
        hooks.failing.clear()
        assert deliver_channels(db, now + dt.timedelta(seconds=11), cfg) == (1, 0)
    finally:
        hooks.stop()
        mailbox.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sla_breaches_climb_the_chain_crew_engineer_manager(db: Database) -> None:
    from maintenance.escalation import check_sla
    from maintenance.sla import default_targets

    with db.transaction() as s:
        for owner_type, owner_id in (("crew", "lift-a"), ("engineer", "eng-wang"), ("manager", "lvyuan")):
            s.add(
                ChannelRow(owner_type=owner_type, owner_id=owner_id, type="email", target=f"{owner_id}@x.cn")
            )
        handle_event(s, Event(LIFT, ms(T0), EventType.FAULT, "entrapment"), T0)

    def notified(at: dt.datetime) -> list[str]:
        with db.transaction() as s:
            check_sla(s, at, default_targets())
            rows = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.created_at == at)).all()
            owners = {c.id: c.owner_type for c in s.scalars(sa.select(ChannelRow))}
            return sorted(owners[r.channel_id] for r in rows if r.channel_id is not None)

    assert notified(T0 + dt.timedelta(minutes=11)) == ["crew", "engineer"]  # P1 response due at 10 min
    assert notified(T0 + dt.timedelta(hours=25)) == ["engineer", "manager"]  # resolution due at 24 h
