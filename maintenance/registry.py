"""The registry: property companies, estates, buildings and assets; fleet-file load and CSV import/export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import AssetKind, AssetRef, ContractError
from facility.fleet import ESTATE_GROUPS, AssetSpec, Fleet, FleetError, parse_fleet
from facility.fleet import Building as FleetBuilding
from facility.fleet import Estate as FleetEstate
from facility.settings import Settings
from maintenance import timeline
from maintenance.domain import AssetState
from maintenance.models import Asset, Building, Company, Estate

#: the cause of the in-service interval an asset starts with when registered (not evidence of monitoring)
REGISTERED_CAUSE = "installed"

CSV_COLUMNS = (
    "asset_id",
    "kind",
    "estate",
    "estate_name",
    "group",
    "company",
    "company_name",
    "building",
    "building_name",
    "floors",
    "model",
    "installed",
    "criticality",
    "location",
)


class RegistryError(ValueError):
    """Bad registry input; the message names the row and field."""


def upsert_estate(session: Session, e: FleetEstate) -> Estate:
    company = session.get(Company, e.company)
    if company is None:
        company = Company(id=e.company, name=e.company_name)
    elif e.company_name != e.company:  # a file that names only the company's id keeps its known name
        company.name = e.company_name
    session.add(company)
    estate = session.get(Estate, e.id) or Estate(id=e.id)
    estate.name, estate.group, estate.company_id = e.name, e.group, e.company
    session.add(estate)
    for b in e.buildings:
        upsert_building(session, e.id, b)
    session.flush()
    return estate


def upsert_building(session: Session, estate_id: str, b: FleetBuilding) -> Building:
    row = session.scalars(
        sa.select(Building).where(Building.estate_id == estate_id, Building.code == b.id)
    ).first()
    if row is None:
        row = Building(estate_id=estate_id, code=b.id)
        session.add(row)
    row.name, row.floors = b.name, b.floors
    session.flush()
    return row


def upsert_asset(session: Session, spec: AssetSpec, *, allow_kind_change: bool = False) -> Asset:
    """Insert or update one asset; a new asset starts in service at midnight UTC of its install date.

    Changing the kind of a registered asset is refused (its telemetry, history, orders and model belong to the
    old kind) unless ``allow_kind_change``.
    """
    building = session.scalars(
        sa.select(Building).where(Building.estate_id == spec.ref.estate, Building.code == spec.ref.building)
    ).first()
    if building is None:
        raise RegistryError(
            f"asset {spec.id}: building {spec.ref.building!r} of estate {spec.ref.estate!r} is unknown"
        )
    asset = session.get(Asset, spec.id)
    if asset is not None and asset.kind != spec.kind.value and not allow_kind_change:
        raise RegistryError(
            f"asset {spec.id}: is a {asset.kind} in the registry and would become a {spec.kind.value}; "
            "changing an asset's kind is refused (its history, orders and telemetry are of the old kind): "
            "give the new asset another id, or allow it explicitly (--allow-kind-change / ?allow_kind_change=true)"
        )
    new = asset is None
    if asset is None:
        asset = Asset(id=spec.id)
        session.add(asset)
    asset.kind, asset.estate_id, asset.building_id = spec.kind.value, spec.ref.estate, building.id
    asset.model, asset.installed, asset.criticality, asset.location = (
        spec.model,
        spec.installed,
        spec.criticality,
        spec.location,
    )
    session.flush()
    if new and timeline.current(session, spec.id) is None:
        since = dt.datetime.combine(spec.installed, dt.time(), tzinfo=dt.UTC)
        timeline.set_state(session, spec.id, AssetState.IN_SERVICE, since, REGISTERED_CAUSE)
    return asset


def load_fleet(session: Session, fleet: Fleet, *, allow_kind_change: bool = False) -> int:
    """Upsert every estate, building and asset of a fleet file; returns the number of assets."""
    for e in fleet.estates:
        upsert_estate(session, e)
    for a in fleet.assets:
        upsert_asset(session, a, allow_kind_change=allow_kind_change)
    return len(fleet.assets)


def asset_ref(asset: Asset) -> AssetRef:
    return AssetRef(asset.estate_id, asset.building.code, AssetKind(asset.kind), asset.id)


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for a in session.scalars(sa.select(Asset).order_by(Asset.estate_id, Asset.id)):
        e, b = a.estate, a.building
        writer.writerow(
            {
                "asset_id": a.id,
                "kind": a.kind,
                "estate": e.id,
                "estate_name": e.name,
                "group": e.group,
                "company": e.company_id,
                "company_name": e.company.name,
                "building": b.code,
                "building_name": b.name,
                "floors": b.floors,
                "model": a.model,
                "installed": a.installed.isoformat(),
                "criticality": a.criticality,
                "location": a.location,
            }
        )
    return out.getvalue()


def _row_specs(rows: Iterable[dict[str, str]]) -> tuple[list[FleetEstate], list[AssetSpec]]:
    estates: dict[str, tuple[dict[str, str], dict[str, FleetBuilding]]] = {}
    assets: list[AssetSpec] = []
    lines: dict[str, int] = {}  # asset id -> the CSV line that gave it
    for n, row in enumerate(rows, start=2):
        where = f"CSV line {n}"

        def need(col: str, row: dict[str, str] = row, where: str = where) -> str:
            value = (row.get(col) or "").strip()
            if not value:
                raise RegistryError(f"{where}: column {col!r} is empty")
            return value

        try:
            kind = AssetKind(need("kind"))
        except ValueError:
            raise RegistryError(
                f"{where}: kind {row.get('kind')!r} is not one of {[k.value for k in AssetKind]}"
            ) from None
        group = need("group")
        if group not in ESTATE_GROUPS:
            raise RegistryError(f"{where}: group {group!r} is not one of {list(ESTATE_GROUPS)}")
        try:
            installed = dt.date.fromisoformat(need("installed"))
        except ValueError:
            raise RegistryError(
                f"{where}: installed {row.get('installed')!r} is not a date like 2015-06-01"
            ) from None
        try:
            criticality, floors = int(need("criticality")), int(row.get("floors") or 18)
        except ValueError:
            raise RegistryError(f"{where}: criticality and floors must be whole numbers") from None
        if not 1 <= criticality <= 5:
            raise RegistryError(f"{where}: criticality must be 1..5, got {criticality}")
        try:
            ref = AssetRef(need("estate"), need("building"), kind, need("asset_id"))
        except ContractError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        if ref.asset in lines:
            raise RegistryError(
                f"{where}: asset_id {ref.asset!r} is already given on CSV line {lines[ref.asset]}; "
                "each asset once per file"
            )
        lines[ref.asset] = n
        meta, buildings = estates.setdefault(ref.estate, (row, {}))
        if need("company") != need("company", meta):
            raise RegistryError(f"{where}: estate {ref.estate!r} has two companies in this file")
        buildings[ref.building] = FleetBuilding(
            ref.building, row.get("building_name") or ref.building, floors
        )
        assets.append(AssetSpec(ref, need("model"), installed, criticality, row.get("location") or ""))
    fleet_estates = [
        FleetEstate(
            eid,
            meta.get("estate_name") or eid,
            meta["group"].strip(),
            meta["company"].strip(),
            meta.get("company_name") or meta["company"].strip(),
            tuple(bs.values()),
        )
        for eid, (meta, bs) in estates.items()
    ]
    return fleet_estates, assets


def import_csv(session: Session, text: str, *, allow_kind_change: bool = False) -> int:
    """Upsert the registry from CSV (the columns of ``export_csv``); all rows or none (caller's transaction)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c
        for c in (
            "asset_id",
            "kind",
            "estate",
            "group",
            "company",
            "building",
            "model",
            "installed",
            "criticality",
        )
        if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise RegistryError(f"CSV header lacks columns {missing}; expected {list(CSV_COLUMNS)}")
    estates, assets = _row_specs(reader)
    return load_fleet(session, Fleet(tuple(estates), tuple(assets)), allow_kind_change=allow_kind_change)


# --- the registry as the one asset list: the store read back as the fleet type every reader uses ----------


def read_fleet(session: Session) -> Fleet:
    """Every estate, building and asset in the store as a ``Fleet`` (estates by id, assets by estate and id)."""
    estates = list(session.scalars(sa.select(Estate).order_by(Estate.id)))
    companies = {c.id: c.name for c in session.scalars(sa.select(Company))}
    buildings: dict[str, list[FleetBuilding]] = {}
    codes: dict[int, str] = {}
    for b in session.scalars(sa.select(Building).order_by(Building.estate_id, Building.code)):
        buildings.setdefault(b.estate_id, []).append(FleetBuilding(b.code, b.name, b.floors))
        codes[b.id] = b.code
    assets = tuple(
        AssetSpec(
            AssetRef(a.estate_id, codes[a.building_id], AssetKind(a.kind), a.id),
            a.model,
            a.installed,
            a.criticality,
            a.location or "",
        )
        for a in session.scalars(sa.select(Asset).order_by(Asset.estate_id, Asset.id))
    )
    return Fleet(
        tuple(
            FleetEstate(
                e.id,
                e.name,
                e.group,
                e.company_id,
                companies.get(e.company_id, e.company_id),
                tuple(buildings.get(e.id, ())),
            )
            for e in estates
        ),
        assets,
    )


def store_fleet(settings: Settings) -> Fleet:
    """The registry of ``settings``' store as a ``Fleet``: the one-line replacement for ``load_fleet(fleet_file)``.

    Opens (and migrates) the store for this one read; a process holding a ``Database`` calls ``read_fleet``.
    """
    from maintenance.db import Database

    db = Database.open(settings.sqlalchemy_url)
    try:
        with db.transaction() as session:
            return read_fleet(session)
    finally:
        db.dispose()


def import_file(session: Session, name: str, text: str, *, allow_kind_change: bool = False) -> int:
    """Upsert the registry from a fleet YAML (``.yaml``/``.yml``) or a CSV (``.csv``) file's text."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "csv":
        return import_csv(session, text, allow_kind_change=allow_kind_change)
    if suffix in ("yaml", "yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RegistryError(f"{name}: not valid YAML ({exc})") from None
        try:
            return load_fleet(session, parse_fleet(data, name), allow_kind_change=allow_kind_change)
        except FleetError as exc:
            raise RegistryError(str(exc)) from None
    raise RegistryError(f"{name}: give a .csv or a fleet .yaml file (the suffix decides the format)")
