"""API tokens: random bearer tokens of which only the SHA-256 is stored, each with one role.

Tokens are for machines (and the iCal feed); people sign in with a password (maintenance/people.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.models import ApiToken, Crew

TOKEN_PREFIX = "fm_"


class Role(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    CREW = "crew"  # a crew member: sees and updates only the orders of their crew
    SUPERVISOR = "supervisor"  # reads everything, changes nothing operational
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API token's holder (``token_id``) or a signed-in person (``user_id``)."""

    token_id: int | None
    name: str
    role: Role
    crew_id: str | None
    user_id: int | None = None

    @property
    def actor(self) -> str:
        """How transitions record who did them."""
        return f"{self.role.value}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, name: str, role: Role, now: dt.datetime, crew_id: str | None = None
) -> str:
    """Store a new token's hash and return the token (shown once; it cannot be recovered)."""
    if role is Role.CREW and not crew_id:
        raise ValueError("a crew token needs its crew: pass --crew CREW_ID")
    if role is not Role.CREW and crew_id:
        raise ValueError(f"only crew tokens belong to a crew; role {role.value!r} was given --crew {crew_id}")
    if crew_id and session.get(Crew, crew_id) is None:
        raise ValueError(f"crew {crew_id!r} does not exist: create it first")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name, token_hash=hash_token(token), role=role.value, crew_id=crew_id, created_at=now)
    )
    session.flush()
    return token


def authenticate(session: Session, token: str) -> Principal | None:
    row = session.scalars(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return Principal(row.id, row.name, Role(row.role), row.crew_id)


def revoke(session: Session, name: str, now: dt.datetime) -> int:
    rows = session.scalars(
        sa.select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).all()
    for r in rows:
        r.revoked_at = now
    session.flush()
    return len(rows)
