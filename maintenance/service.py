"""The maintenance process: MQTT events → orders, a periodic SLA check and outbox delivery."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import sqlalchemy as sa

from facility.fleet import load_fleet
from facility.settings import Settings
from maintenance.db import Database
from maintenance.escalation import check_sla
from maintenance.listener import Clock, EventListener, utcnow
from maintenance.models import Asset
from maintenance.notify import MqttPublisher, deliver_outbox, prune_outbox
from maintenance.registry import load_fleet as load_fleet_into
from maintenance.sla import SlaTargets, default_targets, load_targets

log = logging.getLogger(__name__)
#: delivered notifications are kept this long (for audit), then deleted
OUTBOX_KEEP = dt.timedelta(days=30)


def tick(db: Database, publisher: MqttPublisher | None, now: dt.datetime, targets: SlaTargets) -> int:
    """One round of the periodic work: escalate new SLA breaches, deliver pending notifications."""
    with db.transaction() as session:
        new = check_sla(session, now, targets)
    for e in new:
        log.warning("SLA %s breach on order %s (due %s)", e.clock, e.order_id, e.due_at.isoformat())
    with db.transaction() as session:
        deliver_outbox(session, publisher, now)
        prune_outbox(session, now - OUTBOX_KEEP)
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
        )
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run, name="maintenance-sla", daemon=True)

    def ensure_registry(self) -> None:
        """Load the fleet file when the registry is empty (first start of a demo)."""
        with self.db.transaction() as session:
            if session.scalar(sa.select(sa.func.count()).select_from(Asset)) == 0:
                n = load_fleet_into(session, load_fleet(self.settings.fleet_file))
                log.info("registry loaded from %s: %d assets", self.settings.fleet_file, n)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                tick(self.db, self.publisher, self.clock(), self.targets)
            except Exception:
                log.exception("SLA check failed; retrying next round")

    def start(self) -> None:
        self.ensure_registry()
        self.listener.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self.listener.stop()
        self._ticker.join(timeout=10)
        self.publisher.close()
        self.db.dispose()
