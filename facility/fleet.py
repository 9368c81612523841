"""The fleet definition: which estates, buildings and assets exist (a YAML file).

estates:
  - id: lvyuan
    name: 绿苑小区
    group: old                     # luxury | old | housing-reform | affordable | resettlement | new
    company: pc-anju               # property company id
    company_name: 安居物业
    buildings:
      - id: b1
        assets:
          - {id: lvyuan-b1-el1, kind: elevator, model: KONE-MonoSpace, installed: 2012-05-01, criticality: 3}
        # or a shorthand that expands to numbered assets:
        counts: {elevator: 2, fire_alarm: 1, water_pump: 1, smart_bin: 2}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from facility.contract import AssetKind, AssetRef

ESTATE_GROUPS = ("luxury", "old", "housing-reform", "affordable", "resettlement", "new")
_SHORT = {
    AssetKind.ELEVATOR: "el",
    AssetKind.FIRE_ALARM: "fa",
    AssetKind.WATER_PUMP: "wp",
    AssetKind.SMART_BIN: "sb",
}


class FleetError(ValueError):
    pass


@dataclass(frozen=True)
class AssetSpec:
    ref: AssetRef
    model: str
    installed: dt.date
    criticality: int  # 1 (low) .. 5 (life safety)
    location: str = ""

    @property
    def id(self) -> str:
        return self.ref.asset

    @property
    def kind(self) -> AssetKind:
        return self.ref.kind


@dataclass(frozen=True)
class Building:
    id: str
    name: str
    floors: int


@dataclass(frozen=True)
class Estate:
    id: str
    name: str
    group: str
    company: str
    company_name: str
    buildings: tuple[Building, ...]


@dataclass(frozen=True)
class Fleet:
    estates: tuple[Estate, ...]
    assets: tuple[AssetSpec, ...]

    def asset(self, asset_id: str) -> AssetSpec:
        for a in self.assets:
            if a.id == asset_id:
                return a
        raise KeyError(asset_id)


_DEFAULT_MODEL = {
    AssetKind.ELEVATOR: "traction-1000kg",
    AssetKind.FIRE_ALARM: "panel-2loop",
    AssetKind.WATER_PUMP: "booster-15kW",
    AssetKind.SMART_BIN: "bin-240L",
}
_DEFAULT_CRITICALITY = {
    AssetKind.ELEVATOR: 4,
    AssetKind.FIRE_ALARM: 5,
    AssetKind.WATER_PUMP: 4,
    AssetKind.SMART_BIN: 2,
}


def _need(node: dict[str, Any], key: str, where: str) -> Any:
    if key not in node:
        raise FleetError(f"{where}: missing '{key}'")
    return node[key]


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise FleetError(f"{where}: installed {value!r} is not a date like 2015-06-01") from None


def parse_fleet(data: Any, source: str = "fleet") -> Fleet:
    if not isinstance(data, dict) or not isinstance(data.get("estates"), list):
        raise FleetError(f"{source}: expected a mapping with a list 'estates'")
    estates: list[Estate] = []
    assets: list[AssetSpec] = []
    seen: set[str] = set()
    for e in data["estates"]:
        eid = str(_need(e, "id", source))
        where = f"{source}: estate {eid}"
        group = str(e.get("group", "new"))
        if group not in ESTATE_GROUPS:
            raise FleetError(f"{where}: group {group!r} is not one of {list(ESTATE_GROUPS)}")
        company = str(_need(e, "company", where))
        default_install = _date(e.get("installed", "2015-01-01"), where)
        buildings: list[Building] = []
        for b in _need(e, "buildings", where):
            bid = str(_need(b, "id", where))
            bwhere = f"{where} building {bid}"
            buildings.append(Building(bid, str(b.get("name", bid)), int(b.get("floors", 18))))
            installed = _date(b.get("installed", default_install), bwhere)
            entries: list[dict[str, Any]] = list(b.get("assets", []))
            for kind_name, count in (b.get("counts") or {}).items():
                kind = AssetKind(kind_name)
                for i in range(1, int(count) + 1):
                    entries.append({"id": f"{eid}-{bid}-{_SHORT[kind]}{i}", "kind": kind.value})
            for a in entries:
                aid = str(_need(a, "id", bwhere))
                if aid in seen:
                    raise FleetError(f"{bwhere}: asset id {aid!r} is used twice")
                seen.add(aid)
                try:
                    kind = AssetKind(_need(a, "kind", f"{bwhere} asset {aid}"))
                except ValueError:
                    raise FleetError(f"{bwhere} asset {aid}: unknown kind {a['kind']!r}") from None
                criticality = int(a.get("criticality", _DEFAULT_CRITICALITY[kind]))
                if not 1 <= criticality <= 5:
                    raise FleetError(f"{bwhere} asset {aid}: criticality must be 1..5, got {criticality}")
                assets.append(
                    AssetSpec(
                        AssetRef(eid, bid, kind, aid),
                        str(a.get("model", _DEFAULT_MODEL[kind])),
                        _date(a.get("installed", installed), f"{bwhere} asset {aid}"),
                        criticality,
                        str(a.get("location", "")),
                    )
                )
        estates.append(
            Estate(
                eid,
                str(e.get("name", eid)),
                group,
                company,
                str(e.get("company_name", company)),
                tuple(buildings),
            )
        )
    return Fleet(tuple(estates), tuple(assets))


def load_fleet(path: Path) -> Fleet:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetError(f"fleet file {path} does not exist") from None
    return parse_fleet(yaml.safe_load(text), str(path))
