"""Crews and duty engineers: store ↔ domain conversion and who is on duty."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import AssetKind
from maintenance.domain import CrewProfile, within_hours
from maintenance.models import Crew, Engineer


def profile(crew: Crew) -> CrewProfile:
    return CrewProfile(
        crew.id,
        frozenset(AssetKind(k) for k in crew.skills),
        frozenset(crew.estates),
        (crew.hours_start, crew.hours_end),
        crew.active,
        crew.timezone,
    )


def crew_profiles(session: Session) -> list[CrewProfile]:
    return [profile(c) for c in session.scalars(sa.select(Crew).order_by(Crew.id))]


def engineer_on_duty(session: Session, estate: str, at: dt.datetime) -> Engineer | None:
    """The first engineer (by id) covering ``estate`` whose working hours include ``at``."""
    for eng in session.scalars(sa.select(Engineer).order_by(Engineer.id)):
        if estate in eng.estates and within_hours((eng.hours_start, eng.hours_end), at, eng.timezone):
            return eng
    return None
