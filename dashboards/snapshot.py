"""One step of the demo / service loop: export the current relational figures to InfluxDB for Grafana.

``export_all`` is the worker's ``dashboards`` job (runtime/tasks.py); ``export_step(settings, db)`` exports now. Each part
(forecasts, work orders, intactness, ratings) runs on its own: a part whose capability is not ready (e.g. no
trained model yet) is logged and skipped, the others are still written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dashboards import export, rows
from facility.fleet import Fleet
from facility.settings import Settings
from ingest.influx import InfluxClient
from maintenance.db import Database
from maintenance.models import Order
from maintenance.orders import order_clock
from maintenance.queries import state_intervals
from maintenance.registry import store_fleet
from maintenance.sla import default_targets, sla_status

log = logging.getLogger(__name__)


def open_orders(db: Database, now: dt.datetime) -> list[dict[str, Any]]:
    """Open orders as ``{asset_id, state, priority, breached}`` (breached: response or resolution target)."""
    targets = default_targets()
    out = []
    with db.transaction() as s:
        q = sa.select(Order).where(Order.state.not_in(sorted(rows.FINISHED_ORDER_STATES)))
        for o in s.scalars(q):
            st = sla_status(order_clock(o), now, targets)
            out.append(
                {
                    "asset_id": o.asset_id,
                    "state": o.state,
                    "priority": o.priority,
                    "breached": st.response_breached or st.resolution_breached,
                }
            )
    return out


def alarm_rows(db: Database, since: dt.datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(uncleared alarms for the table, alarms first raised since ``since`` for the annotations)."""
    from maintenance.alarms.queries import AlarmFilter, list_alarms

    with db.transaction() as s:
        _, open_ = list_alarms(s, AlarmFilter(open_only=True, limit=1000))
        _, recent = list_alarms(s, AlarmFilter(since=since, limit=1000))
    table = [
        {
            "estate": a["estate"],
            "building": a["building"],
            "kind": a["kind"],
            "asset": a["asset"],
            "rule": a["rule"],
            "severity": a["severity"],
            "state": a["state"],
            "count": a["count"],
            "alarm_id": a["id"],
            "order_id": a["order"],
            "first_at": a["first_at"],
        }
        for a in open_
    ]
    events = [
        {
            "estate": a["estate"],
            "kind": a["kind"],
            "asset": a["asset"],
            "severity": a["severity"],
            "text": f"{a['severity']} {a['rule']} on {a['asset']}"
            + (f": {a['detail']}" if a["detail"] else ""),
            "alarm_id": a["id"],
            "at": dt.datetime.fromisoformat(a["first_at"]),
        }
        for a in recent
        if dt.datetime.fromisoformat(a["first_at"]) >= since
    ]
    return table, events


def current_states(db: Database, now: dt.datetime) -> list[Any]:
    """Each asset's interval at ``now`` (the latest starting one when several touch it)."""
    with db.transaction() as s:
        intervals = state_intervals(s, now - dt.timedelta(seconds=1), now)
    latest: dict[str, Any] = {}
    for i in sorted(intervals, key=lambda i: i.start):
        latest[i.asset_id] = i
    return list(latest.values())


def forecasts(settings: Settings, influx: InfluxClient, fleet: Fleet, now: dt.datetime) -> list[Any]:
    from predict.service import ForecastService

    service = ForecastService(settings, influx, fleet)
    try:
        return list(service.ranking(now))
    finally:
        service.close()


def ratings(settings: Settings, db: Database, influx: InfluxClient, now: dt.datetime) -> list[dict[str, Any]]:
    from evaluation.analytics import ratings_step

    return ratings_step(settings, db, now, influx)


def _export_alarms(influx: InfluxClient, db: Database, now: dt.datetime) -> int:
    table, events = alarm_rows(db, now - dt.timedelta(days=2))
    return export.export_alarms(influx, table, now) + export.export_alarm_events(influx, events)


def export_all(
    settings: Settings, db: Database, influx: InfluxClient, now: dt.datetime, fleet: Fleet | None = None
) -> dict[str, int | str]:
    """Write every part; returns points written per measurement, or the reason a part was skipped."""
    fleet = fleet or store_fleet(settings)
    parts: dict[str, Callable[[], int]] = {
        "forecasts": lambda: export.export_forecasts(
            influx, rows.forecast_rows(forecasts(settings, influx, fleet, now), fleet), now
        ),
        "work_orders": lambda: export.export_work_orders(
            influx, rows.work_order_rows(open_orders(db, now), fleet), now
        ),
        "intactness": lambda: export.export_intactness(
            influx, rows.intactness_rows(current_states(db, now), fleet), now
        ),
        "ratings": lambda: export.export_ratings(influx, ratings(settings, db, influx, now), now),
        "alarms": lambda: _export_alarms(influx, db, now),
    }
    result: dict[str, int | str] = {}
    for name, part in parts.items():
        try:
            result[name] = part()
        except Exception as exc:  # one capability not ready must not stop the others
            log.warning("dashboards export: %s skipped: %s", name, exc)
            result[name] = f"skipped: {exc}"
    return result


def export_step(settings: Settings, db: Database) -> None:
    """The demo loop's step: export a snapshot at the current time."""
    influx = InfluxClient.from_settings(settings)
    try:
        export_all(settings, db, influx, dt.datetime.now(dt.UTC))
    finally:
        influx.close()
