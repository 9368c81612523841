"""CSV export of every figure: scores, ranks, indicator points and all metrics with their counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from evaluation.ratings import MonthResult
from evaluation.scoring import Ranked

HEADER = ("period", "entity", "id", "group", "row", "name", "value", "unit", "points", "weight",
          "effective_weight", "contribution", "numerator", "denominator", "rank_overall", "rank_in_group")  # fmt: skip


def _v(x: float | int | None) -> str:
    return "" if x is None else repr(float(x))


def rows(period: str, ranked: Iterable[Ranked]) -> Iterable[tuple[str, ...]]:
    for r in ranked:
        s = r.score
        head = (period, s.entity, s.id, s.group)
        yield (*head, "score", "score", _v(s.score), "points", "", "", "", "", "", "",
               str(r.rank_overall or ""), str(r.rank_in_group or ""))  # fmt: skip
        for i in s.indicators:
            yield (*head, "indicator", i.name, _v(i.value), i.metric, _v(i.points), _v(i.weight),
                   _v(i.effective_weight), _v(i.contribution), "", "", "", "")  # fmt: skip
        for name, m in sorted(s.metrics.items()):
            yield (
                *head,
                "metric",
                name,
                _v(m.value),
                m.unit,
                "",
                "",
                "",
                "",
                _v(m.numerator),
                _v(m.denominator),
                "",
                "",
            )


def month_csv(res: MonthResult, entity: str | None = None, entity_id: str | None = None) -> str:
    """All entities of the month, or one (``entity``/``entity_id``)."""
    picked = [
        r
        for r in (*res.estates, *res.companies)
        if (entity is None or r.score.entity == entity) and (entity_id is None or r.score.id == entity_id)
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows(res.period.label, picked))
    return buf.getvalue()
