"""Failure forecasts: per asset, and the fleet ranked by risk."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ContextDep, get_database
from facility.contract import AssetKind
from predict.forecast import Forecast
from predict.repairs import repair_source
from predict.service import ForecastService, NoModel

router = APIRouter(tags=["forecasts"])
log = logging.getLogger(__name__)


class DriverPublic(BaseModel):
    name: str
    value: float | None
    contribution: float


class ForecastPublic(BaseModel):
    asset: str
    kind: str
    now: dt.datetime
    model_version: str
    p_fail_7d: float | None
    p_fail_30d: float | None
    p_fail_90d: float | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    criticality: int
    risk: float
    risk_horizon_days: int
    drivers: list[DriverPublic]
    curve_days: list[float] | None = None
    survival: list[float] | None = None


def _public(f: Forecast, curve: bool) -> ForecastPublic:
    return ForecastPublic(
        asset=f.asset,
        kind=f.kind,
        now=f.now,
        model_version=f.model_version,
        p_fail_7d=f.p_fail.get(7),
        p_fail_30d=f.p_fail.get(30),
        p_fail_90d=f.p_fail.get(90),
        window_start=f.window_start,
        window_end=f.window_end,
        criticality=f.criticality,
        risk=f.risk,
        risk_horizon_days=f.risk_horizon_days,
        drivers=[
            DriverPublic(
                name=d.name, value=d.value if d.value == d.value else None, contribution=d.contribution
            )
            for d in f.drivers
        ],
        curve_days=list(f.curve_days) if curve else None,
        survival=list(f.survival) if curve else None,
    )


def service(ctx: ContextDep) -> ForecastService:
    """The app's forecast service; ``since_repair`` counts from the work-order store's resolved orders too."""
    svc = ctx.extras.get("predict")
    if not isinstance(svc, ForecastService):
        svc = ForecastService(ctx.settings, ctx.influx, repairs=repair_source(get_database(ctx)))
        ctx.extras["predict"] = svc
    return svc


def _store_down(exc: SQLAlchemyError) -> HTTPException:
    log.error("forecasts: the work-order store cannot be read: %s", exc)
    return HTTPException(
        503, "the work-order store, which gives each asset's last repair, cannot be read: retry later"
    )


@router.get("/assets/{asset_id}/forecast", response_model=ForecastPublic)
def asset_forecast(asset_id: str, ctx: ContextDep, at: dt.datetime | None = None) -> ForecastPublic:
    now = at or dt.datetime.now(dt.UTC)
    try:
        return _public(service(ctx).forecast(asset_id, now), curve=True)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except NoModel as exc:
        raise HTTPException(409, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _store_down(exc) from None


@router.get("/forecasts/ranking", response_model=list[ForecastPublic])
def ranking(
    ctx: ContextDep,
    kind: AssetKind | None = None,
    limit: int = Query(20, ge=1, le=1000),
    at: dt.datetime | None = None,
) -> list[ForecastPublic]:
    now = at or dt.datetime.now(dt.UTC)
    try:
        return [_public(f, curve=False) for f in service(ctx).ranking(now, kind)[:limit]]
    except NoModel as exc:
        raise HTTPException(409, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _store_down(exc) from None
