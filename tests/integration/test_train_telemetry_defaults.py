"""`facility train-telemetry` without flags on 180 days of history and a kind with 3 failures (issue 12): the
product's default feature window (28 days) fits in that history, the model records it, and the planner's
cool-down after a visit is that window."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from facility.contract import AssetKind
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from predict import cli
from predict.features import DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS
from predict.jobs import kind_windows, planner_settings
from predict.planner import PlannerSettings
from predict.registry import ModelRegistry
from predict.service import LEGACY_WINDOW_DAYS, ForecastService
from simulators.history import generate_history
from tests.registry_support import one_building_fleet

pytestmark = pytest.mark.integration

END = dt.datetime(2026, 11, 2, 1, tzinfo=dt.UTC)


def test_train_telemetry_without_flags_on_180_days(
    influx: InfluxClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = one_building_fleet({"elevator": 2, "fire_alarm": 2, "water_pump": 2})
    end_ms = int(END.timestamp() * 1000)
    # seed 2: the two fire panels fail 3 times in 180 days
    history = generate_history(fleet, seed=2, end_ms=end_ms, days=180, step_s=3600, health_every_s=0)
    failures = [r for r in history.failures() if r.kind == "fire_alarm"]
    assert len(failures) == 3
    influx.write(to_lines(list(history.messages())))
    for key, value in {
        "INFLUX_URL": influx.url,
        "INFLUX_DB": influx.database,
        "VAR_DIR": str(tmp_path / "var"),  # no var/facility.db, no database URL: InfluxDB alone
    }.items():
        monkeypatch.setenv(f"FACILITY_{key}", value)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train-telemetry", "--kind", "fire_alarm"])
    assert (args.window, args.buckets, args.days) == (28.0, 7, 365.0)
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    registry = ModelRegistry(tmp_path / "var" / "models")
    meta = registry.current("fire_alarm")
    assert meta is not None and out["version"] == meta.version and out["kind"] == "fire_alarm"
    assert (meta.features_spec["window"], meta.features_spec["buckets"]) == (
        DEFAULT_WINDOW_DAYS,
        DEFAULT_BUCKETS,
    )
    # 365 days asked for, 180 present: observation starts at the first reading
    first = dt.datetime.fromisoformat(meta.data["first"])
    assert abs((first - (END - dt.timedelta(days=180))).total_seconds()) <= 3600

    # serving reads the model's own window; the planner's cool-down after a visit is that window
    settings = Settings(var_dir=tmp_path / "var")
    service = ForecastService(settings, influx, fleet)
    try:
        spec = service.spec(AssetKind.FIRE_ALARM, meta)
        assert (spec.window, spec.buckets, spec.width) == (28.0, 7, 4.0)
        assert kind_windows(service, ["fire_alarm", "elevator"]) == {"fire_alarm": 28.0}  # no lift model
        cfg = planner_settings(PlannerSettings(), service, {"fire_alarm"})
        assert cfg.cooldown("fire_alarm") == dt.timedelta(days=28)
        kept = planner_settings(PlannerSettings(cooldown_days={"fire_alarm": 3.0}), service, {"fire_alarm"})
        assert kept.cooldown("fire_alarm") == dt.timedelta(days=3)
        # a model registered before the window was recorded is read as the old 14-day default
        old = replace(meta, features_spec={"source": "telemetry"})
        assert service.spec(AssetKind.FIRE_ALARM, old).window == LEGACY_WINDOW_DAYS == 14.0
    finally:
        service.close()
