"""Ingest health for operators: refused messages (dead letters) and the ingest workers' counters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ContextDep
from ingest import status

router = APIRouter(tags=["ingest"])


class DeadLetterOut(BaseModel):
    id: int
    #: who refused it: ``ingest`` (the ingester) or ``maintenance`` (the event listener)
    source: str
    topic: str
    #: the payload as kept (at most FACILITY_DEAD_LETTER_PAYLOAD_MAX_BYTES), decoded as UTF-8 (undecodable
    #: bytes replaced)
    payload: str
    #: the length of the whole payload as received, and its SHA-256 (hex)
    payload_bytes: int
    payload_sha256: str
    #: True when ``payload`` is only the start of what was received
    payload_truncated: bool
    reason: str
    message: str
    received_at: dt.datetime
    #: how many times the same message (same source, topic and payload) was refused
    deliveries: int


class FloodOut(BaseModel):
    """A device whose dead letters went over the per-device rate: those beyond it are counted, not kept."""

    device: str
    first_at: dt.datetime
    last_at: dt.datetime
    suppressed: int


class IngestStatsOut(BaseModel):
    #: every dead letter ever refused, per reason (including those retention removed and those suppressed)
    dead_letters_by_reason: dict[str, int]
    #: of those, removed by retention (FACILITY_DEAD_LETTER_MAX_ROWS / FACILITY_DEAD_LETTER_MAX_AGE_DAYS)
    dead_letters_pruned_by_reason: dict[str, int]
    #: of those, never stored: their device was over FACILITY_DEAD_LETTER_DEVICE_RATE_PER_MIN
    dead_letters_suppressed_by_reason: dict[str, int]
    #: devices over the dead-letter rate (newest first): an alarm condition
    flooding_devices: list[FloodOut]
    #: each worker's latest ``ingest_stats`` point; ``time`` (epoch ms) is when the worker wrote it
    workers: list[dict[str, Any]]


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(
    ctx: ContextDep,
    reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$", description="e.g. bad_json")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    source: Annotated[
        str | None, Query(pattern=r"^(ingest|maintenance)$", description="ingest or maintenance")
    ] = None,
) -> list[DeadLetterOut]:
    """Messages refused (by the ingester or the maintenance listener), newest first: they were acknowledged,
    so they never stall the stream."""
    return [
        DeadLetterOut(
            id=d.id or 0,
            source=d.source,
            topic=d.topic,
            payload=d.payload[:4096].decode("utf-8", errors="replace"),
            payload_bytes=d.size,
            payload_sha256=d.sha256.hex(),
            payload_truncated=len(d.payload) < d.size,
            reason=d.reason,
            message=d.message,
            received_at=_utc(d.received_at_ms),
            deliveries=d.deliveries,
        )
        for d in status.dead_letters(ctx.settings, reason, limit, source)
    ]


@router.get("/ingest/stats", response_model=IngestStatsOut)
def ingest_stats(ctx: ContextDep) -> IngestStatsOut:
    """Dead letters per reason, and each worker's latest counters (from the ``ingest_stats`` measurement)."""
    return IngestStatsOut(
        dead_letters_by_reason=status.dead_letter_counts(ctx.settings),
        dead_letters_pruned_by_reason=status.dead_letter_pruned_counts(ctx.settings),
        dead_letters_suppressed_by_reason=status.dead_letter_suppressed_counts(ctx.settings),
        flooding_devices=[
            FloodOut(
                device=f["device"],
                first_at=_utc(f["first_ms"]),
                last_at=_utc(f["last_ms"]),
                suppressed=f["suppressed"],
            )
            for f in status.floods(ctx.settings)
        ],
        workers=status.worker_stats(ctx.influx),
    )
