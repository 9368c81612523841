"""The survival models in service: per asset kind, the current version with its metrics and training data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import ALL_ROLES, require_role
from api.deps import ContextDep
from facility.contract import AssetKind
from predict.registry import ModelRegistry, model_summary

router = APIRouter(tags=["forecasts"], dependencies=[Depends(require_role(*ALL_ROLES))])


class ModelOut(BaseModel):
    kind: str
    version: str
    model: str
    created: str
    #: True when trained on telemetry (it can score live assets); False for a lifetimes file
    telemetry: bool
    features: list[str]
    metrics: dict[str, Any]
    data: dict[str, Any]
    features_spec: dict[str, Any]
    threshold: dict[str, Any]
    #: what is served: the model, or "kaplan_meier" when the model did not beat it on held-out rows
    served: str = ""
    #: the weight of the model in the served curve (the rest is Kaplan-Meier's)
    shrinkage_weight: float | None = None
    #: held-out (out-of-fold) Brier score of P(failure within 30 d), and the Kaplan-Meier constant's
    held_out_brier_30d: float | None = None
    kaplan_meier_brier_30d: float | None = None
    beats_kaplan_meier: bool | None = None
    #: rows sorted by predicted probability in ten equal groups: mean predicted vs observed
    reliability: list[dict[str, float]] = []
    #: why Kaplan-Meier is served instead of a model (too few failed assets, or no better on held-out rows)
    served_reason: str | None = None
    #: the same as data: ``code`` (few_failed_assets: ``n`` failed assets, fewer than ``min``; not_better:
    #: held-out ``brier`` against ``brier_km``), for the pages' words (catalogue ``models.why.<code>``)
    served_why: dict[str, Any] | None = None
    #: the planner's threshold: P(fail within 30 d) p* (None: no predictive proposals, ``reason`` says why), the
    #: target rate (the reference P) its held-out rate reaches, and the rows behind it
    plan_threshold: dict[str, Any] = {}


@router.get("/models", response_model=list[ModelOut])
def current_models(ctx: ContextDep) -> list[ModelOut]:
    """The current model of each asset kind that has one (kinds without a model are absent: the page and
    the forecast routes say which command trains one)."""
    registry = ModelRegistry(Path(ctx.settings.var_dir) / "models")
    out = []
    for kind in AssetKind:
        meta = registry.current(kind.value)
        if meta is None:
            continue
        summary = model_summary(meta)
        out.append(
            ModelOut(
                kind=meta.kind,
                version=meta.version,
                model=meta.model,
                created=meta.created,
                telemetry=meta.features_spec.get("source") == "telemetry",
                features=list(meta.features),
                metrics=meta.metrics,
                data=meta.data,
                features_spec=meta.features_spec,
                threshold=meta.threshold,
                served=summary["served"],
                served_reason=summary["served_reason"],
                served_why=summary["served_why"],
                shrinkage_weight=summary["shrinkage_weight"],
                held_out_brier_30d=summary["held_out_brier_30d"],
                kaplan_meier_brier_30d=summary["kaplan_meier_brier_30d"],
                beats_kaplan_meier=summary["beats_kaplan_meier"],
                reliability=summary["reliability"],
                plan_threshold=summary["plan_threshold"],
            )
        )
    return out
