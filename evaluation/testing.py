"""A small hand-computable fleet (used by the tests and docs/evaluation.md's worked example).

October 2026 (744 h). Two estates of two companies: ``east`` (old, company ``pc-a``) holds elevators E1, E2
and pump P1; ``west`` (luxury, company ``pc-b``) holds fire panel F1 and bins B1, B2 (B2 has no timeline).
The expected figures are worked out by hand in tests/unit/test_evaluation_metrics.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.inputs import (
    AssetInfo,
    AssetState,
    Dataset,
    EstateInfo,
    EventRecord,
    ExternalValue,
    OrderRecord,
    OrderType,
    StateInterval,
)
from evaluation.periods import ZONE
from facility.contract import SCHEMAS, Reading
from facility.fleet import AssetSpec

if TYPE_CHECKING:
    from maintenance.db import Database

UTC = dt.UTC
AS_OF = dt.datetime(2026, 11, 5, tzinfo=UTC)


def t(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> dt.datetime:
    """That time on the estates' clock (periods begin at their midnight, ``periods.ZONE``), as UTC."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


S = AssetState
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=UTC)


def small_fleet() -> Dataset:
    assets = (
        AssetInfo("E1", "elevator", "east", "b1", "pc-a", "old", LONG_AGO),
        AssetInfo("E2", "elevator", "east", "b1", "pc-a", "old", t(16)),  # installed mid-month
        AssetInfo("P1", "water_pump", "east", "b1", "pc-a", "old", LONG_AGO),
        AssetInfo("F1", "fire_alarm", "west", "w1", "pc-b", "luxury", LONG_AGO),
        AssetInfo("B1", "smart_bin", "west", "w1", "pc-b", "luxury", LONG_AGO),
        AssetInfo("B2", "smart_bin", "west", "w1", "pc-b", "luxury", LONG_AGO),
    )
    intervals = (
        # E1: a 6 h fault, then 6 h corrective maintenance
        StateInterval("E1", S.IN_SERVICE, t(1), t(10), ref="E1-a"),
        StateInterval("E1", S.FAULTED, t(10), t(10, 6), ref="E1-b"),
        StateInterval("E1", S.UNDER_MAINTENANCE, t(10, 6), t(10, 12), order_id="O1", ref="E1-c"),
        StateInterval("E1", S.IN_SERVICE, t(10, 12), None, ref="E1-d"),
        # E2: the store says in service from Oct 1, but it was installed Oct 16 (clipped)
        StateInterval("E2", S.IN_SERVICE, t(1), None, ref="E2-a"),
        # P1: in service all month (open), overlapped by planned maintenance (08:00-11:00 Oct 20, excused)
        # and a fault 00:00-02:00 Oct 25 overlapping offline 01:00-04:00 (given out of order)
        StateInterval("P1", S.OFFLINE, t(25, 1), t(25, 4), ref="P1-off"),
        StateInterval("P1", S.IN_SERVICE, t(1), None, ref="P1-a"),
        StateInterval("P1", S.UNDER_MAINTENANCE, t(20, 8), t(20, 11), order_id="O5", ref="P1-pm"),
        StateInterval("P1", S.FAULTED, t(25), t(25, 2), ref="P1-f"),
        # F1: 12 h offline, then a fault from Oct 31 still open at AS_OF
        StateInterval("F1", S.IN_SERVICE, t(1), t(5), ref="F1-a"),
        StateInterval("F1", S.OFFLINE, t(5), t(5, 12), ref="F1-off"),
        StateInterval("F1", S.IN_SERVICE, t(5, 12), t(31), ref="F1-b"),
        StateInterval("F1", S.FAULTED, t(31), None, ref="F1-f"),
        StateInterval("B1", S.IN_SERVICE, t(1), None, ref="B1-a"),
    )
    C, R, P = OrderType.CORRECTIVE, OrderType.RESIDENT_REPORT, OrderType.PREVENTIVE
    orders = (
        OrderRecord("O1", "E1", C, t(10), acknowledged=t(10, 0, 10), in_progress=t(10, 6), resolved=t(10, 12),
                    closed=t(11), followed_up=True, resident_rating=5),
        OrderRecord("O2", "E2", R, t(20, 9), rejected=t(20, 9, 20), acknowledged=t(20, 9, 30), resolved=t(21, 12),
                    closed=t(22), reopened=1, rework=True, followed_up=False, resident_rating=2),
        OrderRecord("O3", "F1", C, t(31), acknowledged=t(31, 0, 5), respond_by=t(31, 0, 10)),
        OrderRecord("O4", "P1", C, t(25), cancelled=t(25, 0, 30)),
        OrderRecord("O5", "P1", P, t(15), in_progress=t(20, 8), resolved=t(20, 11), closed=t(20, 12),
                    window_start=t(20, 8), window_end=t(20, 12)),
        OrderRecord("O6", "E1", P, t(20, month=9), window_start=t(30, month=9), window_end=t(3)),
        OrderRecord("O7", "P1", C, t(25, 0, 5), acknowledged=t(25, 0, 20), in_progress=t(25, 1), resolved=t(25, 4),
                    closed=t(26), followed_up=True),
    )  # fmt: skip
    ev = EventRecord
    events = (
        ev("E1", "elevator", "fault", "entrapment", t(10)),
        ev("E1", "elevator", "fault", "entrapment", t(10, 0, 1)),  # duplicate onset: ignored
        ev("E1", "elevator", "recovery", "entrapment", t(10, 12)),
        ev("E1", "elevator", "recovery", "door_fault", t(5)),  # orphan end: ignored
        ev("E2", "elevator", "recovery", "entrapment", t(30, 2)),  # given before its onset
        ev("E2", "elevator", "fault", "entrapment", t(30, 1)),
        ev("F1", "fire_alarm", "alarm", "fire_alarm", t(7, 10)),
        ev("F1", "fire_alarm", "alarm_clear", "fire_alarm", t(7, 10, 5), "false_alarm"),
        ev("F1", "fire_alarm", "alarm", "fire_alarm", t(8)),
        ev("F1", "fire_alarm", "alarm_clear", "fire_alarm", t(8, 1)),
        ev("P1", "water_pump", "fault", "dry_run", t(25)),
        ev("P1", "water_pump", "recovery", "dry_run", t(25, 2)),
        ev("P1", "water_pump", "fault", "pressure_loss", t(30, 22, month=9)),
        ev("P1", "water_pump", "recovery", "pressure_loss", t(1, 3)),
        ev("P1", "water_pump", "fault", "pressure_loss", t(31, 20)),  # still open at AS_OF
        ev("B1", "smart_bin", "alarm", "overflow", t(3, 10)),
        ev("B1", "smart_bin", "alarm_clear", "overflow", t(3, 16)),
    )
    external = (
        ExternalValue("east", "2026-10", "resident_satisfaction", 0.90, 100),
        ExternalValue("west", "2026-10", "resident_satisfaction", 0.80, 300),
        ExternalValue("east", "2026-10", "inspection_score", 90),
        ExternalValue("west", "2026-10", "inspection_score", 70),
        ExternalValue("east", "2026-10", "hotline_complaints", 4),
        ExternalValue("west", "2026-10", "hotline_complaints", 1),
        ExternalValue("east", "2026-10", "hotline_handled_rate", 0.75),
    )
    estates = (
        EstateInfo("east", "East Estate", "old", "pc-a", "Company A"),
        EstateInfo("west", "West Estate", "luxury", "pc-b", "Company B"),
    )
    return Dataset(assets, intervals, orders, events, external, estates)


def reading_lines(
    assets: Iterable[AssetSpec],
    start: dt.datetime,
    end: dt.datetime,
    every: dt.timedelta = dt.timedelta(days=1),
) -> list[str]:
    """Line protocol for one plausible reading per asset every ``every`` in ``[start, end)``: what monitored
    assets leave in InfluxDB (evaluation counts an asset as observed from its first one)."""
    from ingest.lineprotocol import reading_line

    lines = []
    for a in assets:
        schema = SCHEMAS[a.kind]
        values = {f: (schema.by_name[f].minimum + schema.by_name[f].maximum) // 2 for f in schema.required}
        at = start
        while at < end:
            lines.append(reading_line(Reading(a.ref, int(at.timestamp() * 1000), values)))
            at += every
    return lines


@functools.cache
def _migrated_template() -> Path:
    from maintenance.db import migrate

    path = Path(tempfile.mkdtemp(prefix="facility-store-")) / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def store_db(directory: Path) -> Database:
    """A fresh, migrated SQLite store in ``directory`` (copied from one migrated once per process: a
    migration costs about a second, a copy a millisecond)."""
    from maintenance.db import Database

    path = directory / f"store-{len(list(directory.glob('store-*.db')))}.db"
    shutil.copyfile(_migrated_template(), path)
    return Database.open(f"sqlite:///{path}", run_migrations=False)
