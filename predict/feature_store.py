"""Stored window features: live scoring's cold path reads one row per asset, not the raw window.

Telemetry window features (:mod:`predict.features`) are computed at the **feature clock** ``T = floor(t, step)``
(default step one hour: "as of the last full hour"), so every request within a step shares them. Computing them
for 10,000 assets from a cold start means reading the whole raw window from InfluxDB (6.7 M points for 28 days
of hourly readings: about a minute on 2 cores, twice the 14-day figure in docs/benchmarks.md); reading them back is one row per asset.

Rows live in InfluxDB, in the measurement ``window_features`` of the retention policy ``features`` (kept
``retention_days``, 30 by default), one point per (kind, asset, feature spec, T)::

    window_features,asset=lift-1,kind=elevator,spec=v1-28d-7b-1f2e3d4c readings=336i,values="<base64>" T

``values`` holds the features as little-endian float64 in :meth:`WindowSpec.feature_names` order (NaN kept), one
string field, because InfluxDB 1.x opens a cursor per series *and field*: reading 3,000 assets × 30 float
fields took 1.0 s, one packed field 0.12 s. ``readings`` (the number of readings in the window) is for people
looking at the data. ``spec`` names the window, its buckets, :data:`FEATURES_VERSION` (changed whenever the
feature code changes meaning) and a checksum of the feature names (a field added to a kind's schema changes
it), so rows packed in another layout are never read. Times older than the retention period are not stored (InfluxDB would drop them): features of
an ``at`` long past are computed every time. Rows are written once per step; points that reach InfluxDB later than that with a timestamp
before ``T`` are not in them (the raw data stays the reference: training recomputes from it).
"""

from __future__ import annotations

import base64
import logging
import math
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from facility.contract import AssetKind
from ingest.influx import InfluxClient, InfluxRejected
from ingest.lineprotocol import escape_tag
from predict.features import WindowSpec

FEATURES_RP = "features"
FEATURES_MEASUREMENT = "window_features"
#: bump when a feature's definition changes: stored rows of another version are ignored
FEATURES_VERSION = 1
READINGS_FIELD = "readings"
VALUES_FIELD = "values"

log = logging.getLogger(__name__)


def spec_key(spec: WindowSpec, fields: Sequence[str]) -> str:
    """The ``spec`` tag: feature version, window, buckets and a checksum of the names (``v1-28d-7b-…``)."""
    names = ",".join(spec.feature_names(fields))
    return f"v{FEATURES_VERSION}-{spec.window:g}d-{spec.buckets}b-{zlib.crc32(names.encode()):08x}"


def feature_clock(t_ms: int, step_ms: int) -> int:
    """``T = floor(t, step)`` in epoch milliseconds (steps are aligned to the epoch, i.e. to UTC hours)."""
    if step_ms < 1:
        raise ValueError(f"the feature step must be at least 1 ms, but was {step_ms}")
    return t_ms - t_ms % step_ms


class FeatureStore:
    """Reads and writes window-feature rows (see the module docstring) in ``client``'s database."""

    def __init__(self, client: InfluxClient, retention_days: int = 30) -> None:
        if retention_days < 1:
            raise ValueError(f"feature retention must be at least 1 day, but was {retention_days}")
        self.client = client
        self.retention_days = retention_days
        self._ready: bool | None = None

    def ensure(self) -> bool:
        """Create the retention policy if the database lacks it (an existing one is left as it is). False when
        the InfluxDB user may not create it (not an admin): then nothing is stored and every read misses,
        and the log says which statement an admin should run (docker-compose's InfluxDB init script does)."""
        if self._ready is not None:
            return self._ready
        names = {str(row[0]) for s in self.client.query("SHOW RETENTION POLICIES") for row in s.values}
        self._ready = True
        if FEATURES_RP not in names:
            statement = (
                f'CREATE RETENTION POLICY "{FEATURES_RP}" ON "{self.client.database}" '
                f"DURATION {self.retention_days}d REPLICATION 1"
            )
            try:
                self.client.query(statement)
            except InfluxRejected as exc:
                if "already exists" in str(exc):  # created meanwhile by another process
                    return True
                if "authoriz" not in str(exc) and "admin" not in str(exc):
                    raise
                log.warning(
                    "features are not stored (computed on every start): this InfluxDB user may not create "
                    "the retention policy; an admin can run: %s",
                    statement,
                )
                self._ready = False
        return self._ready

    def write(
        self,
        kind: AssetKind,
        spec: WindowSpec,
        t_ms: int,
        features: Mapping[str, Mapping[str, float]],
        readings: Mapping[str, int],
        fields: Sequence[str],
    ) -> int:
        """Store the rows of ``features`` (asset → window features at ``t_ms``); returns rows written: none
        when ``t_ms`` lies beyond the retention period (InfluxDB would drop them), e.g. an ``at`` long past."""
        # an hour's margin before the policy drops it
        horizon_ms = (self.retention_days * 86_400 - 3_600) * 1000
        if t_ms < time.time() * 1000 - horizon_ms:
            return 0
        if not self.ensure():
            return 0
        names = spec.feature_names(fields)
        tags = f"kind={escape_tag(kind.value)},spec={escape_tag(spec_key(spec, fields))}"
        lines = []
        for asset, row in features.items():
            packed = np.array([row.get(n, math.nan) for n in names], dtype="<f8").tobytes()
            values = base64.b64encode(packed).decode()
            lines.append(
                f"{FEATURES_MEASUREMENT},asset={escape_tag(asset)},{tags} "
                f'{READINGS_FIELD}={int(readings.get(asset, 0))}i,{VALUES_FIELD}="{values}" {t_ms}'
            )
        for i in range(0, len(lines), 20_000):
            self.client.write(lines[i : i + 20_000], retention_policy=FEATURES_RP)
        return len(lines)

    def read(
        self,
        kind: AssetKind,
        spec: WindowSpec,
        t_ms: int,
        fields: Sequence[str],
        assets: Iterable[str] | None = None,
    ) -> dict[str, dict[str, float]]:
        """The stored rows at exactly ``t_ms`` (asset → features), only for assets that have one."""
        if not self.ensure():
            return {}
        names = spec.feature_names(fields)
        wanted = None if assets is None else set(assets)
        where = f'time = {t_ms}ms AND "kind" = $kind AND "spec" = $spec'
        params = {"kind": kind.value, "spec": spec_key(spec, fields)}
        if wanted is not None and len(wanted) == 1:
            where += ' AND "asset" = $asset'
            params["asset"] = next(iter(wanted))
        q = f'SELECT "{VALUES_FIELD}", "asset" FROM "{FEATURES_RP}"."{FEATURES_MEASUREMENT}" WHERE {where}'
        out: dict[str, dict[str, float]] = {}
        for series in self.client.query(q, params=params):
            i_values, i_asset = series.columns.index(VALUES_FIELD), series.columns.index("asset")
            for row in series.values:
                asset = str(row[i_asset])
                if wanted is not None and asset not in wanted:
                    continue
                packed = np.frombuffer(base64.b64decode(row[i_values]), dtype="<f8")
                if packed.size == len(names):
                    out[asset] = dict(zip(names, packed.tolist(), strict=True))
        return out
