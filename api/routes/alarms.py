"""Alarms: the console's list and counts, acknowledge and clear, and the rules (defaults + overrides)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from api.auth import ALL_ROLES, OPERATORS, Principal, Role, require_role
from api.deps import ClockDep, SessionDep
from api.params import RowId
from facility.contract import AlarmOutcome, AssetKind
from maintenance.alarms.queries import AlarmFilter, counts, list_alarms
from maintenance.alarms.rule_store import delete_rule, rules_in_force, upsert_rule
from maintenance.alarms.rules import RuleError, Severity
from maintenance.alarms.store import (
    AlarmConflict,
    AlarmNotFound,
    AlarmState,
    acknowledge,
    alarm_payload,
    clear,
    get_alarm,
)

router = APIRouter(tags=["alarms"], dependencies=[Depends(require_role(*ALL_ROLES))])

Anyone = Annotated[Principal, Depends(require_role(*ALL_ROLES))]
Responders = Annotated[Principal, Depends(require_role(*OPERATORS, Role.CREW))]
Operators = Annotated[Principal, Depends(require_role(*OPERATORS))]


def _actor(who: Principal) -> str:
    return f"{who.role.value}:{who.name}"


def _422(field: str, message: str) -> HTTPException:
    loc = ["body", *field.split(".")] if field else ["body"]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": loc, "msg": message, "type": "value_error"}]
    )


class AlarmPage(BaseModel):
    total: int
    alarms: list[dict[str, Any]]


@router.get("/alarms", response_model=AlarmPage)
def get_alarms(
    session: SessionDep,
    estate: str | None = Query(None, max_length=64),
    kind: AssetKind | None = None,
    severity: Severity | None = None,
    state: AlarmState | None = None,
    open: bool = Query(False, description="only active or acknowledged alarms (when no state is given)"),
    asset: str | None = Query(None, max_length=64),
    order: int | None = Query(None, ge=1, description="the alarms linked to this order"),
    since: dt.datetime | None = Query(None, description="last occurrence at or after (ISO 8601 with offset)"),
    until: dt.datetime | None = Query(None, description="first occurrence before"),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> AlarmPage:
    """Alarms, newest first, filtered by state, severity, estate, asset or kind"""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    {
                        "loc": ["query", name],
                        "msg": "give a time zone, e.g. 2026-12-01T00:00:00+08:00",
                        "type": "value_error",
                    }
                ],
            )
    f = AlarmFilter(
        estate,
        kind.value if kind else None,
        severity.value if severity else None,
        state.value if state else None,
        asset,
        order,
        since,
        until,
        open,
        limit,
        offset,
    )
    total, rows = list_alarms(session, f)
    return AlarmPage(total=total, alarms=rows)


@router.get("/alarms/counts")
def get_counts(session: SessionDep, estate: str | None = Query(None, max_length=64)) -> dict[str, Any]:
    """Uncleared alarms by severity per estate and per building (``estate/building``)."""
    return counts(session, estate)


@router.get("/alarms/{alarm_id}")
def get_one(alarm_id: RowId, session: SessionDep) -> dict[str, Any]:
    """One alarm with its repeat count, linked order and change log"""
    try:
        return alarm_payload(session, get_alarm(session, alarm_id))
    except AlarmNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


class AckIn(BaseModel):
    note: str = Field("", max_length=2000)


class ClearIn(AckIn):
    outcome: AlarmOutcome | None = Field(None, description="fire alarms: false_alarm, fire or test")


def _step(fn: Any, *args: Any) -> dict[str, Any]:
    session = args[0]
    try:
        return alarm_payload(session, fn(*args))
    except AlarmNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AlarmConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/alarms/{alarm_id}/acknowledge")
def post_acknowledge(
    alarm_id: RowId, session: SessionDep, clock: ClockDep, who: Responders, body: AckIn | None = None
) -> dict[str, Any]:
    """Acknowledge an alarm (someone is on it)"""
    return _step(acknowledge, session, alarm_id, _actor(who), clock(), body.note if body else "")


@router.post("/alarms/{alarm_id}/clear")
def post_clear(
    alarm_id: RowId, session: SessionDep, clock: ClockDep, who: Operators, body: ClearIn | None = None
) -> dict[str, Any]:
    """Clear an alarm with its outcome (fire alarms: real fire, false alarm or test)"""
    b = body or ClearIn(note="", outcome=None)
    outcome = b.outcome.value if b.outcome else None
    return _step(clear, session, alarm_id, _actor(who), clock(), outcome, b.note)


# ------------------------------------------------------------------------------------------------ rules


class RuleIn(BaseModel):
    kind: AssetKind
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    type: Literal["threshold", "rate", "offline", "event", "repetition"]
    severity: Severity
    params: dict[str, Any]
    order: Literal["p1", "p2", "p3", "p4"] | None = None
    enabled: bool = True
    estate: str | None = Field(None, max_length=64, description="override for one estate")
    asset: str | None = Field(None, max_length=64, description="override for one asset")


@router.get("/alarm-rules")
def get_rules(
    session: SessionDep,
    kind: AssetKind,
    estate: str | None = Query(None, max_length=64),
    asset: str | None = Query(None, max_length=64),
) -> list[dict[str, Any]]:
    """The rules in force for ``kind`` (for one estate or asset when given) and where each comes from."""
    try:
        return rules_in_force(session, kind, estate, asset)
    except RuleError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", exc.field], "msg": str(exc), "type": "value_error"}],
        ) from None


@router.put("/alarm-rules")
def put_rule(body: RuleIn, session: SessionDep, clock: ClockDep, who: Operators) -> dict[str, Any]:
    """Create or replace a rule (by kind, key and scope); a bad field is a 422 naming it."""
    try:
        rule, _created = upsert_rule(session, body.model_dump(), _actor(who), clock())
    except RuleError as exc:
        raise _422(exc.field, str(exc)) from None
    return rule


@router.delete("/alarm-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_rule(rule_id: RowId, session: SessionDep, clock: ClockDep, who: Operators) -> None:
    """Delete an alarm rule"""
    if not delete_rule(session, rule_id, clock()):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"stored rule {rule_id} does not exist (defaults cannot be deleted)"
        )
