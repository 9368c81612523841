"""Failure forecasts: per asset, and the fleet ranked by risk (down assets listed apart). GET routes never
write: window features missing from the feature store are computed in memory (the worker stores them)."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ContextDep, get_database
from api.params import Instant
from facility.contract import AssetKind
from predict.down import DownAsset, summary
from predict.forecast import Forecast
from predict.repairs import down_source, repair_source
from predict.service import ForecastService, NoModel

router = APIRouter(tags=["forecasts"])
log = logging.getLogger(__name__)


class DriverPublic(BaseModel):
    name: str
    value: float | None
    contribution: float
    #: the driver in words with units: zh-CN, and English
    text: str = ""
    text_en: str = ""
    #: the asset's peers share this driver (a season, a fleet-wide change): it does not single the asset out
    common: bool = False


class DownPublic(BaseModel):
    asset: str
    kind: str
    #: open_fault | offline | under_maintenance
    reason: str
    since: dt.datetime | None


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
    #: why the asset is down now (open_fault, offline, under_maintenance): it is then not in the ranking
    down: str | None = None


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
                name=d.name,
                value=d.value if d.value == d.value else None,
                contribution=d.contribution,
                text=d.text,
                text_en=d.text_en,
                common=d.common,
            )
            for d in f.drivers
        ],
        curve_days=list(f.curve_days) if curve else None,
        survival=list(f.survival) if curve else None,
    )


def service(ctx: ContextDep) -> ForecastService:
    """The app's forecast service: read-only (``write_features=False``); ``since_repair`` counts from the
    work-order store's resolved orders too, and the store's state timeline says who is down."""
    fleet = ctx.fleet()  # the registry as the store holds it now (re-read at most once a second)
    svc = ctx.extras.get("predict")
    if not isinstance(svc, ForecastService):
        db = get_database(ctx)
        svc = ForecastService(
            ctx.settings,
            ctx.influx,
            fleet,
            repairs=repair_source(db),
            write_features=False,
            down=down_source(db),
        )
        ctx.extras["predict"] = svc
    # follow the registry: an asset added (PUT /registry/assets, an import) after the API started is forecast
    # and ranked without a restart
    svc.fleet = fleet
    return svc


def _down_public(d: DownAsset) -> DownPublic:
    return DownPublic(asset=d.asset, kind=d.kind, reason=d.reason, since=d.since)


def _store_down(exc: SQLAlchemyError) -> HTTPException:
    log.error("forecasts: the work-order store cannot be read: %s", exc)
    return HTTPException(
        503, "the work-order store, which gives each asset's last repair, cannot be read: retry later"
    )


@router.get("/assets/{asset_id}/forecast", response_model=ForecastPublic)
def asset_forecast(asset_id: str, ctx: ContextDep, at: Instant | None = None) -> ForecastPublic:
    """One asset's failure forecast: probabilities, survival curve, drivers, and whether it is down"""
    now = at or dt.datetime.now(dt.UTC)
    try:
        svc = service(ctx)
        f = svc.forecast(asset_id, now)
        down = svc.down({AssetKind(f.kind)}, now).get(asset_id)
        return _public(f, curve=True).model_copy(update={"down": down.reason if down else None})
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except NoModel as exc:
        raise HTTPException(409, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _store_down(exc) from None


@router.get("/forecasts/ranking", response_model=list[ForecastPublic])
def ranking(
    ctx: ContextDep,
    response: Response,
    kind: AssetKind | None = None,
    limit: int = Query(20, ge=1, le=1000),
    at: Instant | None = None,
) -> list[ForecastPublic]:
    """The assets that are up, riskiest first. Down assets are left out: the headers ``X-Left-Out`` (how many)
    and ``X-Left-Out-Reasons`` (``open_fault=3,offline=1``) say so, and ``/forecasts/down`` lists them."""
    now = at or dt.datetime.now(dt.UTC)
    try:
        report = service(ctx).ranking_report(now, kind)
    except NoModel as exc:
        raise HTTPException(409, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _store_down(exc) from None
    response.headers["X-Left-Out"] = str(len(report.down))
    response.headers["X-Left-Out-Reasons"] = ",".join(f"{k}={v}" for k, v in summary(report.down).items())
    return [_public(f, curve=False) for f in report.forecasts[:limit]]


@router.get("/forecasts/down", response_model=list[DownPublic])
def down_assets(
    ctx: ContextDep, kind: AssetKind | None = None, at: Instant | None = None
) -> list[DownPublic]:
    """Assets down now (open fault, offline, under maintenance): not ranked and not planned."""
    now = at or dt.datetime.now(dt.UTC)
    try:
        svc = service(ctx)
        found = svc.down_in_fleet(now, kind)
    except SQLAlchemyError as exc:
        raise _store_down(exc) from None
    return [_down_public(d) for d in found]
