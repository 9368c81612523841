"""Appeals: a company objects to one record behind a figure; an engineer or supervisor accepts or rejects it
with a reason; an accepted objection changes the figures, and for a published month a correction entry
naming the entry it corrects is appended to the ledger (docs/evaluation.md, "Appeals").

What an accepted objection does to its record (``apply``):
* a work order (wrongly marked late, not the company's fault) is left out of every figure, as a cancelled
  order is;
* a state interval (an outage that was planned) counts as in working order;
* a device event episode (a false report) is left out with its events;
* an external value (a survey row) is left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from evaluation.inputs import AssetState, Dataset
from evaluation.metrics import CATALOGUE
from evaluation.periods import parse_period
from evaluation.tables import ObjectionRow
from evaluation.timeline import interval_ref

if TYPE_CHECKING:
    from evaluation.ratings import Ratings
    from maintenance.db import Database

STATUSES = ("open", "accepted", "rejected")


class ObjectionError(ValueError):
    """An objection that cannot be filed or decided; the message says why."""


class ObjectionConflict(ObjectionError):
    """Deciding an objection that was decided already."""


@dataclass(frozen=True)
class Objection:
    id: int
    period: str
    entity: str
    entity_id: str
    metric: str
    record: str
    reason: str
    filed_by: str
    filed_at: dt.datetime
    status: str
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision: str | None = None
    correction_seq: int | None = None


def _objection(r: ObjectionRow) -> Objection:
    return Objection(**{f.name: getattr(r, f.name) for f in dataclasses.fields(Objection)})


def apply(ds: Dataset, records: frozenset[str]) -> Dataset:
    """``ds`` with the accepted objections' records treated as the module docstring says."""
    if not records:
        return ds
    episodes = {r for r in records if ":" in r and "@" in r}

    def in_episode(e: object) -> bool:
        asset, code, ts = getattr(e, "asset_id", ""), getattr(e, "code", ""), getattr(e, "ts", None)
        return any(
            ref.startswith(f"{asset}:{code}@") and ts is not None and ts.isoformat() >= ref.split("@", 1)[1]
            for ref in episodes
        )

    return dataclasses.replace(
        ds,
        intervals=tuple(
            dataclasses.replace(i, state=AssetState.IN_SERVICE) if interval_ref(i) in records else i
            for i in ds.intervals
        ),
        orders=tuple(o for o in ds.orders if o.order_id not in records),
        events=tuple(e for e in ds.events if not in_episode(e)),
        external=tuple(x for x in ds.external if f"{x.estate}:{x.indicator}@{x.month}" not in records),
    )


class Appeals:
    """Objections in the relational store (table ``rating_objections``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def accepted_records(self, period: str) -> frozenset[str]:
        with self.db.transaction() as s:
            q = sa.select(ObjectionRow.record).where(
                ObjectionRow.period == period, ObjectionRow.status == "accepted"
            )
            return frozenset(s.scalars(q))

    def list(self, period: str | None = None, status: str | None = None) -> list[Objection]:
        q = sa.select(ObjectionRow).order_by(ObjectionRow.id)
        if period:
            q = q.where(ObjectionRow.period == period)
        if status:
            q = q.where(ObjectionRow.status == status)
        with self.db.transaction() as s:
            return [_objection(r) for r in s.scalars(q)]

    def get(self, objection_id: int) -> Objection:
        with self.db.transaction() as s:
            row = s.get(ObjectionRow, objection_id)
            if row is None:
                raise KeyError(f"there is no objection {objection_id}")
            return _objection(row)

    def file(
        self,
        ratings: Ratings,
        period: str,
        entity: str,
        entity_id: str,
        metric: str,
        record: str,
        reason: str,
        by: str,
        now: dt.datetime,
    ) -> Objection:
        """File an objection to ``record`` behind ``metric`` of one estate or company in one month. Refused
        unless the record is one of the records behind that figure (so never outside the period or scope)."""
        try:
            p = parse_period(period)
        except ValueError as exc:
            raise ObjectionError(str(exc)) from None
        if p.granularity != "month":
            raise ObjectionError(f"object to a month's figure (2026-10), not to {p.label}")
        if entity not in ("estate", "company"):
            raise ObjectionError(f"entity must be 'estate' or 'company', not {entity!r}")
        if metric not in CATALOGUE:
            raise ObjectionError(f"unknown metric {metric!r}; see GET /ratings/metrics")
        if not reason.strip():
            raise ObjectionError("say why the record is wrong (reason)")
        if p.start >= now:
            raise ObjectionError(f"{p.label} has not begun: there is nothing to object to yet")
        found = ratings.month(p, now).find(entity, entity_id)
        if found is None:
            raise ObjectionError(f"no {entity} {entity_id!r} is rated in {p.label}")
        evidence = found.score.metrics[metric].evidence
        if record not in evidence:
            raise ObjectionError(
                f"record {record!r} is not behind {metric} of {entity} {entity_id} in {p.label} (it lies outside "
                f"the period or the scope); the {len(evidence)} records behind it are listed by GET "
                f"/ratings/monthly/{p.label}/{entity}/{entity_id}/metrics/{metric}"
            )
        with self.db.transaction() as s:
            row = ObjectionRow(period=p.label, entity=entity, entity_id=entity_id, metric=metric, record=record,
                               reason=reason.strip(), filed_by=by, filed_at=now, status="open")  # fmt: skip
            s.add(row)
            s.flush()
            return _objection(row)

    def decide(
        self, ratings: Ratings, objection_id: int, accept: bool, reason: str, by: str, now: dt.datetime
    ) -> Objection:
        """Accept or reject an open objection with a reason (not by whoever filed it). Accepting one for a
        published month appends a correction of that month to the ledger, recorded on the objection."""
        if not reason.strip():
            raise ObjectionError("say why the objection is accepted or rejected (reason)")
        o = self.get(objection_id)
        if o.status != "open":
            raise ObjectionConflict(f"objection {o.id} was already {o.status} by {o.decided_by}")
        if o.filed_by == by:
            raise ObjectionError(f"objection {o.id} was filed by {by}: someone else decides it")
        with self.db.transaction() as s:
            row = s.get(ObjectionRow, objection_id, with_for_update=True)
            if row is None or row.status != "open":
                raise ObjectionConflict(f"objection {objection_id} was decided meanwhile")
            row.status = "accepted" if accept else "rejected"
            row.decided_by, row.decided_at, row.decision = by, now, reason.strip()
        seq = None
        if accept and ratings.published_month(o.period) is not None:
            why = f"objection {o.id} accepted: {reason.strip()} (record {o.record} of {o.metric})"
            seq = ratings.correct(parse_period(o.period), now, now, why).seq
            with self.db.transaction() as s:
                row = s.get(ObjectionRow, objection_id)
                assert row is not None
                row.correction_seq = seq
        return self.get(objection_id)
