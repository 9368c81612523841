"""GET /health: is the service able to do its work (broker and database reachable)?"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import ContextDep
from api.services.health import broker_reachable

router = APIRouter(tags=["health"])


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str
    broker: Check
    influxdb: Check


@router.get("/health", response_model=Health)
def health(ctx: ContextDep, response: Response) -> Health:
    """Whether the broker and InfluxDB answer (503 when either does not)"""
    broker_ok, broker_detail = broker_reachable(ctx.settings)
    influx_ok = ctx.influx.ping()
    ok = broker_ok and influx_ok
    if not ok:
        response.status_code = 503
    return Health(
        status="ok" if ok else "degraded",
        broker=Check(
            ok=broker_ok, detail=broker_detail or f"{ctx.settings.mqtt_host}:{ctx.settings.mqtt_port}"
        ),
        influxdb=Check(ok=influx_ok, detail=ctx.settings.influx_url),
    )
