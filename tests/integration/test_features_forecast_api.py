"""Train from InfluxDB telemetry (the live feature query at every landmark), then serve forecasts over HTTP
(read-only: GET never writes to InfluxDB), leave down assets out of the ranking, and plan with the store's
crews: a resolved proposal renews the asset's forecast and is not proposed again."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import api.context
from api.app import create_app
from api.context import AppContext
from facility.contract import AssetKind, AssetRef
from facility.fleet import AssetSpec, load_fleet
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from maintenance.db import Database
from maintenance.domain import AssetState, OrderState, OrderType, Priority
from maintenance.models import Crew, Order
from maintenance.orders import create_order, order_clock, transition
from maintenance.registry import load_fleet as store_fleet
from maintenance.registry import upsert_asset
from maintenance.sla import default_targets, sla_status
from maintenance.timeline import set_state
from maintenance.tokens import Role, create_token
from predict import cli
from predict.feature_store import FEATURES_MEASUREMENT, FEATURES_RP
from predict.features import spec_for_kind
from predict.influx_training import training_data_influx
from predict.jobs import run_forecast_and_plan
from predict.models import CoxPH
from predict.planner import PlannerSettings
from predict.registry import ModelRegistry
from predict.train import train_model
from simulators.history import generate_history

pytestmark = pytest.mark.integration

FLEET = """
estates:
  - id: est
    name: Test estate
    group: old
    company: pc-test
    company_name: Test Property
    installed: 2012-01-01
    buildings:
      - {id: b1, floors: 18, counts: {smart_bin: 4, water_pump: 1}}
      - {id: b2, floors: 18, counts: {smart_bin: 4}}
"""
END = dt.datetime(2026, 11, 2, 1, tzinfo=dt.UTC)  # a Monday, 09:00 in Shanghai


def stored_feature_rows(influx: InfluxClient) -> int:
    policies = {str(row[0]) for s in influx.query("SHOW RETENTION POLICIES") for row in s.values}
    if FEATURES_RP not in policies:
        return 0
    series = influx.query(f'SELECT count("values") FROM "{FEATURES_RP}"."{FEATURES_MEASUREMENT}"')
    return sum(int(row[1]) for s in series for row in s.values)


def test_train_from_influx_and_serve_forecasts(
    influx: InfluxClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    fleet = load_fleet(fleet_file)
    end_ms = int(END.timestamp() * 1000)
    history = generate_history(fleet, seed=7, end_ms=end_ms, days=150, step_s=3600, health_every_s=0)
    influx.write(to_lines(list(history.messages())))
    kind = AssetKind.SMART_BIN
    spec = spec_for_kind(kind, window_days=7, buckets=7)
    data = training_data_influx(influx, kind, history.start_ms, history.end_ms, spec, step_days=4)
    failures = [r for r in history.failures() if r.kind == kind.value]
    assert data.subject_events > 0 and len(failures) >= data.subject_events
    # every row's window lies after the lifetime start: since_repair >= the window
    assert data.X["since_repair"].min() >= spec.window
    assert np.all(data.time > 0)
    # asked for 365 days on 150 days of history: lifetimes start at each asset's first reading, so no row is
    # a window without telemetry (the training the CLI does without flags)
    year = training_data_influx(influx, kind, end_ms - 365 * 86_400_000, end_ms, spec, step_days=4)
    telemetry = [c for c in year.X.columns if c.startswith("fill_pct__")]
    assert year.X[telemetry].notna().any(axis=1).all() and year.X["since_repair"].max() <= 150
    assert abs(len(year.X) - len(data.X)) <= len(fleet.assets)

    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    # features of END (a fixed past time) are kept: the retention period reaches back to it
    settings = Settings(
        var_dir=tmp_path / "var", fleet_file=fleet_file, database_url=db_url, feature_retention_days=3650
    )
    db = Database.open(db_url)
    with db.transaction() as s:
        store_fleet(s, fleet)
        s.add_all(
            [
                Crew(id="bins", name="Bins", skills=["smart_bin"], estates=["est"]),
                Crew(id="lifts", name="Lifts", skills=["elevator"], estates=["est"]),
            ]
        )
        token = create_token(s, "viewer", Role.VIEWER, END)
        # one bin is down: faulted in the store's timeline (a crew is on the way)
        set_state(s, "est-b2-sb4", AssetState.FAULTED, END - dt.timedelta(hours=5), "fault sensor_fault")
    registry = ModelRegistry(settings.var_dir / "models")
    meta = train_model(
        data,
        kind.value,
        registry,
        END,
        splits=0,
        candidates={"cox_ridge": CoxPH(penalizer=0.1)},
        features_spec={"source": "telemetry", "mode": "landmark", "window": 7.0, "buckets": 7, "step": 4.0},
    )
    assert meta.metrics["held_out"]["served"] in ("cox_ridge", "kaplan_meier")
    ctx = AppContext(settings, influx)
    ctx.extras["db"] = db
    app = create_app(ctx=ctx)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        before = stored_feature_rows(influx)
        r = client.get("/api/v1/assets/est-b1-sb1/forecast", params={"at": END.isoformat()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == meta.version and body["kind"] == "smart_bin"
        assert 0 <= body["p_fail_7d"] <= body["p_fail_30d"] <= body["p_fail_90d"] <= 1
        assert body["risk"] == pytest.approx(body["p_fail_30d"] * body["criticality"], abs=1e-4)
        s = body["survival"]
        assert s[0] == pytest.approx(1.0) and all(a >= b for a, b in itertools.pairwise(s))
        assert 0.0 < body["p_fail_30d"] < 1.0 and min(s) > 0.0  # never 0 % or 100 %
        if meta.model != "kaplan_meier":
            driver = body["drivers"][0]
            assert driver["name"] in data.X.columns and driver["text"] and driver["text_en"]

        ranking = client.get("/api/v1/forecasts/ranking", params={"at": END.isoformat(), "kind": "smart_bin"})
        assert ranking.status_code == 200
        risks = [f["risk"] for f in ranking.json()]
        # the faulted bin is left out, and the ranking says so
        assert len(risks) == 7 and risks == sorted(risks, reverse=True)
        assert "est-b2-sb4" not in {f["asset"] for f in ranking.json()}
        assert (
            ranking.headers["X-Left-Out"] == "1" and ranking.headers["X-Left-Out-Reasons"] == "open_fault=1"
        )
        down = client.get("/api/v1/forecasts/down", params={"at": END.isoformat()}).json()
        assert [(d["asset"], d["reason"]) for d in down] == [("est-b2-sb4", "open_fault")]
        assert (
            client.get("/api/v1/assets/est-b2-sb4/forecast", params={"at": END.isoformat()}).json()["down"]
            == "open_fault"
        )
        # GET routes computed the window features but wrote nothing (issue 15)
        assert stored_feature_rows(influx) == before

        models = client.get("/api/v1/models").json()
        bins = next(m for m in models if m["kind"] == "smart_bin")
        assert bins["held_out_brier_30d"] is not None and bins["kaplan_meier_brier_30d"] is not None
        assert bins["beats_kaplan_meier"] == (bins["held_out_brier_30d"] < bins["kaplan_meier_brier_30d"])
        assert sum(r["n"] for r in bins["reliability"]) == meta.metrics["held_out"]["rows"]
        # the planner threshold and the numbers behind it (issue 12): rows with a known outcome, target rate
        shown = bins["plan_threshold"]
        assert shown["known_rows"] == meta.threshold["known_rows"] == meta.metrics["held_out"]["rows"]
        assert shown["target_rate"] == shown["reference_probability"] == 0.3 and shown["km_rate"] is not None
        assert (shown["probability"] is None) == ("reason" in shown)

        missing = client.get("/api/v1/assets/est-b1-wp1/forecast", params={"at": END.isoformat()})
        assert missing.status_code == 409
        assert "no trained model for water_pump" in missing.json()["detail"]
        assert client.get("/api/v1/assets/nope/forecast").status_code == 404

        # H2 #3/#10: bins registered after the API's forecast service started are forecast and ranked without a
        # restart, and the ranking's left-out headers agree with /forecasts/down
        monkeypatch.setattr(api.context, "FLEET_TTL_S", 0.0)
        with db.transaction() as s:
            for new in ("est-b2-sb8", "est-b2-sb9"):
                ref = AssetRef("est", "b2", kind, new)
                upsert_asset(s, AssetSpec(ref, "bin-240L", dt.date(2026, 1, 1), 2))
            set_state(s, "est-b2-sb9", AssetState.FAULTED, END - dt.timedelta(hours=1), "fault sensor_fault")
        r = client.get("/api/v1/assets/est-b2-sb8/forecast", params={"at": END.isoformat()})
        assert r.status_code == 200 and r.json()["asset"] == "est-b2-sb8" and r.json()["down"] is None, r.text
        ranking = client.get(
            "/api/v1/forecasts/ranking", params={"at": END.isoformat(), "kind": "smart_bin", "limit": 100}
        )
        assert len(ranking.json()) == 8 and "est-b2-sb8" in {f["asset"] for f in ranking.json()}
        assert ranking.headers["X-Left-Out"] == "2"
        assert ranking.headers["X-Left-Out-Reasons"] == "open_fault=2"
        down = client.get("/api/v1/forecasts/down", params={"at": END.isoformat()}).json()
        assert [(d["asset"], d["reason"]) for d in down] == [
            ("est-b2-sb4", "open_fault"),
            ("est-b2-sb9", "open_fault"),
        ]

    # the planner over the live forecasts: `facility plan` (threshold 0: every bin that is up qualifies), with
    # the store's crews by default: only the bin crew may take bins
    for key, value in {
        "INFLUX_URL": influx.url,
        "INFLUX_DB": influx.database,
        "VAR_DIR": str(settings.var_dir),
        "FLEET_FILE": str(fleet_file),
        "DATABASE_URL": db_url,
    }.items():
        monkeypatch.setenv(f"FACILITY_{key}", value)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    # H2 #16: a bin with an open order in the store is not planned again (as the worker does)
    with db.transaction() as s:
        create_order(
            s,
            asset_id="est-b1-sb3",
            type=OrderType.INSPECTION,
            priority=Priority.P3,
            title="inspection",
            actor="eng",
            at=END - dt.timedelta(days=1),
        )
    args = parser.parse_args(["plan", "--at", END.isoformat(), "--threshold", "0", "--open", "est-b1-sb2"])
    # the bins' model threshold overrides --threshold (none: the kind gets no predictive proposals)
    meta_p = meta.threshold.get("probability")
    assert args.func(args) == 0
    orders = json.loads(capsys.readouterr().out)
    assets = [o["asset"] for o in orders]
    assert not {"est-b1-sb2", "est-b1-sb3", "est-b2-sb4", "est-b2-sb9"} & set(assets)
    assert len(assets) == len(set(assets))
    assert all(o["requires_approval"] and o["reasons"] and o["crew"] == "bins" for o in orders)
    days = [o["start"][:10] for o in orders]
    assert all(days.count(d) <= 3 for d in days)
    if meta_p:
        assert all(o["risk"] >= 3 * meta_p for o in orders)
    else:
        assert orders == []  # no threshold (weak model or Kaplan-Meier served): no predictive proposals

    # the worker's job: proposals are planned work (no response clock until approved)
    every_bin = PlannerSettings(kind_thresholds={"smart_bin": 0.0})
    first = run_forecast_and_plan(settings, db, influx, END, fleet=fleet, planner=every_bin)
    assert first.created and "est-b2-sb4" in {d.asset for d in first.down}
    assert stored_feature_rows(influx) > 0  # the worker stores the hour's features
    with db.transaction() as s:
        created = [s.get(Order, i) for i in first.created]
        assert all(
            o is not None and o.window_end is not None and o.window_end > o.scheduled_for for o in created
        )
        later = END + dt.timedelta(hours=6)
        assert not any(sla_status(order_clock(o), later, default_targets()).breached for o in created if o)
    top = max(first.forecasts, key=lambda f: f.risk if f.asset in {o.asset for o in first.planned} else -1)
    order_id = next(i for i, o in zip(first.created, first.planned, strict=True) if o.asset == top.asset)
    with db.transaction() as s:
        order = s.get(Order, order_id)
        assert order is not None
        t = END + dt.timedelta(hours=1)
        transition(s, order, OrderState.ASSIGNED, "eng", t, crew_id="bins")
        transition(s, order, OrderState.ACKNOWLEDGED, "bins", t + dt.timedelta(minutes=5))
        transition(s, order, OrderState.IN_PROGRESS, "bins", t + dt.timedelta(minutes=30))
        transition(s, order, OrderState.RESOLVED, "bins", t + dt.timedelta(hours=1))
    # the next round: the resolved visit renews the forecast and the asset is not proposed again
    second = run_forecast_and_plan(
        settings, db, influx, END + dt.timedelta(hours=3), fleet=fleet, planner=every_bin
    )
    after = next(f for f in second.forecasts if f.asset == top.asset)
    assert after.risk < top.risk, (after.risk, top.risk)
    assert top.asset not in {o.asset for o in second.planned}
    assert not second.created  # every other bin still has its open proposal
    db.dispose()
