"""Versioned trained models: ``{root}/{kind}/{version}/model.joblib`` + ``meta.json``, and a ``CURRENT`` pointer.

A version is only written after a successful fit, so a failed (non-converged) training run leaves the
previous version in service. ``root`` is ``Settings.var_dir / "models"`` in the product.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib

from predict.models import SurvivalModel

_KIND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelVersion:
    """What was trained, when, on which data, and how well it did in backtests."""

    kind: str
    version: str
    model: str
    created: str
    features: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    #: n, events, and the time range of the training data (first/last, ISO or data units)
    data: dict[str, Any] = field(default_factory=dict)
    #: the window spec and landmark step used to build features (empty for static covariates)
    features_spec: dict[str, Any] = field(default_factory=dict)
    #: the planner's probability threshold and the numbers behind it (predict.threshold.choose_threshold)
    threshold: dict[str, Any] = field(default_factory=dict)
    #: time unit of durations, e.g. "days" or "cycles"
    time_unit: str = "days"


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, kind: str) -> Path:
        if not _KIND.match(kind):
            raise ValueError(f"model kind {kind!r} is not a valid name: use letters, digits, '_', '-' or '.'")
        return self.root / kind

    def save(self, model: SurvivalModel, meta: ModelVersion) -> ModelVersion:
        """Write a new version and make it current."""
        base = self._dir(meta.kind)
        target = base / meta.version
        if target.exists():
            raise ValueError(
                f"model version {meta.version!r} of {meta.kind!r} exists already: pick a new one"
            )
        tmp = base / f".{meta.version}.tmp"
        tmp.mkdir(parents=True, exist_ok=False)
        joblib.dump(model, tmp / "model.joblib")
        (tmp / "meta.json").write_text(json.dumps(asdict(meta), indent=2, default=str))
        tmp.rename(target)
        pointer = base / "CURRENT.tmp"
        pointer.write_text(meta.version)
        os.replace(pointer, base / "CURRENT")
        return meta

    def versions(self, kind: str) -> list[ModelVersion]:
        base = self._dir(kind)
        if not base.is_dir():
            return []
        out = [self._meta(p) for p in sorted(base.iterdir()) if (p / "meta.json").is_file()]
        return sorted(out, key=lambda m: m.created)

    def kinds(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "CURRENT").is_file())

    @staticmethod
    def _meta(path: Path) -> ModelVersion:
        raw = json.loads((path / "meta.json").read_text())
        raw["features"] = tuple(raw.get("features", ()))
        return ModelVersion(**raw)

    def current(self, kind: str) -> ModelVersion | None:
        pointer = self._dir(kind) / "CURRENT"
        if not pointer.is_file():
            return None
        return self._meta(self._dir(kind) / pointer.read_text().strip())

    def load(self, kind: str, version: str | None = None) -> tuple[SurvivalModel, ModelVersion]:
        meta = self.current(kind) if version is None else self._meta(self._dir(kind) / version)
        if meta is None:
            raise LookupError(f"no trained model for {kind!r}: run `facility train --kind {kind} ...` first")
        model = joblib.load(self._dir(kind) / meta.version / "model.joblib")
        if not isinstance(model, SurvivalModel):
            raise TypeError(f"{kind}/{meta.version}/model.joblib is not a survival model")
        return model, meta


def new_version(now: dt.datetime) -> str:
    """A sortable version name from the training time, e.g. ``v20261123T142501``."""
    return "v" + now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")


def model_summary(meta: ModelVersion) -> dict[str, Any]:
    """What `facility models` and GET /api/v1/models show of a version: what is served, its held-out Brier
    score at 30 d beside the Kaplan–Meier constant's, and the reliability table."""
    held = (meta.metrics or {}).get("held_out", {})
    served = held.get("served", meta.model)
    why = _served_why(meta, held, served)
    return {
        "served_reason": _served_words(meta, why),
        #: the same as data for the pages (catalogue key models.why.<code> with these parameters)
        "served_why": why,
        "kind": meta.kind,
        "version": meta.version,
        "model": meta.model,
        "served": served,
        "shrinkage_weight": held.get("weight"),
        "held_out_brier_30d": held.get("brier"),
        "kaplan_meier_brier_30d": held.get("brier_km"),
        "beats_kaplan_meier": (
            held["brier"] < held["brier_km"] if "brier" in held and "brier_km" in held else None
        ),
        "held_out_rows": held.get("rows"),
        "reliability": held.get("reliability", []),
        "plan_threshold": threshold_summary(meta.threshold or {}),
    }


def _served_why(meta: ModelVersion, held: dict[str, Any], served: str) -> dict[str, Any] | None:
    """Why Kaplan–Meier is served instead of a model, as data (None when a model is served)."""
    if served != "kaplan_meier":
        return None
    selection = (meta.metrics or {}).get("selection") or {}
    if selection.get("reason"):
        n, least = (meta.data or {}).get("events"), selection.get("min_failed_assets", 5)
        return {"code": "few_failed_assets", "n": n, "min": least}
    if "brier" in held and "brier_km" in held:
        return {"code": "not_better", "brier": held["brier"], "brier_km": held["brier_km"]}
    return None


def _served_words(meta: ModelVersion, why: dict[str, Any] | None) -> str | None:
    """:func:`_served_why` in words (English, as training recorded it; the pages word it from the catalogue)."""
    if why is None:
        return None
    if why["code"] == "few_failed_assets":
        return str(meta.metrics["selection"]["reason"])
    return f"the model's held-out Brier {why['brier']} did not beat Kaplan–Meier's {why['brier_km']}"


#: the figures of a threshold record shown beside the model (the isotonic curve stays in the record)
THRESHOLD_FIELDS = (
    "rule",
    "probability",
    "target_rate",
    "reference_probability",
    "km_rate",
    "rate_at_threshold",
    "known_rows",
    "known_failed",
    "base_rate",
    "excluded_near_end",
    "rows_at_or_above",
    "observed_rate_at_or_above",
    "reason",
)


def threshold_summary(threshold: dict[str, Any]) -> dict[str, Any]:
    """The planner threshold of a version as shown: P(fail within 30 d) p* (None: no predictive proposals, with
    the reason), the target rate it reaches and why (reference P, Kaplan–Meier rate), the held-out rows."""
    return {k: threshold[k] for k in THRESHOLD_FIELDS if k in threshold}
