"""dashboards.snapshot exports the store's current figures into a real InfluxDB; a part that is not ready is
skipped with its reason while the others are written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dashboards.snapshot import export_all
from evaluation.testing import reading_lines
from facility.settings import Settings
from ingest.influx import InfluxClient
from maintenance.db import Database
from maintenance.domain import OrderState, OrderType, Priority
from maintenance.models import Crew
from maintenance.orders import create_order, transition
from maintenance.registry import load_fleet
from tests.integration.test_dashboards_queries import REPO, demo_fleet

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_export_all_writes_orders_and_intactness(influx: InfluxClient, tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        influx_url=influx.url,
        influx_db=influx.database,
        database_url=f"sqlite:///{tmp_path / 'f.db'}",
        fleet_file=REPO / "simulators" / "fleets" / "demo.yaml",
        manage_services=False,
    )
    db = Database.open(settings.sqlalchemy_url)
    try:
        with db.transaction() as s:
            load_fleet(s, demo_fleet())
            s.add(Crew(id="lifts", name="Lifts", skills=["elevator"], estates=["lvyuan"]))
            s.flush()
            for asset, opened in (("lvyuan-b1-el1", NOW - dt.timedelta(days=3)), ("lvyuan-b1-el2", NOW)):
                o = create_order(
                    s,
                    asset_id=asset,
                    type=OrderType.CORRECTIVE,
                    priority=Priority.P2,
                    title="fault",
                    actor="t",
                    at=opened,
                )
                transition(s, o, OrderState.ASSIGNED, "t", opened, "", "lifts")
            done = create_order(
                s,
                asset_id="lvyuan-b2-el1",
                type=OrderType.CORRECTIVE,
                priority=Priority.P3,
                title="x",
                actor="t",
                at=NOW,
            )
            transition(s, done, OrderState.CANCELLED, "t", NOW, "duplicate")
        # the fleet has reported for 40 days: ratings count an asset's hours only once it is observed
        influx.write(
            reading_lines(demo_fleet().assets, NOW - dt.timedelta(days=40), NOW, dt.timedelta(hours=12))
        )
        result = export_all(settings, db, influx, NOW)
    finally:
        db.dispose()

    assert result["work_orders"] == 1  # one group: lvyuan / elevator / assigned / p2
    (row,) = influx.records('SELECT "open", "breached" FROM "work_orders" GROUP BY *')
    assert (row["estate"], row["kind"], row["state"], row["priority"]) == (
        "lvyuan",
        "elevator",
        "assigned",
        "p2",
    )
    assert (row["open"], row["breached"]) == (2, 1)  # the 3-day-old order missed its targets

    fleet = demo_fleet()
    groups = {(a.ref.estate, a.kind) for a in fleet.assets}
    assert result["intactness"] == len(groups)
    (total,) = influx.records('SELECT sum("assets") AS "assets" FROM "intactness"')
    assert total["assets"] == len(fleet.assets)

    # no model trained in this var_dir: the forecasts part says so and writes nothing
    assert str(result["forecasts"]).startswith("skipped: ") and "train-telemetry" in str(result["forecasts"])
    assert influx.records('SELECT * FROM "forecasts"') == []
    # ratings come from evaluation.analytics: whatever it scored is what was written (the month to date: in its
    # first weeks the rate indicators are "not enough data" and an estate with little else may have no score)
    assert isinstance(result["ratings"], int) and result["ratings"] >= 0
    assert len(influx.records('SELECT "score" FROM "ratings" GROUP BY *')) == result["ratings"]
