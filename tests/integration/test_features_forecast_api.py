"""Train from InfluxDB telemetry (the live feature query at every landmark), then serve forecasts over HTTP."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.contract import AssetKind
from facility.fleet import load_fleet
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from predict import cli
from predict.features import spec_for_kind
from predict.influx_training import training_data_influx
from predict.models import CoxPH
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
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


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

    settings = Settings(var_dir=tmp_path / "var", fleet_file=fleet_file)
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
    app = create_app(ctx=AppContext(settings, influx))
    with TestClient(app) as client:
        r = client.get("/api/v1/assets/est-b1-sb1/forecast", params={"at": END.isoformat()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == meta.version and body["kind"] == "smart_bin"
        assert 0 <= body["p_fail_7d"] <= body["p_fail_30d"] <= body["p_fail_90d"] <= 1
        assert body["risk"] == pytest.approx(body["p_fail_30d"] * body["criticality"], abs=1e-4)
        s = body["survival"]
        assert s[0] == pytest.approx(1.0) and all(a >= b for a, b in itertools.pairwise(s))
        assert body["drivers"] and body["drivers"][0]["name"] in data.X.columns

        ranking = client.get("/api/v1/forecasts/ranking", params={"at": END.isoformat(), "kind": "smart_bin"})
        assert ranking.status_code == 200
        risks = [f["risk"] for f in ranking.json()]
        assert len(risks) == 8 and risks == sorted(risks, reverse=True)

        missing = client.get("/api/v1/assets/est-b1-wp1/forecast", params={"at": END.isoformat()})
        assert missing.status_code == 409
        assert "no trained model for water_pump" in missing.json()["detail"]
        assert client.get("/api/v1/assets/nope/forecast").status_code == 404

    # the planner over the live forecasts: `facility plan` (threshold 0: every bin qualifies)
    for key, value in {
        "INFLUX_URL": influx.url,
        "INFLUX_DB": influx.database,
        "VAR_DIR": str(settings.var_dir),
        "FLEET_FILE": str(fleet_file),
    }.items():
        monkeypatch.setenv(f"FACILITY_{key}", value)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["plan", "--at", END.isoformat(), "--crews", "c1=2", "--threshold", "0", "--open", "est-b1-sb2"]
    )
    # a backtest threshold for bins (when training found one) overrides --threshold
    meta_p = meta.threshold.get("probability")
    assert args.func(args) == 0
    orders = json.loads(capsys.readouterr().out)
    assets = [o["asset"] for o in orders]
    assert "est-b1-sb2" not in assets and len(assets) == len(set(assets))
    assert all(o["requires_approval"] and o["reasons"] for o in orders)
    days = [o["start"][:10] for o in orders]
    assert all(days.count(d) <= 2 for d in days)
    if meta_p:
        assert all(o["risk"] >= 3 * meta_p for o in orders)
    else:
        assert len(orders) == 7  # 8 bins, one with an open order
