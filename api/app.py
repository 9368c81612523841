"""The FastAPI application: every module in ``api/routes`` that defines ``router`` is mounted.

Every router is mounted with ``Depends(authenticated)`` (api/auth.py): a route cannot forget to ask who is
calling. The only exceptions are the routers named in ``PUBLIC`` below, each with the reason it may be
public; tests/security/test_route_auth.py walks ``app.routes`` and fails for any other route without it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import api.routes
from api.auth import authenticated
from api.context import AppContext
from facility.settings import Settings

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)

#: "module.router attribute" → why anyone may call its routes without signing in
PUBLIC: dict[str, str] = {
    "health.router": "liveness for load balancers and compose; says only whether broker and InfluxDB answer",
    "pages.router": "HTML shells and static files; their data comes from /api/v1 with the caller's session",
    "alarm_pages.router": "the /alarms HTML shell; its data comes from /api/v1/alarms with the caller's session",
    "docs.router": "/docs, /redoc and the OpenAPI schema: the API's shape, no data",
    "session.public_router": "the sign-in page and the login call itself",
}
#: the router attributes a route module may define (``public_router`` is public only when listed above)
ROUTER_ATTRS = ("router", "public_router")


#: sent with every response: no framing by other sites (clickjacking), no MIME sniffing, and no URL (with the
#: iCal feed's ?token=) in the Referer sent to other hosts
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Pure ASGI middleware (streaming responses such as the SSE stream pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _summary(doc: str) -> str:
    """The first sentence of a docstring's first paragraph, at most about 100 characters."""
    text = " ".join(doc.strip().split("\n\n")[0].split())
    sentence = text.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 100 else sentence[:99].rsplit(" ", 1)[0] + " …"


def _summaries(router: APIRouter) -> None:
    """A route without ``summary=`` gets the first sentence of its endpoint's docstring as its summary."""
    for route in router.routes:
        if isinstance(route, APIRoute) and not route.summary:
            doc = inspect.getdoc(route.endpoint)
            if doc:
                route.summary = _summary(doc)


async def _to_login(request: Request, exc: StarletteHTTPException) -> Response:
    """A person opening a page without a session is sent to /login (and back afterwards); APIs get 401."""
    if (
        exc.status_code == 401
        and request.method == "GET"
        and not request.url.path.startswith(API_PREFIX + "/")
        and "text/html" in request.headers.get("accept", "")
    ):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return await http_exception_handler(request, exc)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    """The relational store (tokens, sessions, orders) cannot be reached: 503, without its address."""
    log.error("the relational store cannot be used: %s", type(exc).__name__)
    return JSONResponse({"detail": "the database cannot be reached: retry later"}, status_code=503)


async def _beyond_64_bits(request: Request, exc: Exception) -> Response:
    """A number too large for the store that a route's parameter types let through: 422, not 500."""
    log.warning("%s %s: a number beyond 64 bits reached the store: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "a number in this request is too large: ids and counts are at most 9223372036854775807"},
        status_code=422,
    )


def create_app(settings: Settings | None = None, ctx: AppContext | None = None) -> FastAPI:
    settings = settings or (ctx.settings if ctx else Settings())
    owned = ctx is None
    context = ctx or AppContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            context.close()

    app = FastAPI(
        title="Facility monitoring and predictive maintenance",
        version="0.1.0",
        # served by api/routes/docs.py from local files (no CDN): /docs, /redoc, /openapi.json
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = context
    app.add_exception_handler(StarletteHTTPException, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _store_unavailable)
    app.add_exception_handler(OverflowError, _beyond_64_bits)  # the safety net under api/params.py's RowId
    app.add_middleware(SecurityHeaders)
    #: ids of the routes (as their routers define them) that anyone may call
    app.state.public_routes = set()
    for info in sorted(pkgutil.iter_modules(api.routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"api.routes.{info.name}")
        prefix = "" if getattr(module, "UNPREFIXED", False) else API_PREFIX
        for attr in ROUTER_ATTRS:
            router = getattr(module, attr, None)
            if router is None:
                continue
            _summaries(router)
            if f"{info.name}.{attr}" in PUBLIC:
                app.include_router(router, prefix=prefix)
                app.state.public_routes.update(id(r) for r in router.routes)
            else:
                app.include_router(router, prefix=prefix, dependencies=[Depends(authenticated)])
    return app
