"""Bearer-token authentication and role checks: ``Depends(require_role(Role.ADMIN, ...))`` → Principal.

401 when the token is missing or unknown, 403 when its role is not among the allowed ones.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep
from maintenance.tokens import Principal, Role, authenticate

__all__ = ["ALL_ROLES", "OPERATORS", "READERS", "Principal", "Role", "ensure_crew_access", "require_role"]

_bearer = HTTPBearer(auto_error=False, description="an API token from `facility tokens create`")

ALL_ROLES = tuple(Role)
#: who may change operational data (orders, crews, registry)
OPERATORS = (Role.ADMIN, Role.ENGINEER)
#: who may read operational data of every crew
READERS = (Role.ADMIN, Role.ENGINEER, Role.SUPERVISOR)


def _unauthorized(why: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, why, headers={"WWW-Authenticate": "Bearer"})


def require_role(*roles: Role, query_token: bool = False) -> Callable[..., Principal]:
    """A dependency returning the caller's Principal if their role is one of ``roles``.

    ``query_token=True`` also accepts ``?token=`` (calendar clients cannot send headers).
    """
    allowed = frozenset(roles)

    def dependency(
        session: SessionDep,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        token: str | None = Query(None, include_in_schema=query_token),
    ) -> Principal:
        value = credentials.credentials.strip() if credentials is not None else ""
        if not value and query_token and token:
            value = token
        if not value:
            raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        principal = authenticate(session, value)
        if principal is None:
            raise _unauthorized("unknown or revoked token")
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not do this; allowed: {sorted(r.value for r in allowed)}",
            )
        return principal

    dependency.__doc__ = f"requires one of {sorted(r.value for r in allowed)}"
    return dependency


def ensure_crew_access(principal: Principal, crew_id: str | None) -> None:
    """A crew member may only touch their own crew's things (403 otherwise)."""
    if principal.role is Role.CREW and principal.crew_id != crew_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this belongs to another crew")
