"""Training from stored telemetry: the job behind `facility train-telemetry` and the demo's model refresh."""

from __future__ import annotations

import datetime as dt

from facility.contract import AssetKind
from ingest.influx import InfluxClient
from predict.features import DAY_MS, spec_for_kind
from predict.influx_training import training_data_influx
from predict.registry import ModelRegistry, ModelVersion
from predict.repairs import RepairLog
from predict.train import train_model


def train_from_telemetry(
    client: InfluxClient,
    registry: ModelRegistry,
    kind: AssetKind,
    now: dt.datetime,
    *,
    days: float = 365.0,
    window: float = 14.0,
    buckets: int = 7,
    step: float = 2.0,
    horizon: float = 30.0,
    splits: int = 3,
    seed: int = 0,
    repairs: RepairLog | None = None,
) -> ModelVersion:
    """Landmark training data from ``days`` of telemetry and fault events before ``now``; selects, fits and
    registers a model. Raises FitFailed (the previous model stays current), DataError or InfluxError.

    ``repairs`` (:func:`predict.repairs.order_log`): the work-order store's repairs, added to InfluxDB's
    ``recovery`` events — without them a preventive visit (it sends no event) neither censors a lifetime nor
    restarts ``since_repair``."""
    if days <= window:
        raise ValueError(f"--days ({days}) must exceed the feature --window ({window})")
    end_ms = int(now.timestamp() * 1000)
    start_ms = end_ms - int(days * DAY_MS)
    spec = spec_for_kind(kind, window, buckets)
    extra = repairs(kind, start_ms, end_ms) if repairs is not None else []
    data = training_data_influx(client, kind, start_ms, end_ms, spec, step, extra=extra)
    return train_model(
        data,
        kind.value,
        registry,
        now,
        horizon=horizon,
        splits=splits,
        data_range={
            "first": dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).isoformat(),
            "last": now.isoformat(),
        },
        features_spec={
            "source": "telemetry",
            "mode": "landmark",
            "window": spec.window,
            "buckets": spec.buckets,
            "step": step,
            "repairs": "events+orders" if repairs is not None else "events",
        },
        seed=seed,
    )
