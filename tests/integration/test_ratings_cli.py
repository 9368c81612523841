"""The `facility` rating commands over a real SQLite store and InfluxDB, configured through the environment."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
import yaml

from evaluation.testing import reading_lines
from facility.contract import AssetKind, AssetRef, Event, EventType
from ingest.influx import InfluxClient
from ingest.lineprotocol import event_line
from maintenance.db import Database
from maintenance.domain import OrderState
from maintenance.handler import handle_event
from maintenance.models import Order
from maintenance.orders import transition
from runtime.cli import main
from tests.maint_helpers import FLEET_YAML, seed, small_fleet

pytestmark = pytest.mark.integration
UTC = dt.UTC
AS_OF = "2026-11-05T00:00:00+00:00"
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


def t(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def env(tmp_path, monkeypatch, influx: InfluxClient):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET_YAML))
    db = Database.open(url)
    fault = Event(EL, int(t(10).timestamp() * 1000), EventType.FAULT, "door_fault", 1)
    with db.transaction() as s:
        seed(s)
        handle_event(s, fault, t(10))
        order = s.query(Order).one()
        transition(s, order, OrderState.ACKNOWLEDGED, "li", t(10, 0, 20))
        transition(s, order, OrderState.IN_PROGRESS, "li", t(10, 1))
        transition(s, order, OrderState.RESOLVED, "li", t(10, 5))
    db.dispose()
    influx.write([event_line(fault)])
    influx.write(reading_lines(small_fleet().assets, dt.datetime(2026, 9, 1, tzinfo=UTC), t(31)))
    for k, v in {
        "FACILITY_VAR_DIR": str(tmp_path),
        "FACILITY_DATABASE_URL": url,
        "FACILITY_FLEET_FILE": str(fleet),
        "FACILITY_INFLUX_URL": influx.url,
        "FACILITY_INFLUX_DB": influx.database,
    }.items():
        monkeypatch.setenv(k, v)
    return tmp_path


def test_compute_publish_verify_report(env, capsys) -> None:
    assert (
        main(["rating", "metrics", "--period", "2026-10", "--estate", "lvyuan", "--as-of", AS_OF, "--json"])
        == 0
    )
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["metrics"]["intactness_rate"]["numerator"] == 4 * 744 - 5
    assert out["metrics"]["response_on_time_rate"]["value"] == 0.0  # 20 min against the p2 target of 15
    assert out["metrics"]["intactness_rate"]["coverage"] == 1.0  # every asset reported from Sep 1
    assert main(["rating", "compute", "--period", "2026-10", "--as-of", AS_OF]) == 0
    text = capsys.readouterr().out
    assert "lvyuan" in text and "observed 100.00%" in text
    # August, before the first reading (Sep 1): no data, although the assets date from 2010
    assert main(["rating", "metrics", "--period", "2026-08", "--as-of", AS_OF, "--json"]) == 0
    aug = yaml.safe_load(capsys.readouterr().out)["metrics"]
    assert aug["intactness_rate"]["value"] is None and aug["monitoring_coverage"]["value"] == 0.0
    assert main(["rating", "publish", "--period", "2026-10", "--as-of", AS_OF]) == 0
    head = capsys.readouterr().out.split("ledger head ")[1].split()[0]
    assert main(["rating", "publish", "--period", "2026-10", "--as-of", AS_OF]) == 2
    assert "already published" in capsys.readouterr().err
    assert main(["ledger", "verify", "--head", head]) == 0
    assert "ledger OK: 1 entries" in capsys.readouterr().out
    # the current quarter (as of Nov 5) is provisional: refused unless said so, then marked in the ledger
    assert main(["rating", "publish", "--period", "2026Q4", "--as-of", AS_OF]) == 2
    assert "2026Q4 is provisional: 2026Q4 has not ended" in capsys.readouterr().err
    assert main(["rating", "publish", "--period", "2026Q4", "--as-of", AS_OF, "--provisional"]) == 0
    out = capsys.readouterr().out
    assert "published quarterly 2026Q4 (provisional) as ledger entry 2" in out
    head = out.split("ledger head ")[1].split()[0]
    assert main(["ledger", "verify", "--head", head]) == 0
    assert "ledger OK: 2 entries" in capsys.readouterr().out
    html = env / "district.html"
    assert main(["report", "--district", "--period", "2026Q4", "--as-of", AS_OF, "--html", str(html)]) == 0
    assert "(provisional): wrote" in capsys.readouterr().out
    assert "季度辖区物业考核报告" in html.read_text(encoding="utf-8")
    assert main(["report", "--period", "2026-10"]) == 2
    assert "--company ID or --district" in capsys.readouterr().err
    db = sqlite3.connect(env / "store.db")  # the ledger lives in the relational store
    db.execute("DELETE FROM rating_ledger")
    db.commit()
    db.close()
    assert main(["ledger", "verify", "--head", head]) == 1
    assert "not in the ledger" in capsys.readouterr().err


def test_user_errors_exit_2(env, capsys) -> None:
    bad = env / "bad.csv"
    bad.write_text("estate,month,indicator,value\nlvyuan,2026-10,happiness,1\n")
    assert main(["external", "import", "--csv", str(bad)]) == 2
    assert "line 2: unknown indicator 'happiness'" in capsys.readouterr().err
    assert main(["rating", "compute", "--period", "October"]) == 2
    assert main(["report", "--company", "pc-nobody", "--period", "2026-10", "--as-of", AS_OF]) == 2
    assert "no property company 'pc-nobody'" in capsys.readouterr().err
