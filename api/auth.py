"""Who is calling, declared once per router: ``authenticated`` (401) and ``require_role`` (403).

api/app.py gives ``authenticated`` to every router it mounts except the few on its allow-list, so a route
cannot forget it; routes keep their role checks with ``Depends(require_role(Role.ADMIN, ...))``.

Callers prove who they are in one of two ways:
- machines: ``Authorization: Bearer <API token>`` (``facility tokens create``); the iCal feed alone also
  accepts ``?token=`` (calendar clients cannot send headers), and only routes that ask for it;
- people: the session cookie set by ``POST /api/v1/session/login``. A request that changes something
  (POST, PUT, PATCH, DELETE) with the cookie must also send the session's CSRF token in ``X-CSRF-Token``
  (the page scripts read it from the ``fm_csrf`` cookie), and an ``Origin`` header, when sent, must be this
  host: another site can make the browser send the cookie, but it cannot read or send the CSRF token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ClockDep, SessionDep
from maintenance.people import SessionInfo, csrf_matches, resolve_session
from maintenance.tokens import Principal, Role, authenticate

__all__ = [
    "ALL_ROLES",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "OPERATORS",
    "READERS",
    "SESSION_COOKIE",
    "Principal",
    "Role",
    "authenticated",
    "ensure_crew_access",
    "require_role",
    "same_origin",
]

SESSION_COOKIE = "fm_session"
CSRF_COOKIE = "fm_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="an API token from `facility tokens create` (machines)")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="the session of a signed-in person (POST /api/v1/session/login); changes need X-CSRF-Token",
)

ALL_ROLES = tuple(Role)
#: who may change operational data (orders, crews, registry)
OPERATORS = (Role.ADMIN, Role.ENGINEER)
#: who may read operational data of every crew
READERS = (Role.ADMIN, Role.ENGINEER, Role.SUPERVISOR)


def _unauthorized(why: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, why, headers={"WWW-Authenticate": "Bearer"})


def _flags(dependant: Dependant) -> bool:
    return any(getattr(d.call, "query_token", False) or _flags(d) for d in dependant.dependencies)


def _accepts_query_token(route: Any) -> bool:
    """Does this route ask for ``?token=`` (a ``require_role(..., query_token=True)`` among its deps)?"""
    cached = getattr(route, "_accepts_query_token", None)
    if cached is None:
        dependant = getattr(route, "dependant", None)
        cached = dependant is not None and _flags(dependant)
        if route is not None:
            route._accepts_query_token = cached
    return bool(cached)


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-site request (those carry Origin on POST/PUT/PATCH/DELETE)
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def _check_csrf(request: Request, info: SessionInfo) -> None:
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused: Origin is not this host")
    if not csrf_matches(info, request.headers.get(CSRF_HEADER)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong {CSRF_HEADER} header: send the value of the {CSRF_COOKIE} cookie with every change",
        )


def authenticated(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    cookie: str | None = Depends(_cookie),
) -> Principal:
    """The caller's Principal from the bearer token or the session cookie; 401 without a valid one."""
    value = credentials.credentials.strip() if credentials is not None else ""
    if not value and request.query_params.get("token") and _accepts_query_token(request.scope.get("route")):
        value = request.query_params["token"].strip()
    if value:
        principal = authenticate(session, value)
        if principal is None:
            raise _unauthorized("unknown or revoked token")
        return principal
    if cookie:
        info = resolve_session(session, cookie, clock().astimezone(dt.UTC))
        if info is None:
            raise _unauthorized("your session has ended: sign in again at /login")
        _check_csrf(request, info)
        request.state.session = info
        return info.principal
    raise _unauthorized("not signed in: sign in at /login, or send 'Authorization: Bearer <token>'")


AuthenticatedDep = Depends(authenticated)


def require_role(*roles: Role, query_token: bool = False) -> Callable[..., Principal]:
    """A dependency returning the caller's Principal if their role is one of ``roles`` (else 403).

    ``query_token=True`` lets ``authenticated`` take the API token from ``?token=`` on this route
    (calendar clients cannot send headers); no other route accepts a token in its URL.
    """
    allowed = frozenset(roles)

    def check(principal: Principal) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not do this; allowed: {sorted(r.value for r in allowed)}",
            )
        return principal

    if query_token:

        def dependency_q(
            principal: Principal = AuthenticatedDep,
            token: str | None = Query(None, description="the API token, for calendar clients only"),
        ) -> Principal:
            return check(principal)

        dependency: Callable[..., Principal] = dependency_q
    else:

        def dependency_h(principal: Principal = AuthenticatedDep) -> Principal:
            return check(principal)

        dependency = dependency_h

    dependency.__doc__ = f"requires one of {sorted(r.value for r in allowed)}"
    dependency.allowed = allowed  # type: ignore[attr-defined]  # read by tests/security (access matrix)
    dependency.query_token = query_token  # type: ignore[attr-defined]
    return dependency


def ensure_crew_access(principal: Principal, crew_id: str | None) -> None:
    """A crew member may only touch their own crew's things (403 otherwise)."""
    if principal.role is Role.CREW and principal.crew_id != crew_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this belongs to another crew")
