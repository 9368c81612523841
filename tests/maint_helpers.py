"""Shared set-up for the maintenance tests: a small fleet, crews and a migrated store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from facility.fleet import Fleet, parse_fleet
from maintenance.models import Crew, Engineer
from maintenance.registry import load_fleet

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)  # a Monday, 09:00 UTC

FLEET_YAML = {
    "estates": [
        {
            "id": "lvyuan",
            "group": "old",
            "company": "pc-anju",
            "company_name": "Anju",
            "installed": "2010-01-01",
            "buildings": [
                {"id": "b1", "floors": 11, "counts": {"elevator": 2, "fire_alarm": 1, "smart_bin": 1}}
            ],
        },
        {
            "id": "jinhu",
            "group": "luxury",
            "company": "pc-hengtai",
            "buildings": [{"id": "t1", "counts": {"elevator": 1, "water_pump": 1}}],
        },
    ]
}


def small_fleet() -> Fleet:
    return parse_fleet(FLEET_YAML, "test")


def seed(session: Session) -> None:
    """Fleet plus three crews: lifts in lvyuan, fire/bins in lvyuan, everything in jinhu; one engineer."""
    load_fleet(session, small_fleet())
    session.add_all(
        [
            Crew(id="lift-a", name="Lift A", skills=["elevator"], estates=["lvyuan"], webhook_url=None),
            Crew(id="fire-a", name="Fire A", skills=["fire_alarm", "smart_bin"], estates=["lvyuan"]),
            Crew(id="all-j", name="Jinhu", skills=["elevator", "water_pump"], estates=["jinhu"]),
            Engineer(id="eng-wang", name="Wang", estates=["lvyuan", "jinhu"]),
        ]
    )
    session.flush()
