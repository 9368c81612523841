"""Typed dependencies for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.context import AppContext
from ingest.influx import InfluxClient


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_influx(ctx: ContextDep) -> InfluxClient:
    return ctx.influx


InfluxDep = Annotated[InfluxClient, Depends(get_influx)]
