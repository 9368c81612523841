"""Stored window features on a real InfluxDB: the live service's cold path reads them instead of the raw window."""

from __future__ import annotations

import dataclasses as dc
import datetime as dt
import math
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest

from facility.contract import AssetKind, AssetRef, Event, EventType, Reading
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from predict.feature_store import (
    FEATURES_MEASUREMENT,
    FEATURES_RP,
    FeatureStore,
    feature_clock,
    spec_key,
)
from predict.features import DAY_MS, WindowSpec, kind_fields, spec_for_kind
from predict.influx_features import fleet_features_influx
from predict.models import CoxPH, SurvivalModel, survival_y
from predict.refresh import refresh_features, seconds_to_next_step
from predict.registry import ModelVersion
from predict.service import ForecastService
from runtime.cli import main as cli_main
from tests.integration import test_features_influx as data
from tests.integration.test_features_influx import ASSETS, same
from tests.registry_support import import_fleet

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
KIND = AssetKind.ELEVATOR
FIELDS = kind_fields(KIND)


# the feature store keeps 30 days: put the test history in the last three weeks (the shared one is in 2023)
SHIFT_MS = (int(time.time() * 1000) - 21 * DAY_MS - data.T0) // HOUR_MS * HOUR_MS
T0 = data.T0 + SHIFT_MS


def history(seed: int) -> list[Reading | Event]:
    return [dc.replace(m, ts_ms=m.ts_ms + SHIFT_MS) for m in data.history(seed)[0]]


def service_args(tmp_path: Path, influx: InfluxClient) -> tuple[Settings, InfluxClient]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "estates:\n  - {id: est, name: E, group: old, company: pc, company_name: P, installed: 2012-01-01,\n"
        "     buildings: [{id: b1, assets: [{id: el-1, kind: elevator}, {id: el-2, kind: elevator}]}]}\n"
    )
    settings = Settings(var_dir=tmp_path / "var", fleet_file=fleet)
    import_fleet(settings, fleet)
    return settings, influx


def service(influx: InfluxClient, tmp_path: Path) -> ForecastService:
    return ForecastService(*service_args(tmp_path, influx))


def test_rows_round_trip_with_nan_and_never_mix_specs_or_kinds(influx: InfluxClient) -> None:
    spec = spec_for_kind(KIND, window_days=7, buckets=7)
    names = spec.feature_names(FIELDS)
    row_a = {n: 0.1 * i + 1e-7 for i, n in enumerate(names)}
    row_b = dict(row_a) | {names[0]: math.nan, names[-1]: -2.5e12}
    store = FeatureStore(influx)
    t = feature_clock(T0 + 5 * DAY_MS + 1234, HOUR_MS)
    assert t % HOUR_MS == 0 and T0 + 5 * DAY_MS + 1234 - t < HOUR_MS
    assert store.write(KIND, spec, t, {"el-1": row_a, "el 2,x": row_b}, {"el-1": 12}, FIELDS) == 2
    other = spec_for_kind(KIND, window_days=14, buckets=7)
    store.write(KIND, other, t, {"el-1": {n: 99.0 for n in names}}, {"el-1": 1}, FIELDS)
    back = store.read(KIND, spec, t, FIELDS)
    assert back.keys() == {"el-1", "el 2,x"}
    assert back["el-1"] == row_a  # exact: floats are written with repr
    assert same(back["el 2,x"], row_b)
    assert store.read(KIND, spec, t, FIELDS, ["el-1"]) == {"el-1": row_a}
    assert store.read(KIND, other, t, FIELDS)["el-1"][names[0]] == 99.0
    assert store.read(AssetKind.SMART_BIN, spec, t, kind_fields(AssetKind.SMART_BIN)) == {}
    assert store.read(KIND, spec, t + HOUR_MS, FIELDS) == {}
    # beyond the retention period nothing is stored (InfluxDB would drop the points)
    assert store.write(KIND, spec, t - 30 * DAY_MS, {"el-1": row_a}, {"el-1": 12}, FIELDS) == 0
    # the readings count is kept (0 for an asset without data), in the features retention policy
    rows = influx.records(
        f'SELECT "readings", "asset" FROM "{FEATURES_RP}"."{FEATURES_MEASUREMENT}" WHERE "spec" = $s',
        params={"s": spec_key(spec, FIELDS)},
    )
    assert sorted((r["asset"], r["readings"]) for r in rows) == [("el 2,x", 0), ("el-1", 12)]
    policies = {row[0]: row[1] for s in influx.query("SHOW RETENTION POLICIES") for row in s.values}
    assert policies[FEATURES_RP] == "720h0m0s"


class FixedModelService(ForecastService):
    """The live service with one in-memory model instead of the registry."""

    fitted: SurvivalModel
    data: Mapping[str, str] = MappingProxyType({})

    def model(self, kind: AssetKind) -> tuple[SurvivalModel, ModelVersion]:
        spec = {"source": "telemetry", "window": 7.0, "buckets": 7}
        meta = ModelVersion(kind.value, "v-test", "cox", "", (), data=dict(self.data), features_spec=spec)
        return self.fitted, meta


def fitted_on(influx: InfluxClient, spec: WindowSpec, hour: int) -> SurvivalModel:
    """A Cox model on this telemetry's own features (every 6 h before ``hour``), with made-up outcomes."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(1, 31):
        feats = fleet_features_influx(influx, KIND, hour - 6 * k * HOUR_MS, spec, ASSETS)
        rows += [feats[a] | {"since_repair": 5000 + rng.uniform(0, 1000)} for a in ASSETS]
    X = pd.DataFrame(rows)
    z = X["vibration_mm_s__level"].to_numpy()
    t = rng.exponential(30 * np.exp(-(z - z.mean()) / z.std()))
    return CoxPH(penalizer=0.1).fit(X, survival_y(t + 0.01, np.ones(len(X), dtype=int)))


def test_forecasts_use_the_last_full_hour_and_a_restart_reads_the_stored_rows(
    influx: InfluxClient, tmp_path: Path
) -> None:
    influx.write(to_lines(history(3)))
    spec = spec_for_kind(KIND, window_days=7, buckets=7)
    now = T0 + 15 * DAY_MS + 37 * 60_000 + 5_000  # some minutes past an hour
    hour = feature_clock(now, HOUR_MS)
    expected = fleet_features_influx(influx, KIND, hour, spec, ASSETS, event_types=())
    at_now = fleet_features_influx(influx, KIND, now, spec, ASSETS, event_types=())
    assert not same(expected["el-1"], at_now["el-1"])  # the clock matters: readings every 10 minutes

    first = FixedModelService.__new__(FixedModelService)
    ForecastService.__init__(first, *service_args(tmp_path, influx))
    first.fitted = fitted_on(influx, spec, hour)
    assets = list(first.fleet.assets)
    when = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
    before = {f.asset: f for f in first.forecasts(assets, when)}
    assert first._memo[(KIND, spec_key(spec, FIELDS))][0] == hour
    stored = FeatureStore(influx).read(KIND, spec, hour, FIELDS)
    for asset in ASSETS:
        assert same(first._memo[(KIND, spec_key(spec, FIELDS))][1][asset], expected[asset], rel=1e-12)
        assert same(stored[asset], expected[asset], rel=1e-12)

    # a new process (empty caches) with the raw telemetry gone: the same window features, read from the
    # store, and so the same forecasts
    influx.query(f'DROP MEASUREMENT "{KIND.value}"')
    gone = fleet_features_influx(influx, KIND, hour, spec, ASSETS, event_types=())
    assert math.isnan(gone["el-1"]["vibration_mm_s__level"])
    restarted = FixedModelService.__new__(FixedModelService)
    ForecastService.__init__(restarted, *service_args(tmp_path, influx))
    restarted.fitted = first.fitted
    after = {f.asset: f for f in restarted.forecasts(assets, when)}
    assert len({f.p_fail[30] for f in before.values()}) == 2
    for asset in before:
        assert after[asset].p_fail == pytest.approx(before[asset].p_fail, rel=1e-9)
        assert after[asset].survival == pytest.approx(before[asset].survival, rel=1e-9)
    # the next hour is not stored: the refresh job computes it from what InfluxDB holds now (nothing) and
    # stores it in turn
    later = restarted.window_features(KIND, hour + HOUR_MS, spec, list(ASSETS), allow_previous=False)
    assert math.isnan(later["el-1"]["vibration_mm_s__level"])
    assert FeatureStore(influx).read(KIND, spec, hour + HOUR_MS, FIELDS).keys() == set(ASSETS)


def test_a_new_asset_missing_from_the_stored_rows_is_computed_and_added(
    influx: InfluxClient, tmp_path: Path
) -> None:
    influx.write(to_lines(history(4)))
    spec = spec_for_kind(KIND, window_days=7, buckets=7)
    hour = feature_clock(T0 + 12 * DAY_MS + 1, HOUR_MS)
    svc = service(influx, tmp_path)
    svc.window_features(KIND, hour, spec, ["el-1"])
    assert FeatureStore(influx).read(KIND, spec, hour, FIELDS).keys() == {"el-1"}
    both = service(influx, tmp_path).window_features(KIND, hour, spec, list(ASSETS))
    fresh = fleet_features_influx(influx, KIND, hour, spec, ASSETS, event_types=())
    for asset in ASSETS:
        assert same(both[asset], fresh[asset], rel=1e-12)
    assert FeatureStore(influx).read(KIND, spec, hour, FIELDS).keys() == set(ASSETS)


def test_refresh_job_stores_each_hour_and_a_cold_reader_uses_the_previous_hour_meanwhile(
    influx: InfluxClient, tmp_path: Path
) -> None:
    influx.write(to_lines(history(5)))
    spec = spec_for_kind(KIND, window_days=7, buckets=7)
    now = T0 + 14 * DAY_MS + 20 * 60_000
    hour = feature_clock(now, HOUR_MS)
    job = FixedModelService.__new__(FixedModelService)
    ForecastService.__init__(job, *service_args(tmp_path, influx))
    job.fitted = fitted_on(influx, spec, hour)
    result = refresh_features(job, dt.datetime.fromtimestamp(now / 1000, dt.UTC))
    assert result.at == dt.datetime.fromtimestamp(hour / 1000, dt.UTC)
    assert result.rows == {"elevator": 2} and result.skipped == {}
    expected = fleet_features_influx(influx, KIND, hour, spec, ASSETS, event_types=())
    stored = FeatureStore(influx).read(KIND, spec, hour, FIELDS)
    assert all(same(stored[a], expected[a], rel=1e-12) for a in ASSETS)

    # the next hour, before the job has run: a reader with a cold cache takes the previous hour's rows
    # instead of reading the whole raw window, and computes nothing
    reader = service(influx, tmp_path)
    got = reader.window_features(KIND, hour + HOUR_MS, spec, list(ASSETS))
    assert all(same(got[a], stored[a]) for a in ASSETS)
    assert FeatureStore(influx).read(KIND, spec, hour + HOUR_MS, FIELDS) == {}
    assert KIND not in reader.windows._windows
    # so do forecasts in the first ten minutes of the hour; later a process computes the hour itself
    api = FixedModelService.__new__(FixedModelService)
    ForecastService.__init__(api, *service_args(tmp_path, influx))
    api.fitted = job.fitted
    next_hour = dt.datetime.fromtimestamp((hour + HOUR_MS) / 1000, dt.UTC)
    api.forecasts(list(api.fleet.assets), next_hour + dt.timedelta(minutes=9))
    assert FeatureStore(influx).read(KIND, spec, hour + HOUR_MS, FIELDS) == {}
    api.forecasts(list(api.fleet.assets), next_hour + dt.timedelta(minutes=11))
    assert FeatureStore(influx).read(KIND, spec, hour + HOUR_MS, FIELDS).keys() == set(ASSETS)
    # the job (warm cache: it reads only the new hour) has that hour stored; the reader then finds it
    later = refresh_features(job, dt.datetime.fromtimestamp((now + HOUR_MS) / 1000, dt.UTC))
    assert later.rows == {"elevator": 2}
    fresh = fleet_features_influx(influx, KIND, hour + HOUR_MS, spec, ASSETS, event_types=())
    got = reader.window_features(KIND, hour + HOUR_MS, spec, list(ASSETS))
    assert all(same(got[a], fresh[a], rel=1e-12) for a in ASSETS)
    assert not same(fresh["el-1"], expected["el-1"])
    # a kind without a model is skipped, with the command that trains one
    assert (
        refresh_features(service(influx, tmp_path), dt.datetime.fromtimestamp(now / 1000, dt.UTC))
        .skipped["elevator"]
        .startswith("no trained model for elevator: run `facility train-telemetry")
    )


def test_next_refresh_waits_for_the_step_boundary_plus_the_lag() -> None:
    at = dt.datetime(2026, 11, 23, 10, 59, 30, tzinfo=dt.UTC)
    assert seconds_to_next_step(at, HOUR_MS, 60.0) == pytest.approx(90.0)
    assert seconds_to_next_step(at.replace(minute=0, second=0), HOUR_MS, 0.0) == pytest.approx(3600.0)


def test_refresh_command_names_a_bad_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["features", "refresh", "--at", "2026-11-23T10:00"]) == 2
    assert "has no time zone" in capsys.readouterr().err
    assert cli_main(["features", "refresh", "--loop", "--at", "2026-11-23T10:00+00:00"]) == 2
    assert "--at and --loop do not go together" in capsys.readouterr().err


def test_since_repair_counts_from_the_last_repair_but_not_before_the_models_data(
    influx: InfluxClient, tmp_path: Path
) -> None:
    now = T0 + 14 * DAY_MS
    ref = AssetRef("est", "b1", KIND, "el-2")
    influx.write(to_lines([*history(6), Event(ref, now - 3 * DAY_MS, EventType.RECOVERY, "door_fault")]))
    svc = FixedModelService.__new__(FixedModelService)
    ForecastService.__init__(svc, *service_args(tmp_path, influx))
    svc.fitted = CoxPH()  # covariates() does not use it
    when = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
    first = when - dt.timedelta(days=200)
    svc.data = {"first": first.isoformat()}
    _, meta = svc.model(KIND)
    X = svc.covariates(KIND, list(svc.fleet.assets), when, meta)
    # el-1 (installed 2012, never repaired): from the start of the training data; el-2: from its recovery
    assert X["since_repair"].tolist() == pytest.approx([200.0, 3.0])
    svc.data = {}  # a model that does not say where its data started: from the install date
    X = svc.covariates(KIND, list(svc.fleet.assets), when, svc.model(KIND)[1])
    installed = dt.datetime(2012, 1, 1, tzinfo=dt.UTC).timestamp() * 1000
    assert X["since_repair"].tolist() == pytest.approx([(now - installed) / DAY_MS, 3.0])
