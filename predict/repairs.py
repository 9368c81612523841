"""Repairs from the work-order store (maintenance/) for training and live scoring.

A preventive visit to a running asset sends no ``recovery`` event, so InfluxDB alone does not see it: the
lifetime would run on through the visit and ``since_repair`` would keep growing after it. The store knows
every repair — each order's ``resolved`` transition (:func:`maintenance.queries.repairs`, which says which
order types count) — so:

- :func:`order_repairs` gives them as :class:`~predict.history.MaintenanceRecord` ``repair`` records, the
  ``extra`` records of :func:`predict.influx_training.training_data_influx`; :func:`order_log` binds it to a
  store for :func:`predict.jobs.train_from_telemetry`. A corrective order repeats the device's ``recovery``
  event of the same repair: :func:`predict.history.lifetimes_from_records` takes two repairs less than
  ``SAME_REPAIR_DAYS`` apart as one, starting the lifetime at the later.
- :func:`repair_source` is the ``repairs`` source of :class:`predict.service.ForecastService`: each asset's
  last resolved order, so ``since_repair`` restarts at a preventive visit (the service takes the later of it
  and the last ``recovery`` event, as training does).
- :func:`configured_store` opens the store the settings point at, or None when there is none.

Times are days (epoch ms / 86 400 000), rounded to the millisecond as InfluxDB's are, so a repair the store
and InfluxDB both hold gets the same time from both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from facility.contract import AssetKind
from facility.settings import Settings
from maintenance import queries
from maintenance.db import Database
from predict.features import DAY_MS
from predict.history import MaintenanceRecord

if TYPE_CHECKING:
    from predict.down import DownAsset, DownSource
    from predict.service import RepairSource

#: ``(kind, start_ms, end_ms) -> repair records`` of that kind in ``[start_ms, end_ms)``
RepairLog = Callable[[AssetKind, int, int], list[MaintenanceRecord]]


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def days(at: dt.datetime) -> float:
    """A store time as days since the epoch, on InfluxDB's millisecond grid."""
    return round(at.timestamp() * 1000) / DAY_MS


def order_repairs(db: Database, kind: AssetKind, start_ms: int, end_ms: int) -> list[MaintenanceRecord]:
    """The store's repairs of ``kind`` in ``[start_ms, end_ms)``: one ``repair`` record per resolved order
    (``preventive`` for preventive and inspection orders), in time order."""
    with db.transaction() as s:
        found = queries.repairs(s, _at(start_ms), _at(end_ms), kind.value)
    return [MaintenanceRecord(r.asset_id, days(r.at), "repair", r.preventive) for r in found]


def order_log(db: Database) -> RepairLog:
    """:func:`order_repairs` bound to ``db``: the ``repairs`` argument of ``train_from_telemetry``."""

    def log(kind: AssetKind, start_ms: int, end_ms: int) -> list[MaintenanceRecord]:
        return order_repairs(db, kind, start_ms, end_ms)

    return log


def repair_source(db: Database) -> RepairSource:
    """``(kind, now_ms) -> {asset: last resolved order before now, in days}`` from ``db``."""

    def last(kind: AssetKind, now_ms: int) -> dict[str, float]:
        with db.transaction() as s:
            found = queries.last_repair_times(s, _at(now_ms), kind.value)
        return {asset: days(at) for asset, at in found.items()}

    return last


#: the store's asset states that take an asset out of the ranking, and the reason each is listed under
DOWN_STATES = {"faulted": "open_fault", "offline": "offline", "under_maintenance": "under_maintenance"}


def down_source(db: Database) -> DownSource:
    """``(kind, now) -> {asset: DownAsset}``: assets whose state in the store's timeline is faulted, offline or
    under maintenance at ``now``."""
    from maintenance.models import Asset, AssetStateRow
    from predict.down import DownAsset

    def down(kind: AssetKind, now: dt.datetime) -> dict[str, DownAsset]:
        q = (
            sa.select(AssetStateRow.asset_id, AssetStateRow.state, AssetStateRow.start_at)
            .join(Asset, Asset.id == AssetStateRow.asset_id)
            .where(
                Asset.kind == kind.value,
                AssetStateRow.state.in_(list(DOWN_STATES)),
                AssetStateRow.start_at <= now,
                sa.or_(AssetStateRow.end_at.is_(None), AssetStateRow.end_at > now),
            )
        )
        with db.transaction() as s:
            rows = list(s.execute(q))
        return {a: DownAsset(a, kind.value, DOWN_STATES[state], at) for a, state, at in rows}

    return down


def configured_store(settings: Settings) -> Database | None:
    """The work-order store: ``settings.database_url`` when set (opened and migrated; raises
    ``sqlalchemy.exc.SQLAlchemyError`` when unreachable), else the default SQLite file in ``var_dir`` if it
    exists, else None (no store: InfluxDB's events are all there is)."""
    url = settings.sqlalchemy_url
    if settings.database_url is None:
        path = sa.make_url(url).database
        if not path or not Path(path).exists():
            return None
    return Database.open(url)
