"""The rating service: monthly scores and rankings, quarterly colours, publication to the ledger.

Used by the CLI and the API; it holds no state besides its collaborators. Quarterly colours use the
*published* monthly scores from the ledger where a month is published (its latest correction), so a
colour can be traced to immutable entries; unpublished months are computed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from evaluation.appeals import Appeals, apply
from evaluation.inputs import Dataset
from evaluation.ledger import Entry, Ledger
from evaluation.periods import Period, quarter_of
from evaluation.scheme import Scheme
from evaluation.scopes import quarter_results
from evaluation.scoring import (
    EntityScore,
    IndicatorResult,
    QuarterResult,
    Ranked,
    rank,
    rank_quarter,
    score_entity,
    score_month,
)
from evaluation.source import Source


@dataclass(frozen=True)
class MonthResult:
    period: Period
    as_of: dt.datetime
    estates: tuple[Ranked, ...]
    companies: tuple[Ranked, ...]
    #: estate id → company id
    owner: dict[str, str]
    #: why the month is provisional ("" when final): not over yet, or too little of it observed
    provisional: str = ""

    def find(self, entity: str, entity_id: str) -> Ranked | None:
        pool = self.estates if entity == "estate" else self.companies
        return next((r for r in pool if r.score.id == entity_id), None)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


class ProvisionalError(ValueError):
    """Publishing a provisional period without saying so."""


def provisional_reason(period: Period, as_of: dt.datetime, observed: float | None, scheme: Scheme) -> str:
    """Why ``period`` is provisional at ``as_of`` ("" when final): it has not ended, or less than the scheme's
    ``complete_coverage`` of its assets' hours was observed (``monitoring_coverage``; None: nothing to see)."""
    if as_of < period.end:
        return f"{period.label} has not ended (it ends {period.end_text()})"  # the estates' midnight
    if observed is not None and observed < scheme.complete_coverage:
        return (
            f"only {observed:.1%} of {period.label}'s asset-hours were observed (final needs "
            f"{scheme.complete_coverage:.0%})"
        )
    return ""


def observed_share(scores: list[EntityScore]) -> float | None:
    """The fleet's monitoring coverage from its estates' figures (None: no estate has one)."""
    num = den = 0.0
    for s in scores:
        m = s.metrics.get("monitoring_coverage")
        if s.entity == "estate" and m is not None:
            num, den = num + m.numerator, den + m.denominator
    return num / den if den > 0 else None


def score_record(r: Ranked, provisional: str = "") -> dict[str, Any]:
    s = r.score
    return {
        "provisional": bool(provisional),
        "entity": s.entity,
        "id": s.id,
        "name": s.name,
        "group": s.group,
        "score": _r(s.score),
        "coverage": _r(s.coverage),
        "monitoring_coverage": _r(mc.value) if (mc := s.metrics.get("monitoring_coverage")) else None,
        "rank_overall": r.rank_overall,
        "rank_in_group": r.rank_in_group,
        "group_size": r.group_size,
        "weight": s.weight,
        "company": s.parent or None,
        "indicators": [
            {
                "name": i.name,
                "metric": i.metric,
                "value": _r(i.value),
                "points": _r(i.points),
                "weight": i.weight,
                "effective_weight": _r(i.effective_weight),
                "contribution": _r(i.contribution),
                "raw": _r(i.raw),
                "interval": None if i.low is None else [_r(i.low), _r(i.high)],
                "note": i.note,
            }
            for i in s.indicators
        ],
    }


def quarter_record(
    q: QuarterResult, ranks: tuple[int | None, int | None, int] | None = None
) -> dict[str, Any]:
    overall, in_group, size = ranks or (None, None, 0)
    return {
        "rank_overall": overall,
        "rank_in_group": in_group,
        "group_size": size,
        "entity": q.entity,
        "id": q.id,
        "name": q.name,
        "group": q.group,
        "company": q.parent or None,
        "average": q.average,
        "provisional": bool(q.provisional),
        "provisional_reason": q.provisional,
        "colour": q.colour,
        "monthly": [{"period": p, "score": _r(s)} for p, s in q.monthly],
        "inspection": q.inspection.describe() if q.inspection else None,
        "inspections_per_month": q.inspection.per_month if q.inspection else None,
        "weekly": q.inspection.weekly if q.inspection else None,
        "rectification_plan": q.inspection.rectification_plan if q.inspection else None,
    }


def quarter_records(results: list[QuarterResult]) -> list[dict[str, Any]]:
    """Records ranked by quarterly average (overall and in group, per kind of entity), best first."""
    ranks = rank_quarter(results)
    recs = [quarter_record(q, ranks.get((q.entity, q.id))) for q in results]
    return sorted(
        recs,
        key=lambda r: (r["entity"] != "estate", r["rank_overall"] is None, r["rank_overall"] or 0, r["id"]),
    )


@dataclass
class Ratings:
    source: Source
    scheme: Scheme
    ledger: Ledger
    #: accepted objections change the records they name (``evaluation/appeals.py``)
    appeals: Appeals | None = None

    def scheme_ref(self) -> dict[str, str]:
        return {"name": self.scheme.name, "version": self.scheme.version, "sha256": self.scheme.sha256}

    def dataset(self, period: Period, as_of: dt.datetime) -> Dataset:
        ds = self.source.dataset(period, as_of)
        if self.appeals is None:
            return ds
        return apply(
            ds, frozenset().union(*(self.appeals.accepted_records(m.label) for m in period.months()))
        )

    def month(self, period: Period, as_of: dt.datetime, ds: Dataset | None = None) -> MonthResult:
        if period.granularity != "month":
            raise ValueError(f"scores are monthly: give a month like 2026-10, not {period.label}")
        ds = ds or self.dataset(period, as_of)
        scores = score_month(ds, period, self.scheme, as_of)
        estates = rank([s for s in scores if s.entity == "estate"])
        companies = rank([s for s in scores if s.entity == "company"])
        owner = {a.estate: a.company for a in ds.assets}
        why = provisional_reason(period, as_of, observed_share(scores), self.scheme)
        return MonthResult(period, as_of, tuple(estates), tuple(companies), owner, why)

    def published_month(self, label: str) -> Entry | None:
        return self.ledger.latest(label, "monthly")

    def quarter(self, quarter: Period, as_of: dt.datetime) -> list[QuarterResult]:
        """Colours from each month's published scores when published, else computed now; every result
        carries why the quarter is provisional ("" when final)."""
        if quarter.granularity == "month":
            quarter = quarter_of(quarter)
        if quarter.granularity != "quarter":
            raise ValueError(f"colours are quarterly: give a quarter like 2026Q4, not {quarter.label}")
        per_entity: dict[tuple[str, str], list[EntityScore]] = {}
        why = provisional_reason(quarter, as_of, None, self.scheme)
        for m in quarter.months():
            if m.start >= as_of:
                continue
            scores = self.month_scores(m, as_of)
            entry = self.published_month(m.label)
            month_why = (
                str(entry.data().get("provisional_reason") or "")
                if entry is not None
                else provisional_reason(m, as_of, observed_share(scores), self.scheme)
            )
            why = why or month_why
            for s in scores:
                per_entity.setdefault((s.entity, s.id), []).append(s)
        return [replace(q, provisional=why) for q in quarter_results(per_entity, quarter, self.scheme)]

    def month_scores(self, m: Period, as_of: dt.datetime) -> list[EntityScore]:
        """The month's scores: as published (latest correction) when published, else computed."""
        entry = self.published_month(m.label)
        if entry is None:
            res = self.month(m, as_of)
            return [r.score for r in (*res.estates, *res.companies)]
        return self._published_scores(entry, m)

    def entity_month(self, entity: str, entity_id: str, m: Period, as_of: dt.datetime) -> EntityScore | None:
        """One estate's or company's month, as :meth:`month_scores` gives it, but computing only that entity
        when the month is not published (no ranking): a report's trend needs no other entity's score."""
        entry = self.published_month(m.label)
        if entry is not None:
            return next(
                (s for s in self._published_scores(entry, m) if (s.entity, s.id) == (entity, entity_id)), None
            )
        ds = self.dataset(m, as_of)
        if not any((a.estate if entity == "estate" else a.company) == entity_id for a in ds.assets):
            return None
        return score_entity(entity, entity_id, ds, m, self.scheme, as_of)

    def _published_scores(self, entry: Entry, m: Period) -> list[EntityScore]:
        return [
            EntityScore(
                x["entity"], x["id"], x["name"], x["group"], m.label, x["score"], x["coverage"],
                tuple(
                    IndicatorResult(i["name"], i["metric"], i["weight"], i["value"], "", i["points"],
                                    i["effective_weight"], i["contribution"], ())
                    for i in x.get("indicators", ())
                ),
                {}, "", float(x.get("weight") or 1.0), x.get("company") or "",
            )
            for x in entry.data()["scores"]
        ]  # fmt: skip

    def monthly_content(self, res: MonthResult) -> dict[str, Any]:
        return {
            "scheme": self.scheme_ref(),
            "period": res.period.label,
            "as_of": res.as_of.isoformat(),
            "provisional": bool(res.provisional),
            "provisional_reason": res.provisional,
            "scores": [score_record(r, res.provisional) for r in (*res.estates, *res.companies)],
        }

    def publish(
        self, period: Period, as_of: dt.datetime, published_at: dt.datetime, provisional: bool = False
    ) -> Entry:
        """Append the month's scores, or the quarter's colours, to the ledger (once; see Ledger.append).
        A provisional period is refused unless ``provisional``; its entry says so, and a final publication
        later supersedes it as a new entry."""
        if period.granularity == "month":
            res = self.month(period, as_of)
            if all(r.score.score is None for r in (*res.estates, *res.companies)):
                raise ValueError(
                    f"nothing to publish: no estate or company has a score for {period.label} (no data)"
                )
            self._refuse_provisional(period, res.provisional, provisional)
            return self.ledger.append(period.label, "monthly", self.monthly_content(res), published_at)
        if period.granularity == "quarter":
            results = self.quarter(period, as_of)
            why = results[0].provisional if results else provisional_reason(period, as_of, None, self.scheme)
            self._refuse_provisional(period, why, provisional)
            content = {
                "scheme": self.scheme_ref(),
                "period": period.label,
                "as_of": as_of.isoformat(),
                "provisional": bool(why),
                "provisional_reason": why,
                "months_published": [m.label for m in period.months() if self.published_month(m.label)],
                "results": quarter_records(results),
            }
            return self.ledger.append(period.label, "quarterly", content, published_at)
        raise ValueError(f"publish a month (2026-10) or a quarter (2026Q4), not a {period.granularity}")

    @staticmethod
    def _refuse_provisional(period: Period, why: str, allowed: bool) -> None:
        if why and not allowed:
            raise ProvisionalError(
                f"{period.label} is provisional: {why}; publish it as provisional (--provisional) or wait until "
                "it is final"
            )

    def correct(self, period: Period, as_of: dt.datetime, published_at: dt.datetime, reason: str) -> Entry:
        """Recompute a published month and append it as a correction of the latest entry."""
        old = self.published_month(period.label)
        if old is None:
            raise ValueError(f"{period.label} is not published yet; publish it instead")
        content = self.monthly_content(self.month(period, as_of)) | {"reason": reason}
        corrected = [e for e in self.ledger.find(period.label, "monthly") if e.kind == "monthly"][-1]
        return self.ledger.append(period.label, "correction", content, published_at, corrects=corrected.seq)
