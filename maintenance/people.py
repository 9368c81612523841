"""People who sign in with a name and a password, and their sessions (issue 16 item 7).

Passwords are stored as argon2id hashes (argon2-cffi with OWASP's parameters, see ``_hasher``); a session is
a random token of which only the SHA-256 is stored, with its own CSRF token and an absolute expiry. Machines
keep using API tokens (maintenance/tokens.py); both resolve to the same ``Principal`` with the same roles.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from maintenance.models import Base, Crew, UtcDateTime
from maintenance.tokens import Principal, Role, hash_token

__all__ = [
    "MIN_PASSWORD",
    "SessionInfo",
    "User",
    "UserSession",
    "add_user",
    "check_password",
    "csrf_matches",
    "demo_people",
    "disable_user",
    "end_session",
    "ensure_user",
    "resolve_session",
    "set_password",
    "start_session",
]

MIN_PASSWORD = 10
#: argon2 takes any length; a cap keeps a hostile login from costing more than a normal one
MAX_PASSWORD = 1024
SESSION_PREFIX = "fs_"

#: OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): a login costs tens of milliseconds on one core, not a
#: second of both; hashes made with other parameters are upgraded at the next successful login
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: verified when the name is unknown, so a login takes as long for unknown names as for wrong passwords
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(16))
    crew_id: Mapped[str | None] = mapped_column(sa.ForeignKey("crews.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class UserSession(Base):
    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    user: Mapped[User] = relationship()


@dataclass(frozen=True)
class SessionInfo:
    """A live session: who it is, the token for the cookie (only when just started) and its CSRF token."""

    principal: Principal
    session_id: int
    csrf_token: str
    expires_at: dt.datetime
    token: str | None = None


def _check_role(role: Role, crew_id: str | None, session: Session) -> None:
    if role is Role.CREW and not crew_id:
        raise ValueError("a crew member needs their crew: pass --crew CREW_ID")
    if role is not Role.CREW and crew_id:
        raise ValueError(
            f"only crew members belong to a crew; role {role.value!r} was given --crew {crew_id}"
        )
    if crew_id and session.get(Crew, crew_id) is None:
        raise ValueError(f"crew {crew_id!r} does not exist: create it first")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password is {len(password)} characters; use at least {MIN_PASSWORD}")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"the password is {len(password)} characters; at most {MAX_PASSWORD} are accepted")


def _find(session: Session, name: str) -> User | None:
    return session.scalars(sa.select(User).where(User.name == name)).first()


def add_user(
    session: Session, name: str, password: str, role: Role, now: dt.datetime, crew_id: str | None = None
) -> User:
    """A new person who signs in as ``name`` (unique) with ``role``; ValueError says what to fix."""
    name = name.strip()
    if not name or len(name) > 200 or any(c.isspace() and c != " " for c in name):
        raise ValueError(f"the name {name!r} must be 1-200 characters without tabs or line breaks")
    if _find(session, name) is not None:
        raise ValueError(f"a person named {name!r} exists: choose another name or change their password")
    _check_role(role, crew_id, session)
    _check_password(password)
    user = User(
        name=name, password_hash=_hasher.hash(password), role=role.value, crew_id=crew_id, created_at=now
    )
    session.add(user)
    session.flush()
    return user


def ensure_user(
    session: Session, name: str, password: str, role: Role, now: dt.datetime, crew_id: str | None = None
) -> bool:
    """Add the person unless someone of that name exists (their password and sessions stay); True if added."""
    if _find(session, name.strip()) is not None:
        return False
    add_user(session, name, password, role, now, crew_id)
    return True


def _end_all(session: Session, user: User, now: dt.datetime) -> int:
    rows = session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    for r in rows:
        r.ended_at = now
    return len(rows)


def set_password(session: Session, name: str, password: str, now: dt.datetime) -> None:
    """Change a person's password; their open sessions end."""
    user = _find(session, name)
    if user is None:
        raise ValueError(f"no person is named {name!r}")
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    _end_all(session, user, now)
    session.flush()


def disable_user(session: Session, name: str, now: dt.datetime) -> int:
    """The person can no longer sign in; returns how many open sessions were ended."""
    user = _find(session, name)
    if user is None:
        raise ValueError(f"no person is named {name!r}")
    user.disabled_at = user.disabled_at or now
    n = _end_all(session, user, now)
    session.flush()
    return n


def check_password(session: Session, name: str, password: str) -> User | None:
    """The enabled person of that name if the password is theirs, else None (same cost either way)."""
    user = _find(session, name.strip()) if len(password) <= MAX_PASSWORD else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _principal(user: User) -> Principal:
    return Principal(None, user.name, Role(user.role), user.crew_id, user_id=user.id)


def start_session(session: Session, user: User, now: dt.datetime, ttl: dt.timedelta) -> SessionInfo:
    """A new session for ``user``; the returned ``token`` goes into the cookie and is never shown again."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return SessionInfo(_principal(user), row.id, row.csrf_token, row.expires_at, token)


def resolve_session(session: Session, token: str, now: dt.datetime) -> SessionInfo | None:
    """The live session of a cookie value: not ended, not expired, its person not disabled."""
    if not token.startswith(SESSION_PREFIX):
        return None
    row = session.scalars(
        sa.select(UserSession).where(
            UserSession.token_hash == hash_token(token),
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
        )
    ).first()
    if row is None or row.user.disabled_at is not None:
        return None
    return SessionInfo(_principal(row.user), row.id, row.csrf_token, row.expires_at)


def csrf_matches(info: SessionInfo, sent: str | None) -> bool:
    """Constant-time comparison of the CSRF token a request sent with its session's."""
    return bool(sent) and hmac.compare_digest(info.csrf_token.encode(), (sent or "").encode())


def end_session(session: Session, session_id: int, now: dt.datetime) -> None:
    row = session.get(UserSession, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.flush()


def demo_people(
    session: Session, crews: list[str], now: dt.datetime, passwords_file: Path
) -> list[tuple[str, str, str]]:
    """The demo's people (an admin, an engineer, a supervisor, one member per crew): (name, role, password).

    Their passwords are made once and kept in ``passwords_file`` (mode 600, under var/), so a restart of the demo
    keeps the same people, passwords and open sessions; someone whose password was changed keeps the new one.
    """
    wanted = [
        ("admin", Role.ADMIN, None),
        ("engineer", Role.ENGINEER, None),
        ("supervisor", Role.SUPERVISOR, None),
        *((f"{crew}-member", Role.CREW, crew) for crew in crews),
    ]
    known: dict[str, str] = json.loads(passwords_file.read_text()) if passwords_file.exists() else {}
    for name, _, _ in wanted:
        known.setdefault(name, secrets.token_urlsafe(9))
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.touch(mode=0o600)
    passwords_file.write_text(json.dumps(known, indent=1))
    for name, role, crew in wanted:
        ensure_user(session, name, known[name], role, now, crew_id=crew)
    return [(name, role.value, known[name]) for name, role, _ in wanted]
