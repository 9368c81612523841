"""Notification channels per crew, engineer and estate manager: WeCom, DingTalk, Feishu, SMS, e-mail.

Robot and gateway URLs are checked when set (422 for loopback, private, link-local or metadata addresses,
unless in ``FACILITY_OUTGOING_ALLOW``) and again before every call. Secrets are write-only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from api.auth import OPERATORS, READERS, Principal, require_role
from api.deps import ContextDep, SessionDep
from api.params import RowId
from maintenance.alarms.models import ChannelRow
from maintenance.channels.base import URL_CHANNELS, ChannelType
from maintenance.domain import zone
from maintenance.models import Crew, Engineer, Estate
from maintenance.safe_url import UnsafeUrl, check_url

router = APIRouter(tags=["channels"], dependencies=[Depends(require_role(*READERS))])
Operators = Annotated[Principal, Depends(require_role(*OPERATORS))]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _422(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def check_destination(url: str, allow: Sequence[str], field: str = "target") -> str:
    """``url`` if outgoing requests may go there, else a 422 naming ``field`` and why."""
    try:
        return check_url(url, allow)
    except UnsafeUrl as exc:
        raise _422(field, str(exc)) from None


class ChannelIn(BaseModel):
    owner_type: Literal["crew", "engineer", "manager"]
    owner_id: str = Field(min_length=1, max_length=64, description="crew id, engineer id, or the estate id")
    type: ChannelType
    target: str = Field(min_length=3, max_length=500, description="robot/gateway URL, or the e-mail address")
    secret: str | None = Field(None, min_length=8, max_length=200)
    recipients: list[str] = Field(
        default_factory=list, max_length=20, description="SMS numbers, mobiles to @"
    )
    quiet_start: int | None = Field(None, ge=0, le=23)
    quiet_end: int | None = Field(None, ge=0, le=23)
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    enabled: bool = True


def channel_out(ch: ChannelRow) -> dict[str, Any]:
    return {
        "id": ch.id,
        "owner_type": ch.owner_type,
        "owner_id": ch.owner_id,
        "type": ch.type,
        "target": ch.target,
        "has_secret": bool(ch.secret),
        "recipients": [r for r in ch.recipients.split(",") if r],
        "quiet_hours": [ch.quiet_start, ch.quiet_end] if ch.quiet_start is not None else None,
        "timezone": ch.timezone,
        "language": ch.language,
        "enabled": ch.enabled,
        "last_ok_at": ch.last_ok_at.isoformat() if ch.last_ok_at else None,
        "last_error": ch.last_error,
        "last_error_at": ch.last_error_at.isoformat() if ch.last_error_at else None,
    }


@router.get("/channels")
def list_channels(
    session: SessionDep,
    owner_type: Literal["crew", "engineer", "manager"] | None = None,
    owner_id: str | None = Query(None, max_length=64),
) -> list[dict[str, Any]]:
    """Notification channels (WeCom, DingTalk, Feishu, SMS, e-mail) and their delivery state"""
    q = sa.select(ChannelRow).order_by(ChannelRow.id)
    if owner_type:
        q = q.where(ChannelRow.owner_type == owner_type)
    if owner_id:
        q = q.where(ChannelRow.owner_id == owner_id)
    return [channel_out(c) for c in session.scalars(q)]


@router.post("/channels", status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelIn, session: SessionDep, ctx: ContextDep, who: Operators) -> dict[str, Any]:
    """Add a notification channel"""
    owner = {"crew": Crew, "engineer": Engineer, "manager": Estate}[body.owner_type]
    if session.get(owner, body.owner_id) is None:
        raise _422("owner_id", f"{body.owner_type} {body.owner_id!r} does not exist")
    if body.type in URL_CHANNELS:
        check_destination(body.target, ctx.settings.outgoing_allow)
    elif not _EMAIL.match(body.target):
        raise _422("target", f"{body.target!r} is not an e-mail address")
    if body.type is ChannelType.SMS and not body.recipients:
        raise _422("recipients", "an SMS channel needs at least one phone number in recipients")
    if body.type is ChannelType.DINGTALK and not body.secret:
        raise _422("secret", "a DingTalk robot is signed: give its secret (SEC...)")
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise _422("quiet_end", "give both quiet_start and quiet_end, or neither")
    try:
        zone(body.timezone)
    except ValueError as exc:
        raise _422("timezone", str(exc)) from None
    ch = ChannelRow(
        owner_type=body.owner_type,
        owner_id=body.owner_id,
        type=body.type.value,
        target=body.target,
        secret=body.secret,
        recipients=",".join(r.strip() for r in body.recipients if r.strip()),
        quiet_start=body.quiet_start,
        quiet_end=body.quiet_end,
        timezone=body.timezone,
        language=body.language,
        enabled=body.enabled,
    )
    session.add(ch)
    session.flush()
    return channel_out(ch)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: RowId, session: SessionDep, who: Operators) -> None:
    """Delete a notification channel"""
    ch = session.get(ChannelRow, channel_id)
    if ch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {channel_id} does not exist")
    session.delete(ch)
