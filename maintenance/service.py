"""The maintenance process: MQTT events → orders, alarm rules on every message, a periodic SLA check, and
notification delivery (MQTT in a short transaction; webhooks and channels with no transaction open)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import sqlalchemy as sa

from facility.settings import Settings
from maintenance.alarms.engine import AlarmConsumer, AlarmEngine
from maintenance.db import Database
from maintenance.escalation import check_sla
from maintenance.listener import Clock, EventListener, utcnow
from maintenance.notify import ChannelSettings, MqttPublisher, deliver_all, deliver_outbox, prune_outbox
from maintenance.sla import SlaTargets, default_targets, load_targets

log = logging.getLogger(__name__)
#: delivered notifications are kept this long (for audit), then deleted
OUTBOX_KEEP = dt.timedelta(days=30)
#: the live stream's change log is kept this long (a page that was away longer reloads)
CHANGES_KEEP = dt.timedelta(days=1)


def prune_changes(session: sa.orm.Session, older_than: dt.datetime) -> None:
    from maintenance.alarms.models import ChangeRow

    session.execute(sa.delete(ChangeRow).where(ChangeRow.at < older_than))


def tick(db: Database, publisher: MqttPublisher | None, now: dt.datetime, targets: SlaTargets) -> int:
    """One round of the periodic work: escalate new SLA breaches, deliver pending notifications."""
    with db.transaction() as session:
        new = check_sla(session, now, targets)
    for e in new:
        log.warning("SLA %s breach on order %s (due %s)", e.clock, e.order_id, e.due_at.isoformat())
    with db.transaction() as session:
        deliver_outbox(session, publisher, now)
        prune_outbox(session, now - OUTBOX_KEEP)
        prune_changes(session, now - CHANGES_KEEP)
    return len(new)


class MaintenanceService:
    def __init__(self, settings: Settings, clock: Clock = utcnow, interval_s: float | None = None) -> None:
        self.settings, self.clock = settings, clock
        self.interval_s = interval_s if interval_s is not None else settings.sla_check_interval_s
        self.targets = load_targets(settings.sla_file) if settings.sla_file else default_targets()
        self.db = Database.open(settings.sqlalchemy_url)
        login = (settings.mqtt_username, settings.mqtt_password or "") if settings.mqtt_username else None
        self.publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port, login=login)
        self.listener = EventListener(
            self.db,
            settings.mqtt_host,
            settings.mqtt_port,
            client_id=settings.maintenance_client_id,
            publisher=self.publisher,
            clock=clock,
            login=login,
            on_outcome=lambda _o: self.wake.set(),
        )
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run, name="maintenance-sla", daemon=True)
        # alarms: rules evaluated on every device message (own subscription), notifications sent at once
        self.wake = threading.Event()
        self.channels = ChannelSettings.from_settings(settings)
        self.alarms = AlarmEngine(self.db, on_notify=self.wake.set)
        self.alarm_consumer = start_alarm_engine(settings, self.alarms, clock, autostart=False)
        self._notifier = threading.Thread(target=self._notify, name="maintenance-notify", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                tick(self.db, self.publisher, self.clock(), self.targets)
            except Exception:
                log.exception("SLA check failed; retrying next round")

    def _notify(self) -> None:
        """Offline rules and delivery: every ``alarm_tick_s``, and at once when something was queued."""
        while not self._stop.is_set():
            self.wake.wait(self.settings.alarm_tick_s)
            self.wake.clear()
            if self._stop.is_set():
                return
            try:
                now = self.clock()
                self.alarms.tick(now)
                deliver_all(self.db, self.publisher, now, self.channels)
            except Exception:
                log.exception("alarm tick or notification delivery failed; retrying next round")

    def start(self) -> None:
        # the registry is loaded by the operator (`facility registry import`) or the demo, never from a fleet file here
        self.listener.start()
        self.alarm_consumer.start()
        self._ticker.start()
        self._notifier.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self.listener.stop()
        self.alarm_consumer.stop()
        self._ticker.join(timeout=10)
        self._notifier.join(timeout=10)
        self.publisher.close()
        self.db.dispose()


def start_alarm_engine(
    settings: Settings, engine: AlarmEngine, clock: Clock = utcnow, autostart: bool = True
) -> AlarmConsumer:
    """The alarm engine's own MQTT subscription (client id ``<maintenance_client_id>-alarms``, the settings'
    account); started unless ``autostart`` is False. ``stop()`` it when done."""
    from facility.mqtt import BrokerConfig

    consumer = AlarmConsumer(
        engine, BrokerConfig.from_settings(settings), f"{settings.maintenance_client_id}-alarms", clock
    )
    if autostart:
        consumer.start()
    return consumer
