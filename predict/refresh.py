"""The feature refresh job: each step (hour), store the window features of every asset whose kind has a
telemetry model, so that the API and other readers find them in the feature store (:mod:`predict.feature_store`).

The job is one long-lived :class:`predict.service.ForecastService`: its first round reads each kind's whole raw
window from InfluxDB, later rounds only the points since the previous one (``InfluxWindowCache``). Run it as
``facility features refresh --loop`` (docker-compose service ``features``); the demo does the same in its
analytics thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from facility.contract import AssetKind
from predict.feature_store import feature_clock
from predict.service import ForecastService, NoModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    at: dt.datetime  # the feature-clock time the rows are for
    rows: dict[str, int]  # kind -> assets with features at ``at``
    skipped: dict[str, str]  # kind -> why (no telemetry model yet)
    seconds: float


def refresh_features(service: ForecastService, now: dt.datetime) -> RefreshResult:
    """Compute (or find) and store the window features at ``floor(now, step)`` of every fleet asset."""
    t0 = time.perf_counter()
    t_ms = feature_clock(int(now.timestamp() * 1000), service.step_ms)
    rows: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for kind in AssetKind:
        ids = [a.id for a in service.fleet.assets if a.kind is kind]
        if not ids:
            continue
        try:
            _, meta = service.model(kind)
        except NoModel as exc:
            skipped[kind.value] = str(exc)
            continue
        feats = service.window_features(kind, t_ms, service.spec(kind, meta), ids, allow_previous=False)
        rows[kind.value] = len(feats)
    at = dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)
    return RefreshResult(at, rows, skipped, time.perf_counter() - t0)


def seconds_to_next_step(now: dt.datetime, step_ms: int, lag_s: float) -> float:
    """Seconds from ``now`` until ``lag_s`` after the next step boundary (late points get ``lag_s`` to land)."""
    now_ms = now.timestamp() * 1000
    boundary = feature_clock(int(now_ms), step_ms) + step_ms
    return max(0.0, (boundary - now_ms) / 1000 + lag_s)


def refresh_loop(service: ForecastService, stop: threading.Event, lag_s: float = 60.0) -> None:
    """Refresh now, then ``lag_s`` after every step boundary, until ``stop`` is set; errors are logged and
    the next step tried again (InfluxDB may be restarting)."""
    while not stop.is_set():
        try:
            result = refresh_features(service, dt.datetime.now(dt.UTC))
            log.info("features at %s: %s in %.1f s", result.at.isoformat(), result.rows, result.seconds)
        except Exception:
            log.exception("feature refresh failed; retrying at the next step")
        if stop.wait(seconds_to_next_step(dt.datetime.now(dt.UTC), service.step_ms, lag_s)):
            return
