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
    topic: str
    #: the raw payload, decoded as UTF-8 (undecodable bytes replaced), cut at 4 KiB
    payload: str
    payload_bytes: int
    reason: str
    message: str
    received_at: dt.datetime


class IngestStatsOut(BaseModel):
    #: every dead letter ever stored, per reason (including those retention has since removed)
    dead_letters_by_reason: dict[str, int]
    #: of those, removed by retention (FACILITY_DEAD_LETTER_MAX_ROWS / FACILITY_DEAD_LETTER_MAX_AGE_DAYS)
    dead_letters_pruned_by_reason: dict[str, int]
    workers: list[dict[str, Any]]


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(
    ctx: ContextDep,
    reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$", description="e.g. bad_json")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    """Messages the ingester refused, newest first (they were acknowledged, so they never stall the stream)."""
    return [
        DeadLetterOut(
            id=d.id or 0,
            topic=d.topic,
            payload=d.payload[:4096].decode("utf-8", errors="replace"),
            payload_bytes=len(d.payload),
            reason=d.reason,
            message=d.message,
            received_at=dt.datetime.fromtimestamp(d.received_at_ms / 1000, dt.UTC),
        )
        for d in status.dead_letters(ctx.settings, reason, limit)
    ]


@router.get("/ingest/stats", response_model=IngestStatsOut)
def ingest_stats(ctx: ContextDep) -> IngestStatsOut:
    """Dead letters per reason, and each worker's latest counters (from the ``ingest_stats`` measurement)."""
    return IngestStatsOut(
        dead_letters_by_reason=status.dead_letter_counts(ctx.settings),
        dead_letters_pruned_by_reason=status.dead_letter_pruned_counts(ctx.settings),
        workers=status.worker_stats(ctx.influx),
    )
