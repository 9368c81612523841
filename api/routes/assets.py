"""Estates, assets, their latest readings and downsampled history, and events (telemetry from InfluxDB)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from api.auth import ALL_ROLES, require_role
from api.deps import ContextDep
from api.params import Instant
from api.services import telemetry
from facility.contract import SCHEMAS, AssetKind, EventType
from facility.fleet import AssetSpec

#: telemetry is readable by every role (crews need it for their orders); a valid token is required
router = APIRouter(tags=["assets"], dependencies=[Depends(require_role(*ALL_ROLES))])


class AssetState(StrEnum):
    IN_SERVICE = "in_service"
    FAULTED = "faulted"
    OFFLINE = "offline"
    NO_DATA = "no_data"


class EstateOut(BaseModel):
    id: str
    name: str
    group: str
    company: str
    company_name: str
    buildings: list[str]
    assets: int


class ReadingOut(BaseModel):
    ts: dt.datetime
    seq: int | None
    values: dict[str, int | float]


class AssetOut(BaseModel):
    id: str
    estate: str
    building: str
    kind: AssetKind
    model: str
    installed: dt.date
    criticality: int
    state: AssetState
    open_faults: list[str]
    latest: ReadingOut | None


class PointOut(BaseModel):
    ts: dt.datetime
    mean: float | None
    min: float | None
    max: float | None


class HistoryOut(BaseModel):
    asset: str
    field: str
    unit: str
    interval_s: int
    start: dt.datetime
    end: dt.datetime
    points: list[PointOut]


class EventOut(BaseModel):
    ts: dt.datetime
    estate: str
    building: str
    kind: str
    asset: str
    type: str
    code: str
    detail: str
    seq: int | None


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _reading(r: telemetry.LatestReading | None) -> ReadingOut | None:
    return ReadingOut(ts=_utc(r.ts_ms), seq=r.seq, values=r.values) if r else None


def _asset_out(
    spec: AssetSpec,
    latest: dict[str, telemetry.LatestReading],
    faults: dict[str, list[str]],
    offline: set[str],
) -> AssetOut:
    reading = latest.get(spec.id)
    if spec.id in offline:
        state = AssetState.OFFLINE
    elif faults.get(spec.id):
        state = AssetState.FAULTED
    elif reading is None:
        state = AssetState.NO_DATA
    else:
        state = AssetState.IN_SERVICE
    return AssetOut(
        id=spec.id,
        estate=spec.ref.estate,
        building=spec.ref.building,
        kind=spec.kind,
        model=spec.model,
        installed=spec.installed,
        criticality=spec.criticality,
        state=state,
        open_faults=faults.get(spec.id, []),
        latest=_reading(reading),
    )


def _find(ctx: ContextDep, asset_id: str) -> AssetSpec:
    try:
        return ctx.fleet().asset(asset_id)
    except KeyError:
        raise HTTPException(404, f"no asset {asset_id!r}") from None


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise HTTPException(422, f"{name} must carry a time zone, e.g. 2026-11-01T00:00:00Z")
    return value


@router.get("/estates", response_model=list[EstateOut])
def list_estates(ctx: ContextDep) -> list[EstateOut]:
    """Estates and their buildings as the fleet file defines them"""
    fleet = ctx.fleet()
    return [
        EstateOut(
            id=e.id,
            name=e.name,
            group=e.group,
            company=e.company,
            company_name=e.company_name,
            buildings=[b.id for b in e.buildings],
            assets=sum(1 for a in fleet.assets if a.ref.estate == e.id),
        )
        for e in fleet.estates
    ]


@router.get("/assets", response_model=list[AssetOut])
def list_assets(
    ctx: ContextDep,
    estate: str | None = None,
    kind: AssetKind | None = None,
    state: AssetState | None = None,
) -> list[AssetOut]:
    """Assets with their latest reading, filtered by estate or kind"""
    fleet = ctx.fleet()
    if estate is not None and estate not in {e.id for e in fleet.estates}:
        raise HTTPException(422, f"estate: no estate {estate!r}")
    specs = [
        a
        for a in fleet.assets
        if (estate is None or a.ref.estate == estate) and (kind is None or a.kind == kind)
    ]
    latest = telemetry.latest_readings(ctx.influx, {a.kind for a in specs})
    faults = telemetry.open_faults(ctx.influx)
    offline = telemetry.offline_assets(ctx.influx)
    out = [_asset_out(a, latest, faults, offline) for a in specs]
    return [a for a in out if state is None or a.state == state]


@router.get("/assets/{asset_id}", response_model=AssetOut)
def get_asset(ctx: ContextDep, asset_id: str) -> AssetOut:
    """One asset with its latest reading"""
    spec = _find(ctx, asset_id)
    latest = telemetry.latest_readings(ctx.influx, [spec.kind])
    return _asset_out(spec, latest, telemetry.open_faults(ctx.influx), telemetry.offline_assets(ctx.influx))


@router.get("/assets/{asset_id}/latest", response_model=ReadingOut)
def latest_reading(ctx: ContextDep, asset_id: str) -> ReadingOut:
    """The asset's latest telemetry reading"""
    spec = _find(ctx, asset_id)
    reading = _reading(telemetry.latest_readings(ctx.influx, [spec.kind]).get(asset_id))
    if reading is None:
        raise HTTPException(404, f"asset {asset_id!r} has sent no reading in the last 30 days")
    return reading


@router.get("/assets/{asset_id}/history", response_model=HistoryOut)
def asset_history(
    ctx: ContextDep,
    asset_id: str,
    field: Annotated[str, Query(description="telemetry field, e.g. vibration_mm_s")],
    start: Instant,
    end: Instant | None = None,
    interval_s: Annotated[int | None, Query(ge=1, le=30 * 86400)] = None,
) -> HistoryOut:
    """One telemetry field of an asset over time, aggregated to an interval (mean, min, max)"""
    spec = _find(ctx, asset_id)
    schema = SCHEMAS[spec.kind]
    if field not in schema.by_name:
        raise HTTPException(
            422, f"field: {spec.kind.value} has no field {field!r}; expected one of {sorted(schema.by_name)}"
        )
    start = _aware(start, "start")
    end = _aware(end, "end") if end else dt.datetime.now(dt.UTC)
    if end <= start:
        raise HTTPException(422, "end: must be after start")
    step = interval_s or telemetry.choose_interval(start, end)
    if (end - start).total_seconds() / step > 10_000:
        raise HTTPException(
            422, "interval_s: too small for this range (over 10,000 points); leave it out to choose one"
        )
    points = telemetry.history(ctx.influx, spec.kind, asset_id, field, start, end, step)
    return HistoryOut(
        asset=asset_id,
        field=field,
        unit=schema.by_name[field].unit,
        interval_s=step,
        start=start,
        end=end,
        points=[PointOut(ts=_utc(p.ts_ms), mean=p.value, min=p.minimum, max=p.maximum) for p in points],
    )


@router.get("/events", response_model=list[EventOut])
def list_events(
    ctx: ContextDep,
    estate: str | None = None,
    asset: str | None = None,
    kind: AssetKind | None = None,
    type: EventType | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[EventOut]:
    """Device events (faults, alarms, recoveries), newest first"""
    end = _aware(end, "end") if end else dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    start = _aware(start, "start") if start else end - dt.timedelta(days=30)
    rows = telemetry.events(
        ctx.influx,
        start,
        end,
        estate=estate,
        asset=asset,
        kind=kind.value if kind else None,
        type=type.value if type else None,
        limit=limit,
    )
    return [EventOut(ts=_utc(r.ts_ms), **{k: v for k, v in r.__dict__.items() if k != "ts_ms"}) for r in rows]
