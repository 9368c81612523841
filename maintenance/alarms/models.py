"""Tables of alarms (issue 13): stored rules, alarms, the change log the live stream tails, channels."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.models import Base, UtcDateTime


class AlarmRuleRow(Base):
    """A rule that overrides (or adds to) the defaults: ``scope`` is "kind", "estate:<id>" or "asset:<id>"."""

    __tablename__ = "alarm_rules"
    __table_args__ = (sa.UniqueConstraint("kind", "key", "scope", name="uq_alarm_rules_kind_key_scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(64))
    scope: Mapped[str] = mapped_column(sa.String(80))
    type: Mapped[str] = mapped_column(sa.String(16))
    severity: Mapped[str] = mapped_column(sa.String(16))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    order_priority: Mapped[str | None] = mapped_column(sa.String(8))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(sa.String(200))


class AlarmRow(Base):
    """One alarm: repeats of the same rule on the same asset count here until it is cleared and acknowledged."""

    __tablename__ = "alarms"
    __table_args__ = (
        sa.Index("ix_alarms_asset_rule_state", "asset_id", "rule_key", "state"),
        sa.Index("ix_alarms_state_last", "state", "last_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[str] = mapped_column(sa.ForeignKey("assets.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    estate_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    building_id: Mapped[int] = mapped_column()
    rule_key: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(16))
    #: active | acknowledged | cleared_unacknowledged | cleared
    state: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    value: Mapped[float | None] = mapped_column(sa.Float)
    count: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(200))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    cleared_by: Mapped[str | None] = mapped_column(sa.String(200))
    #: fire alarms: what it turned out to be (false_alarm / fire / test)
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    #: the order this alarm opened (or joined); the order's alarms are the rows pointing at it
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)


class ChangeRow(Base):
    """The change log: alarms and orders changed in any process, tailed by the API's live stream."""

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    #: "alarm" | "order" | "freshness" | "rules"
    topic: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class ChannelRow(Base):
    """A notification channel of a crew, an engineer or an estate's manager (``owner_type``/``owner_id``)."""

    __tablename__ = "notification_channels"
    __table_args__ = (sa.Index("ix_notification_channels_owner", "owner_type", "owner_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(sa.String(16))
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    #: wecom | dingtalk | feishu | sms | email
    type: Mapped[str] = mapped_column(sa.String(16))
    #: robot/gateway URL, or the e-mail address
    target: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    #: SMS: the phone number(s), comma-separated; WeCom: mobiles to @mention
    recipients: Mapped[str] = mapped_column(sa.String(500), default="")
    #: quiet hours in ``timezone`` (start hour, end hour); only critical alarms and P1 orders get through
    quiet_start: Mapped[int | None] = mapped_column()
    quiet_end: Mapped[int | None] = mapped_column()
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Shanghai")
    language: Mapped[str] = mapped_column(sa.String(8), default="zh")
    enabled: Mapped[bool] = mapped_column(default=True)
    last_ok_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
