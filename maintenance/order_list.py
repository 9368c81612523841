"""The engineer's order list: filters, sort and paging as one value, turned into one SQL query."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import AssetKind
from maintenance.domain import OrderState, OrderType, Priority
from maintenance.models import Asset, Order


class OrderSort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    PRIORITY = "priority"
    SCHEDULED = "scheduled"


_ORDERINGS: dict[OrderSort, tuple[sa.ColumnElement[Any], ...]] = {
    OrderSort.NEWEST: (Order.opened_at.desc(), Order.id.desc()),
    OrderSort.OLDEST: (Order.opened_at.asc(), Order.id.asc()),
    OrderSort.PRIORITY: (Order.priority.asc(), Order.opened_at.asc(), Order.id.asc()),
    # planned ones first, soonest first; unplanned after them
    OrderSort.SCHEDULED: (Order.scheduled_for.is_(None), Order.scheduled_for.asc(), Order.id.asc()),
}


@dataclass(frozen=True)
class OrderFilter:
    """Which orders, in what order, which page. Empty tuples mean "any"."""

    estates: tuple[str, ...] = ()
    kinds: tuple[AssetKind, ...] = ()
    types: tuple[OrderType, ...] = ()
    states: tuple[OrderState, ...] = ()
    priorities: tuple[Priority, ...] = ()
    crews: tuple[str, ...] = ()
    asset_id: str | None = None
    #: words that must appear in the title, the asset id or the asset's location (case-insensitive)
    text: str = ""
    sort: OrderSort = OrderSort.NEWEST
    limit: int = 200
    offset: int = 0
    #: a crew member sees only their crew's orders (set by the API from the caller, not by the caller)
    only_crew: str | None = field(default=None)

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 5000:
            raise ValueError(f"limit must be 1..5000, got {self.limit}")
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}")


def _where(f: OrderFilter) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if f.only_crew is not None:
        conds.append(Order.crew_id == f.only_crew)
    if f.estates:
        conds.append(Asset.estate_id.in_(f.estates))
    if f.kinds:
        conds.append(Asset.kind.in_([k.value for k in f.kinds]))
    if f.types:
        conds.append(Order.type.in_([t.value for t in f.types]))
    if f.states:
        conds.append(Order.state.in_([s.value for s in f.states]))
    if f.priorities:
        conds.append(Order.priority.in_([p.value for p in f.priorities]))
    if f.crews:
        conds.append(Order.crew_id.in_(f.crews))
    if f.asset_id is not None:
        conds.append(Order.asset_id == f.asset_id)
    for word in f.text.split():
        like = f"%{word.lower()}%"
        conds.append(
            sa.or_(
                sa.func.lower(Order.title).like(like),
                sa.func.lower(Order.asset_id).like(like),
                sa.func.lower(Asset.location).like(like),
            )
        )
    return conds


def find_orders(session: Session, f: OrderFilter) -> tuple[list[Order], int]:
    """One page of the orders matching ``f`` and how many match in all."""
    conds = _where(f)
    base = sa.select(Order).join(Asset, Order.asset_id == Asset.id).where(*conds)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    page = session.scalars(base.order_by(*_ORDERINGS[f.sort]).limit(f.limit).offset(f.offset))
    return list(page), int(total)
