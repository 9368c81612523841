"""The FastAPI application: every module in ``api/routes`` that defines ``router`` is mounted."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import api.routes
from api.context import AppContext
from facility.settings import Settings

API_PREFIX = "/api/v1"


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
        docs_url="/docs",
        openapi_url=f"{API_PREFIX}/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = context
    for info in sorted(pkgutil.iter_modules(api.routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"api.routes.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            prefix = "" if getattr(module, "UNPREFIXED", False) else API_PREFIX
            app.include_router(router, prefix=prefix)
    return app
