"""Crews: members, skills per asset kind, estates covered, working hours, webhook."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field, HttpUrl

from api.auth import OPERATORS, READERS, Principal, Role, ensure_crew_access, require_role
from api.deps import ContextDep, SessionDep
from api.routes.channels import check_destination
from facility.contract import AssetKind
from facility.i18n import DEFAULT_TIMEZONE
from maintenance.domain import zone
from maintenance.models import Crew, CrewMember, Estate

router = APIRouter(tags=["crews"])

Readers = Annotated[Principal, Depends(require_role(*READERS, Role.CREW))]
Operators = Annotated[Principal, Depends(require_role(*OPERATORS))]
Overseers = Annotated[Principal, Depends(require_role(*READERS))]


class MemberIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field("", max_length=64)


class CrewUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    skills: list[AssetKind] | None = None
    estates: list[str] | None = None
    hours_start: int | None = Field(None, ge=0, le=23)
    hours_end: int | None = Field(None, ge=1, le=24)
    timezone: str | None = Field(
        None,
        description="IANA time zone of the working hours (Asia/Shanghai when a crew is created without one)",
    )
    active: bool | None = None
    members: list[MemberIn] | None = None
    webhook_url: HttpUrl | None = None
    webhook_secret: str | None = Field(None, min_length=16, max_length=200)


class CrewCreate(CrewUpdate):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str | None = Field(min_length=1, max_length=200)
    skills: list[AssetKind] | None = Field(min_length=1)
    estates: list[str] | None = Field(min_length=1)


class CrewOut(BaseModel):
    id: str
    name: str
    skills: list[str]
    estates: list[str]
    hours_start: int
    hours_end: int
    timezone: str
    active: bool
    members: list[MemberIn]
    webhook_url: str | None


def crew_out(c: Crew) -> CrewOut:
    return CrewOut(
        id=c.id,
        name=c.name,
        skills=c.skills,
        estates=c.estates,
        hours_start=c.hours_start,
        hours_end=c.hours_end,
        timezone=c.timezone,
        active=c.active,
        members=[MemberIn(name=m.name, phone=m.phone) for m in c.members],
        webhook_url=c.webhook_url,
    )


def _apply(session: SessionDep, crew: Crew, body: CrewUpdate) -> None:
    data = body.model_dump(exclude_unset=True, exclude={"id", "members"})
    if "estates" in data and data["estates"] is not None:
        known = set(session.scalars(sa.select(Estate.id)))
        unknown = sorted(set(data["estates"]) - known)
        if unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", "estates"], "msg": f"unknown estates {unknown}", "type": "value_error"}],
            )
    for key, value in data.items():
        if value is None and key in (
            "name",
            "skills",
            "estates",
            "hours_start",
            "hours_end",
            "active",
            "timezone",
        ):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", key], "msg": "may not be null", "type": "value_error"}],
            )
        if key == "timezone":
            try:
                zone(value)
            except ValueError as exc:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [{"loc": ["body", "timezone"], "msg": str(exc), "type": "value_error"}],
                ) from None
        if key == "skills":
            value = [AssetKind(k).value for k in value]
        if key == "webhook_url" and value is not None:
            value = str(value)
        setattr(crew, key, value)
    if body.members is not None:
        crew.members = [CrewMember(name=m.name, phone=m.phone) for m in body.members]
    start = crew.hours_start if crew.hours_start is not None else 0
    end = crew.hours_end if crew.hours_end is not None else 24
    if start == end:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["body", "hours_end"], "msg": "working hours are empty", "type": "value_error"}],
        )


@router.get("/crews", response_model=list[CrewOut])
def list_crews(session: SessionDep, who: Overseers) -> list[CrewOut]:
    """Every maintenance crew"""
    return [crew_out(c) for c in session.scalars(sa.select(Crew).order_by(Crew.id))]


@router.post("/crews", response_model=CrewOut, status_code=status.HTTP_201_CREATED)
def create_crew(body: CrewCreate, session: SessionDep, ctx: ContextDep, who: Operators) -> CrewOut:
    """Add a crew"""
    if session.get(Crew, body.id) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"crew {body.id!r} exists: PATCH /crews/{body.id} to change it"
        )
    # crews work in local time: hours are Asia/Shanghai unless the request names another zone
    crew = Crew(id=body.id, hours_start=0, hours_end=24, active=True, timezone=DEFAULT_TIMEZONE)
    if body.webhook_url is not None:  # safe destinations (issue 13): 422 for loopback/private/metadata
        check_destination(str(body.webhook_url), ctx.settings.outgoing_allow, "webhook_url")
    _apply(session, crew, body)
    session.add(crew)
    session.flush()
    return crew_out(crew)


def _get(session: SessionDep, crew_id: str) -> Crew:
    crew = session.get(Crew, crew_id)
    if crew is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"crew {crew_id!r} does not exist")
    return crew


@router.get("/crews/{crew_id}", response_model=CrewOut)
def read_crew(crew_id: str, session: SessionDep, who: Readers) -> CrewOut:
    """One crew (crew members: only their own)"""
    ensure_crew_access(who, crew_id)
    return crew_out(_get(session, crew_id))


@router.patch("/crews/{crew_id}", response_model=CrewOut)
def update_crew(
    crew_id: str, body: CrewUpdate, session: SessionDep, ctx: ContextDep, who: Operators
) -> CrewOut:
    """Change a crew's name, skills, estates, hours, members or webhook"""
    crew = _get(session, crew_id)
    if body.webhook_url is not None:  # safe destinations (issue 13): 422 for loopback/private/metadata
        check_destination(str(body.webhook_url), ctx.settings.outgoing_allow, "webhook_url")
    _apply(session, crew, body)
    session.flush()
    return crew_out(crew)
