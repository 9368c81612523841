"""Live forecasts for the API: fleet file + InfluxDB telemetry + the registry's current model per kind.

Covariates of an asset at time ``t``:

- telemetry window features at the feature clock ``T = floor(t, settings.feature_step_s)`` (the last full
  hour by default), looked up in memory, then in the feature store (:mod:`predict.feature_store`, rows the
  refresh job — :mod:`predict.refresh` — or another call computed), else computed from the raw window
  (:class:`InfluxWindowCache`: the whole window the first time, only new points later) and stored. In the
  first ten minutes of a step, a process whose window cache is cold uses the previous step's stored rows
  while the refresh job has not yet stored this step's, rather than read the whole raw window itself;
- event counts over ``[t − window, t)``, live (a fresh alarm counts at once);
- ``since_repair`` at ``t``: time since the asset's last repair, the later of its last ``recovery`` event in
  InfluxDB and, when a ``repairs`` source is given (the work-order store: preventive visits send no event),
  its last resolved order; else its install date — but never before the start of the model's training data,
  where training started every asset's first (left-truncated) lifetime: an asset installed in 2012 and never
  repaired since would otherwise get a ``since_repair`` of thousands of days against at most a year in
  training, and a linear model extrapolates that to certain failure. Assets repaired less than one feature window ago are still
  scored, although their window mixes data from before and after the repair (training rows always had a full
  window after it); ``since_repair`` below the window tells such forecasts apart.

Training landmarks lie on the same clock (:mod:`predict.influx_training`), so a training row and a live row
at the same ``T`` are computed alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from facility.contract import EVENTS_MEASUREMENT, AssetKind
from facility.fleet import AssetSpec, Fleet
from facility.settings import Settings
from ingest.influx import InfluxClient
from maintenance.registry import store_fleet
from predict.down import DownAsset, DownSource, down_from_influx
from predict.feature_store import FeatureStore, feature_clock, spec_key
from predict.features import DAY_MS, WindowSpec, kind_fields, spec_for_kind
from predict.forecast import AssetInput, Forecast, ForecastSettings, forecast_assets
from predict.influx_features import InfluxWindowCache, with_event_counts
from predict.models import SurvivalModel
from predict.registry import ModelRegistry, ModelVersion


class NoModel(LookupError):
    """No trained telemetry model for a kind; the message says which command trains one."""


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _data_start(meta: ModelVersion) -> float:
    """The start of the model's training data in days (``-inf`` when the model does not say)."""
    first = meta.data.get("first")
    try:
        return _ms(dt.datetime.fromisoformat(str(first))) / DAY_MS if first else -math.inf
    except ValueError:
        return -math.inf


#: ``(kind, now_ms) -> {asset: time of the end of its last repair before now, in days}``
RepairSource = Callable[[AssetKind, int], Mapping[str, float]]


#: for this long after a step boundary a process with a cold window cache may use the previous step's stored
#: rows while the refresh job computes the new step's; later it computes them itself
PREVIOUS_STEP_GRACE_MS = 10 * 60_000

#: the window of a model whose ``features_spec`` does not record one (trained before it was stored, when the
#: default was 14 days in 7 buckets); new models record theirs (``predict.features.DEFAULT_WINDOW_DAYS``)
LEGACY_WINDOW_DAYS = 14.0
LEGACY_BUCKETS = 7


@dataclass(frozen=True)
class Ranking:
    forecasts: list[Forecast]
    #: assets left out of the ranking because they are down (open fault, offline, under maintenance)
    down: list[DownAsset] = field(default_factory=list)


class ForecastService:
    def __init__(
        self,
        settings: Settings,
        influx: InfluxClient,
        fleet: Fleet | None = None,
        repairs: RepairSource | None = None,
        *,
        write_features: bool = True,
        down: DownSource | None = None,
    ) -> None:
        """``write_features=False`` (the API): never write to InfluxDB — window features the feature store does
        not hold are computed and kept in memory only; the worker's forecast job (``write_features=True``,
        :func:`predict.jobs.run_forecast_and_plan`) and the refresh job store them. ``down``: the store's
        state timeline (assets faulted, offline or under maintenance), added to InfluxDB's open faults."""
        self.settings = settings
        self.write_features = write_features
        self.down_source = down
        self.influx = influx
        self.fleet = fleet or store_fleet(settings)
        self.repairs = repairs
        self.registry = ModelRegistry(Path(settings.var_dir) / "models")
        self._models: dict[str, tuple[SurvivalModel, ModelVersion]] = {}
        #: the last feature window per kind: a later call reads only the new points
        self.windows = InfluxWindowCache(influx)
        self.store = FeatureStore(influx, settings.feature_retention_days)
        self.step_ms = settings.feature_step_s * 1000
        #: per (kind, spec): the feature clock time and the window features last used
        self._memo: dict[tuple[AssetKind, str], tuple[int, dict[str, dict[str, float]]]] = {}

    def model(self, kind: AssetKind) -> tuple[SurvivalModel, ModelVersion]:
        current = self.registry.current(kind.value)
        if current is None:
            raise NoModel(
                f"no trained model for {kind.value}: run `facility train-telemetry --kind {kind.value}` first"
            )
        cached = self._models.get(kind.value)
        if cached is None or cached[1].version != current.version:
            cached = self.registry.load(kind.value, current.version)
            self._models[kind.value] = cached
        if cached[1].features_spec.get("source") != "telemetry":
            raise NoModel(
                f"the current {kind.value} model was trained on a lifetimes file, not on telemetry: "
                f"run `facility train-telemetry --kind {kind.value}` to score live assets"
            )
        return cached

    def spec(self, kind: AssetKind, meta: ModelVersion) -> WindowSpec:
        fs = meta.features_spec
        window = fs.get("window", LEGACY_WINDOW_DAYS)
        return spec_for_kind(kind, float(window), int(fs.get("buckets", LEGACY_BUCKETS)))

    def _last_recovery(self, kind: AssetKind, now_ms: int) -> dict[str, float]:
        q = (
            f'SELECT last("detail") FROM "{EVENTS_MEASUREMENT}" WHERE "kind" = $kind AND "type" = \'recovery\' '
            f'AND time < {now_ms}ms GROUP BY "asset"'
        )
        out = {}
        for series in self.influx.query(q, params={"kind": kind.value}):
            if series.values:
                out[series.tags["asset"]] = float(series.values[0][0]) / DAY_MS
        return out

    def window_features(
        self, kind: AssetKind, t_ms: int, spec: WindowSpec, ids: list[str], allow_previous: bool = True
    ) -> dict[str, dict[str, float]]:
        """Telemetry window features of ``ids`` at the feature-clock time ``t_ms``: from memory, else the
        feature store, else computed from the raw window and stored (``allow_previous=False``, as the refresh
        job asks: never fall back to the previous step's rows)."""
        fields = kind_fields(kind)
        key = (kind, spec_key(spec, fields))
        memo = self._memo.get(key)
        if memo is not None and memo[0] == t_ms and all(a in memo[1] for a in ids):
            return memo[1]
        feats = self.store.read(kind, spec, t_ms, fields, ids)
        missing = [a for a in ids if a not in feats]
        if (
            missing
            and allow_previous
            and len(ids) > 1
            and not self.windows.covers(kind, t_ms, spec.window, fields)
        ):
            # this process would have to read the whole raw window: if the refresh job (`facility features
            # refresh`) has not stored this step yet but did store the previous one, use that one for now
            previous = self.store.read(kind, spec, t_ms - self.step_ms, fields, missing)
            if len(previous) == len(missing):
                return feats | previous  # not remembered: the next call looks for this step's rows again
        if missing:
            computed, counts = self.windows.window(kind, t_ms, spec, missing, fields)
            if self.write_features:
                self.store.write(kind, spec, t_ms, computed, counts, fields)
            feats |= computed
        if memo is not None and memo[0] == t_ms:
            feats = memo[1] | feats
        self._memo[key] = (t_ms, feats)
        return feats

    def last_repairs(self, kind: AssetKind, now_ms: int) -> dict[str, float]:
        """Each asset's last repair before ``now_ms`` (days): recovery event or resolved order."""
        return self._last_repair(kind, now_ms)

    def _last_repair(self, kind: AssetKind, now_ms: int) -> dict[str, float]:
        out = self._last_recovery(kind, now_ms)
        if self.repairs is not None:
            for asset, t in self.repairs(kind, now_ms).items():
                if t < now_ms / DAY_MS:
                    out[asset] = max(t, out.get(asset, t))
        return out

    def covariates(
        self, kind: AssetKind, specs: list[AssetSpec], now: dt.datetime, meta: ModelVersion
    ) -> pd.DataFrame:
        """The model's input rows for ``specs`` (assets of ``kind``) at ``now``, one per asset in order."""
        now_ms = _ms(now)
        t = now_ms / DAY_MS
        spec = self.spec(kind, meta)
        ids = [a.id for a in specs]
        clock = feature_clock(now_ms, self.step_ms)
        feats = self.window_features(kind, clock, spec, ids, now_ms - clock < PREVIOUS_STEP_GRACE_MS)
        live = with_event_counts(self.influx, kind, now_ms, spec.window, feats, ids)
        repaired = self._last_repair(kind, now_ms)
        # training starts an asset's first lifetime at the start of its data (left truncation): an asset not
        # repaired since then counts from there too, not from an install years back the model never saw
        observed = _data_start(meta)
        rows = []
        for a in specs:
            installed = dt.datetime.combine(a.installed, dt.time(), dt.UTC).timestamp() * 1000 / DAY_MS
            since = {"since_repair": t - max(repaired.get(a.id, installed), observed)}
            rows.append(live[a.id] | since)
        return pd.DataFrame(rows)

    def forecasts(
        self, assets: list[AssetSpec], now: dt.datetime, settings: ForecastSettings | None = None
    ) -> list[Forecast]:
        """Forecasts for ``assets`` (any kinds), riskiest first. Kinds run in parallel threads: InfluxDB works
        on one kind's query while this process parses another's answer, and tree models predict without the
        GIL."""
        groups = []
        for kind in AssetKind:
            specs = [a for a in assets if a.kind is kind]
            if specs:
                groups.append((kind, specs, *self.model(kind)))

        def one_kind(group: tuple[AssetKind, list[AssetSpec], SurvivalModel, ModelVersion]) -> list[Forecast]:
            kind, specs, model, meta = group
            X = self.covariates(kind, specs, now, meta)
            assets_in = [AssetInput(a.id, kind.value, a.criticality) for a in specs]
            mode = str(meta.features_spec.get("mode", "landmark"))
            # for one feature window after a repair, the kind's renewal curve (predict.calibration)
            cfg = replace(settings or ForecastSettings(), renewal_days=self.spec(kind, meta).window)
            return forecast_assets(model, meta.version, X, assets_in, now, mode=mode, settings=cfg)

        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            out = [f for part in pool.map(one_kind, groups) for f in part]
        return sorted(out, key=lambda f: -f.risk)

    def forecast(self, asset_id: str, now: dt.datetime) -> Forecast:
        try:
            spec = self.fleet.asset(asset_id)
        except KeyError:
            raise KeyError(f"unknown asset {asset_id!r}: it is not in the registry") from None
        return self.forecasts([spec], now)[0]

    def down(self, kinds: set[AssetKind], now: dt.datetime) -> dict[str, DownAsset]:
        """Assets down at ``now`` (:mod:`predict.down`): InfluxDB's open faults and offline status, and the
        store's timeline when there is one (the store wins: it also knows who is under maintenance)."""
        now_ms = _ms(now)
        out: dict[str, DownAsset] = {}
        for kind in sorted(kinds, key=lambda k: k.value):
            out |= down_from_influx(self.influx, kind, now_ms)
            if self.down_source is not None:
                out |= self.down_source(kind, now)
        return out

    def down_in_fleet(self, now: dt.datetime, kind: AssetKind | None = None) -> list[DownAsset]:
        """The fleet's assets (of ``kind``) that are down at ``now``, by reason and id: the ranking leaves out
        exactly these (its ``X-Left-Out`` headers) and ``/forecasts/down`` lists them."""
        assets = [a for a in self.fleet.assets if kind is None or a.kind is kind]
        down = self.down({a.kind for a in assets}, now)
        return sorted((down[a.id] for a in assets if a.id in down), key=lambda d: (d.reason, d.asset))

    def ranking_report(self, now: dt.datetime, kind: AssetKind | None = None) -> Ranking:
        """The assets that are up, riskiest first, and the ones left out because they are down."""
        assets = [a for a in self.fleet.assets if kind is None or a.kind is kind]
        usable = [a for a in assets if self.registry.current(a.kind.value) is not None]
        if not usable:
            raise NoModel(
                "no trained model for any asset kind: run `facility train-telemetry --kind KIND` first"
            )
        left_out = self.down_in_fleet(now, kind)
        gone = {d.asset for d in left_out}
        up = [a for a in usable if a.id not in gone]
        forecasts = self.forecasts(up, now, ForecastSettings(explain_top=50)) if up else []
        return Ranking(forecasts, left_out)

    def ranking(self, now: dt.datetime, kind: AssetKind | None = None) -> list[Forecast]:
        """:meth:`ranking_report`'s forecasts: down assets are not in it."""
        return self.ranking_report(now, kind).forecasts

    def close(self) -> None:
        self._models.clear()
        self.windows.clear()
        self._memo.clear()
