"""SQLAlchemy 2 tables of the maintenance store (registry, timeline, crews, orders, tokens, outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass timezone-aware UTC times to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class Estate(Base):
    __tablename__ = "estates"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    group: Mapped[str] = mapped_column(sa.String(32))
    company_id: Mapped[str] = mapped_column(sa.ForeignKey("companies.id"))
    company: Mapped[Company] = relationship()


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (sa.UniqueConstraint("estate_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[str] = mapped_column(sa.ForeignKey("estates.id"))
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    floors: Mapped[int]
    estate: Mapped[Estate] = relationship()


class Asset(Base):
    __tablename__ = "assets"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    estate_id: Mapped[str] = mapped_column(sa.ForeignKey("estates.id"), index=True)
    building_id: Mapped[int] = mapped_column(sa.ForeignKey("buildings.id"))
    model: Mapped[str] = mapped_column(sa.String(200))
    installed: Mapped[dt.date]
    criticality: Mapped[int]
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    estate: Mapped[Estate] = relationship()
    building: Mapped[Building] = relationship()


class AssetStateRow(Base):
    """One interval of the asset state timeline; ``end_at`` is NULL for the current state."""

    __tablename__ = "asset_states"
    __table_args__ = (sa.Index("ix_asset_states_asset_start", "asset_id", "start_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[str] = mapped_column(sa.ForeignKey("assets.id"))
    state: Mapped[str] = mapped_column(sa.String(32))
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    end_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    cause: Mapped[str] = mapped_column(sa.String(200), default="")


class Crew(Base):
    __tablename__ = "crews"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    skills: Mapped[list[str]] = mapped_column(sa.JSON)
    estates: Mapped[list[str]] = mapped_column(sa.JSON)
    hours_start: Mapped[int] = mapped_column(default=0)
    hours_end: Mapped[int] = mapped_column(default=24)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    webhook_secret: Mapped[str | None] = mapped_column(sa.String(200))
    members: Mapped[list[CrewMember]] = relationship(
        back_populates="crew", cascade="all, delete-orphan", order_by="CrewMember.id"
    )


class CrewMember(Base):
    __tablename__ = "crew_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    crew_id: Mapped[str] = mapped_column(sa.ForeignKey("crews.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str] = mapped_column(sa.String(64), default="")
    crew: Mapped[Crew] = relationship(back_populates="members")


class Engineer(Base):
    """A property-company engineer who may be on duty to receive SLA escalations."""

    __tablename__ = "engineers"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    estates: Mapped[list[str]] = mapped_column(sa.JSON)
    hours_start: Mapped[int] = mapped_column(default=0)
    hours_end: Mapped[int] = mapped_column(default=24)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_asset_state", "asset_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[str] = mapped_column(sa.ForeignKey("assets.id"))
    type: Mapped[str] = mapped_column(sa.String(32))
    priority: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    fault_code: Mapped[str | None] = mapped_column(sa.String(64))
    crew_id: Mapped[str | None] = mapped_column(sa.ForeignKey("crews.id"), index=True)
    complex: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: planned work (preventive proposals, issue 12): the end of its scheduled window (scheduled_for → window_end);
    #: its SLA is "done within the window", with no response clock until an engineer approves it (migration 0008)
    window_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    recovered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    rework_count: Mapped[int] = mapped_column(default=0)
    #: 回访: when the resident was followed up after the fix, what they said, their 1..5 rating
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    follow_up_note: Mapped[str | None] = mapped_column(sa.Text)
    resident_rating: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(default=1)
    asset: Mapped[Asset] = relationship()
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="order", order_by="Transition.id", cascade="all, delete-orphan"
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Transition(Base):
    __tablename__ = "order_transitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(sa.Text, default="")
    crew_id: Mapped[str | None] = mapped_column(sa.String(64))
    order: Mapped[Order] = relationship(back_populates="transitions")


class Escalation(Base):
    __tablename__ = "escalations"
    __table_args__ = (sa.UniqueConstraint("order_id", "clock"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"))
    clock: Mapped[str] = mapped_column(sa.String(16))  # "response" | "resolution"
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    engineer_id: Mapped[str | None] = mapped_column(sa.String(64))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    crew_id: Mapped[str | None] = mapped_column(sa.ForeignKey("crews.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A notification written in the same transaction as the change it announces; delivered afterwards."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: "mqtt" (publish on ``topic``) or "webhook" (POST to the crew's webhook); each delivered on its own
    channel: Mapped[str] = mapped_column(sa.String(16), default="mqtt", server_default="mqtt")
    topic: Mapped[str] = mapped_column(sa.String(300))
    crew_id: Mapped[str | None] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # --- added by alarms (issue 13, migration 0009): channel deliveries are retried with back-off
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: the notification channel (notification_channels.id) for wecom/dingtalk/feishu/sms/email rows
    channel_id: Mapped[int | None] = mapped_column()
