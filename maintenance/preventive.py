"""Preventive orders from the planner's proposals (predict.planner.PlannedOrder).

An order proposed by the planner is created with its reasons and its scheduled window (``scheduled_for`` →
``window_end``: planned work, whose SLA is "done within its window" with no response clock until approved,
maintenance/sla.py). By default it waits in ``created`` for an engineer to approve it (approving = assigning it to a crew, ``POST /orders/{id}/assign``);
when the planner was set to auto-approve, it is assigned to the planned crew at once. An asset that already
has an open preventive or inspection order gets no second one.
The reasons are stored in Chinese and English (:func:`stored_description`); the order page and the API show the
reader's language. "Awaiting approval" is not part of them: the order page says it while the order is a proposal.

A fault that opens a corrective order for an asset supersedes its preventive proposals that are not started yet
(:func:`supersede_proposals`): they are cancelled with the note ``superseded by #<corrective id>: fault <code>``
(read in words by :func:`superseded_text`, catalogue key ``note.superseded``), so nobody approves a visit to a
broken lift.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.i18n import DEFAULT_LANGUAGE, LANGUAGES, bilingual, t
from maintenance.domain import OPEN_STATES, OrderState, OrderType, Priority
from maintenance.models import Order
from maintenance.orders import create_order, preventive_title, transition

PLANNER_ACTOR = "planner"
PLANNED_TYPES = (OrderType.PREVENTIVE.value, OrderType.INSPECTION.value)
#: a proposal's window when the planner gave no due time
DEFAULT_WINDOW = dt.timedelta(days=7)


class ReasonText(Protocol):
    """One reason of a proposal, readable in a language (predict.reasons.Reason)."""

    def text(self, lang: str | None = None) -> str: ...


class Proposal(Protocol):
    """What the planner proposes (predict.planner.PlannedOrder has these fields)."""

    @property
    def asset(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def crew(self) -> str: ...
    @property
    def start(self) -> dt.datetime: ...
    @property
    def risk(self) -> float: ...
    @property
    def probability(self) -> float: ...
    @property
    def window_start(self) -> dt.datetime | None: ...
    @property
    def window_end(self) -> dt.datetime | None: ...
    @property
    def model_version(self) -> str: ...
    @property
    def reasons(self) -> Sequence[ReasonText | str]: ...
    @property
    def requires_approval(self) -> bool: ...
    @property
    def due(self) -> dt.datetime | None: ...


def open_planned_assets(session: Session) -> set[str]:
    """Assets with an open preventive or inspection order."""
    q = sa.select(Order.asset_id).where(
        Order.type.in_(PLANNED_TYPES), Order.state.in_([s.value for s in OPEN_STATES])
    )
    return set(session.scalars(q))


def open_order_assets(session: Session) -> set[str]:
    """Assets with any open order (corrective, report, preventive or inspection): the planner proposes none."""
    q = sa.select(Order.asset_id).where(Order.state.in_([s.value for s in OPEN_STATES]))
    return set(session.scalars(q))


def _reason_lines(reasons: Sequence[ReasonText | str], lang: str) -> list[str]:
    return [r if isinstance(r, str) else r.text(lang) for r in reasons]


def description(p: Proposal, lang: str = DEFAULT_LANGUAGE) -> str:
    """The proposal's reasons in ``lang``: probability, risk against the threshold, window, drivers with units."""
    return "\n".join([t("plan.why", lang), *(f"- {r}" for r in _reason_lines(p.reasons, lang))])


def stored_description(p: Proposal) -> str:
    """What the order keeps: the description in every language (zh first), read back in the reader's language
    by :func:`facility.i18n.in_language` (the order page, the API)."""
    return bilingual({lang: description(p, lang) for lang in LANGUAGES})


def create_preventive_orders(session: Session, proposals: Sequence[Proposal], now: dt.datetime) -> list[int]:
    """Create an order per proposal (skipping assets that already have one open); returns their ids."""
    blocked = open_planned_assets(session)
    created: list[int] = []
    for p in proposals:
        if p.asset in blocked:
            continue
        order = create_order(
            session,
            asset_id=p.asset,
            type=OrderType.PREVENTIVE,
            priority=Priority.P3,
            title=preventive_title(str(p.kind), p.asset, p.risk),
            description=stored_description(p),
            actor=PLANNER_ACTOR,
            at=now,
            scheduled_for=p.start,
        )
        order.window_end = p.due or p.start + DEFAULT_WINDOW
        session.flush()
        if not p.requires_approval:
            transition(
                session, order, OrderState.ASSIGNED, PLANNER_ACTOR, now, "auto-approved", crew_id=p.crew
            )
        blocked.add(p.asset)
        created.append(order.id)
    return created


#: preventive orders a fault supersedes: a proposal awaiting approval, or approved but not started
SUPERSEDED_STATES = (OrderState.CREATED, OrderState.ASSIGNED, OrderState.ACKNOWLEDGED, OrderState.REJECTED)
_SUPERSEDED = re.compile(r"^superseded by #(?P<order>\d+): fault (?P<code>\S+)$")


def superseded_note(corrective: Order) -> str:
    """The stored (language-neutral) note of a proposal cancelled because of ``corrective``."""
    return f"superseded by #{corrective.id}: fault {corrective.fault_code or '?'}"


def superseded_text(note: str, lang: str = DEFAULT_LANGUAGE) -> str | None:
    """A :func:`superseded_note` in words (``note.superseded``), or None for any other note."""
    m = _SUPERSEDED.match(note)
    if m is None:
        return None
    code = t(f"code.{m['code']}", lang)
    return t(
        "note.superseded", lang, order=m["order"], code=code if code != f"code.{m['code']}" else m["code"]
    )


def supersede_proposals(session: Session, corrective: Order, actor: str, at: dt.datetime) -> list[int]:
    """Cancel the asset's preventive orders not yet started, superseded by ``corrective``; their ids."""
    q = sa.select(Order).where(
        Order.asset_id == corrective.asset_id,
        Order.type == OrderType.PREVENTIVE.value,
        Order.state.in_([s.value for s in SUPERSEDED_STATES]),
        Order.id != corrective.id,
    )
    done: list[int] = []
    for order in session.scalars(q.order_by(Order.id)):
        transition(session, order, OrderState.CANCELLED, actor, at, superseded_note(corrective))
        done.append(order.id)
    return done
