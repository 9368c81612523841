"""The registry (estates, buildings, assets; CSV in and out) and each asset's state timeline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import ALL_ROLES, OPERATORS, READERS, Principal, Role, require_role
from api.deps import SessionDep
from api.params import Instant
from facility.contract import AssetKind, AssetRef, ContractError
from facility.fleet import AssetSpec
from facility.fleet import Building as FleetBuilding
from facility.fleet import Estate as FleetEstate
from maintenance import timeline
from maintenance.models import Asset, Building, Estate
from maintenance.registry import (
    RegistryError,
    export_csv,
    import_csv,
    import_file,
    upsert_asset,
    upsert_estate,
)

router = APIRouter(tags=["registry"])

Anyone = Annotated[Principal, Depends(require_role(*ALL_ROLES))]
Operators = Annotated[Principal, Depends(require_role(*OPERATORS))]
Overseers = Annotated[Principal, Depends(require_role(*READERS))]
Admins = Annotated[Principal, Depends(require_role(Role.ADMIN))]
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class BuildingIn(BaseModel):
    id: str = Field(pattern=ID)
    name: str = ""
    floors: int = Field(18, ge=1, le=200)


class EstateIn(BaseModel):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    group: Literal["luxury", "old", "housing-reform", "affordable", "resettlement", "new"]
    company: str = Field(pattern=ID)
    company_name: str = Field(min_length=1, max_length=200)
    buildings: list[BuildingIn] = []


class EstateOut(EstateIn):
    pass


class AssetIn(BaseModel):
    id: str | None = Field(None, pattern=ID, description="optional: the path gives the id")
    kind: AssetKind
    estate: str = Field(pattern=ID)
    building: str = Field(pattern=ID)
    model: str = Field(min_length=1, max_length=200)
    installed: dt.date
    criticality: int = Field(ge=1, le=5)
    location: str = Field("", max_length=200)


class AssetOut(AssetIn):
    id: str = Field(pattern=ID)
    state: str | None


class IntervalOut(BaseModel):
    state: str
    start: dt.datetime
    end: dt.datetime | None
    cause: str


class ImportOut(BaseModel):
    assets: int


def estate_out(e: Estate, session: SessionDep) -> EstateOut:
    bs = session.scalars(sa.select(Building).where(Building.estate_id == e.id).order_by(Building.code))
    return EstateOut(
        id=e.id,
        name=e.name,
        group=e.group,  # type: ignore[arg-type]
        company=e.company_id,
        company_name=e.company.name,
        buildings=[BuildingIn(id=b.code, name=b.name, floors=b.floors) for b in bs],
    )


def asset_out(a: Asset, session: SessionDep) -> AssetOut:
    cur = timeline.current(session, a.id)
    return AssetOut(
        id=a.id,
        kind=AssetKind(a.kind),
        estate=a.estate_id,
        building=a.building.code,
        model=a.model,
        installed=a.installed,
        criticality=a.criticality,
        location=a.location,
        state=cur.state if cur else None,
    )


def _unprocessable(field: str, msg: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": ["body", field], "msg": msg, "type": "value_error"}]
    )


@router.get("/registry/estates", response_model=list[EstateOut])
def list_estates(session: SessionDep, who: Anyone) -> list[EstateOut]:
    """Estates in the registry with their company and buildings"""
    return [estate_out(e, session) for e in session.scalars(sa.select(Estate).order_by(Estate.id))]


@router.put("/registry/estates/{estate_id}", response_model=EstateOut)
def put_estate(estate_id: str, body: EstateIn, session: SessionDep, who: Operators) -> EstateOut:
    """Add or change an estate"""
    if body.id != estate_id:
        raise _unprocessable("id", f"body id {body.id!r} differs from the path's {estate_id!r}")
    estate = upsert_estate(
        session,
        FleetEstate(
            body.id,
            body.name,
            body.group,
            body.company,
            body.company_name,
            tuple(FleetBuilding(b.id, b.name or b.id, b.floors) for b in body.buildings),
        ),
    )
    return estate_out(estate, session)


@router.get("/registry/assets", response_model=list[AssetOut])
def list_assets(session: SessionDep, who: Anyone, estate: str | None = None) -> list[AssetOut]:
    """Assets in the registry, optionally of one estate"""
    q = sa.select(Asset).order_by(Asset.id)
    if estate is not None:
        q = q.where(Asset.estate_id == estate)
    return [asset_out(a, session) for a in session.scalars(q)]


@router.get("/registry/assets/{asset_id}", response_model=AssetOut)
def read_asset(asset_id: str, session: SessionDep, who: Anyone) -> AssetOut:
    """One asset of the registry"""
    a = session.get(Asset, asset_id)
    if a is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"asset {asset_id!r} is not in the registry")
    return asset_out(a, session)


@router.put("/registry/assets/{asset_id}", response_model=AssetOut)
def put_asset(
    asset_id: str,
    body: AssetIn,
    session: SessionDep,
    who: Operators,
    allow_kind_change: bool = Query(False, description="let this change a registered asset's kind"),
) -> AssetOut:
    """Add or change an asset (the path gives its id; an id in the body must be the same)"""
    if body.id is not None and body.id != asset_id:
        raise _unprocessable("id", f"body id {body.id!r} differs from the path's {asset_id!r}")
    if session.get(Estate, body.estate) is None:
        known = sorted(session.scalars(sa.select(Estate.id)))
        raise _unprocessable(
            "estate",
            f"estate {body.estate!r} does not exist; the estates are {known} (PUT /registry/estates/{{id}} adds one)",
        )
    old = session.get(Asset, asset_id)
    if old is not None and old.kind != body.kind.value and not allow_kind_change:
        raise _unprocessable(
            "kind",
            f"asset {asset_id} is a {old.kind} in the registry; changing its kind to {body.kind.value} is refused "
            "(its history, orders and telemetry are of the old kind): use another id, or ?allow_kind_change=true",
        )
    try:
        ref = AssetRef(body.estate, body.building, body.kind, asset_id)
        asset = upsert_asset(
            session,
            AssetSpec(ref, body.model, body.installed, body.criticality, body.location),
            allow_kind_change=allow_kind_change,
        )
    except (ContractError, RegistryError) as exc:
        raise _unprocessable("building", str(exc)) from None
    return asset_out(asset, session)


@router.get("/registry/export.csv", response_class=Response)
def export(session: SessionDep, who: Overseers) -> Response:
    """The registry as CSV (the format registry/import reads)"""
    return Response(export_csv(session), media_type="text/csv; charset=utf-8")


@router.post("/registry/import", response_model=ImportOut)
async def import_(
    request: Request,
    session: SessionDep,
    who: Admins,
    allow_kind_change: bool = Query(False, description="let the file change a registered asset's kind"),
) -> ImportOut:
    """Body: the CSV of ``/registry/export.csv`` (Content-Type text/csv), or a fleet YAML (Content-Type
    application/yaml). All rows or none; an asset id given twice or a changed kind is refused."""
    raw = await request.body()
    yaml_body = "yaml" in request.headers.get("content-type", "")
    try:
        text = raw.decode("utf-8-sig")
        n = (
            import_file(session, "body.yaml", text, allow_kind_change=allow_kind_change)
            if yaml_body
            else import_csv(session, text, allow_kind_change=allow_kind_change)
        )
    except UnicodeDecodeError:
        raise _unprocessable("body", "the file must be UTF-8") from None
    except RegistryError as exc:
        raise _unprocessable("body", str(exc)) from None
    return ImportOut(assets=n)


@router.get("/assets/{asset_id}/timeline", response_model=list[IntervalOut])
def asset_timeline(
    asset_id: str,
    session: SessionDep,
    who: Anyone,
    since: Instant | None = Query(None, description="only intervals ending after this time"),
) -> list[IntervalOut]:
    """The asset's state intervals (in service, faulted, offline, maintenance)"""
    if session.get(Asset, asset_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"asset {asset_id!r} is not in the registry")
    rows = timeline.history(session, asset_id)
    if since is not None:
        if since.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["query", "since"], "msg": "give a timezone, e.g. ...Z", "type": "value_error"}],
            )
        rows = [r for r in rows if r.end_at is None or r.end_at > since]
    return [IntervalOut(state=r.state, start=r.start_at, end=r.end_at, cause=r.cause) for r in rows]
