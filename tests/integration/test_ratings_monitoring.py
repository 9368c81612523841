"""Monitored since, from the real stores: each asset counts from its first reading, status or event in InfluxDB,
or its first state change in the work-order store — never from its registration (installed 2010).

October 2026 (744 h), as of Nov 5; the six assets lived 6 × 744 = 4464 asset-hours:
lvyuan-b1-el1 daily readings from Oct 11 (504 h), el2 a status on Oct 21 (264 h), fa1 an alarm on Oct 26
(144 h), sb1 a fault Oct 29 00:00-06:00 in the store only (72 h, 6 down); jinhu's two assets nothing.
Known 984, working 978.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evaluation.external_store import ExternalStore
from evaluation.inputs import NOT_MONITORED
from evaluation.metric_types import MetricSettings
from evaluation.metrics import NO_INFLUX_NOTE, compute_all
from evaluation.periods import ZONE, parse_period
from evaluation.source import StoreSource
from evaluation.testing import reading_lines
from facility.contract import AssetKind, AssetRef, Event, EventType, Status
from ingest.influx import InfluxClient
from ingest.lineprotocol import event_line, status_line
from maintenance.db import Database
from maintenance.handler import handle_event
from tests.maint_helpers import seed, small_fleet

pytestmark = pytest.mark.integration
UTC = dt.UTC
AS_OF = dt.datetime(2026, 11, 5, tzinfo=UTC)
OCT = parse_period("2026-10")


def t(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, tzinfo=ZONE)  # the estates' clock, as the periods


def ms(x: dt.datetime) -> int:
    return int(x.timestamp() * 1000)


def ref(asset: str, kind: AssetKind) -> AssetRef:
    return AssetRef("lvyuan", "b1", kind, asset)


def test_monitoring_starts_and_coverage_from_the_stores(tmp_path, influx: InfluxClient) -> None:
    fleet = small_fleet()
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    sb = ref("lvyuan-b1-sb1", AssetKind.SMART_BIN)
    with db.transaction() as s:
        seed(s)
        handle_event(s, Event(sb, ms(t(29)), EventType.FAULT, "lid_fault", 1), t(29))
        handle_event(s, Event(sb, ms(t(29, 6)), EventType.RECOVERY, "lid_fault", 2), t(29, 6))
    el1 = next(a for a in fleet.assets if a.id == "lvyuan-b1-el1")
    influx.write(reading_lines([el1], t(11), AS_OF))
    influx.write([status_line(Status(ref("lvyuan-b1-el2", AssetKind.ELEVATOR), ms(t(21)), True))])
    fa = ref("lvyuan-b1-fa1", AssetKind.FIRE_ALARM)
    influx.write([event_line(Event(fa, ms(t(26)), EventType.ALARM, "fire_alarm", 1))])
    external = ExternalStore(db)
    try:
        ds = StoreSource(fleet, db, influx, external).dataset(OCT, AS_OF)
        since = {a.asset_id: a.monitored_since for a in ds.assets}
        assert since == {
            "lvyuan-b1-el1": t(11),
            "lvyuan-b1-el2": t(21),
            "lvyuan-b1-fa1": t(26),
            "lvyuan-b1-sb1": t(29),
            "jinhu-t1-el1": NOT_MONITORED,
            "jinhu-t1-wp1": NOT_MONITORED,
        }
        m = compute_all(ds, OCT, MetricSettings(AS_OF))
        cov, intact = m["monitoring_coverage"], m["intactness_rate"]
        assert (cov.numerator, cov.denominator) == (504 + 264 + 144 + 72, 6 * 744)
        assert cov.evidence == ("jinhu-t1-el1", "jinhu-t1-wp1")
        assert (intact.numerator, intact.denominator) == (978, 984)
        assert m["failures"].value == 1
        jinhu = compute_all(ds.where(estate="jinhu"), OCT, MetricSettings(AS_OF))
        assert jinhu["intactness_rate"].value is None and jinhu["monitoring_coverage"].value == 0.0
        # September, before any of it was observed: no data instead of the registration's 100 %
        sep = parse_period("2026-09")
        m = compute_all(
            StoreSource(fleet, db, influx, external).dataset(sep, AS_OF), sep, MetricSettings(AS_OF)
        )
        assert m["intactness_rate"].value is None and m["monitoring_coverage"].value == 0.0

        # without InfluxDB only the store's state changes say when monitoring began, and the figure says so
        ds = StoreSource(fleet, db, None, external).dataset(OCT, AS_OF)
        assert {a.asset_id for a in ds.assets if a.monitored} == {"lvyuan-b1-sb1"}
        m = compute_all(ds, OCT, MetricSettings(AS_OF))
        assert m["monitoring_coverage"].numerator == 72 and NO_INFLUX_NOTE in m["monitoring_coverage"].note
    finally:
        external.close()
        db.dispose()
