"""Tables of what happens around an order besides its state: notes, checklist ticks and photos (issue 16).

A note is also how a reschedule, a decline or a photo shows in the order's timeline (``kind``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.models import Base, UtcDateTime


class OrderNote(Base):
    __tablename__ = "order_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    #: "note" (typed by someone), "reschedule", "decline", "photo", "check"
    kind: Mapped[str] = mapped_column(sa.String(16), default="note")
    actor: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(sa.Text, default="")


class OrderCheck(Base):
    """One ticked (or unticked) checklist item of an order; ``item`` is a catalogue key or the crew's text."""

    __tablename__ = "order_checks"
    __table_args__ = (sa.UniqueConstraint("order_id", "item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    item: Mapped[str] = mapped_column(sa.String(200))
    done: Mapped[bool] = mapped_column(default=False)
    actor: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OrderPhoto(Base):
    """A photo attached to an order: the bytes are kept in the store (size-limited by the API)."""

    __tablename__ = "order_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    actor: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
