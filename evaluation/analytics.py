"""A periodic ratings step for the demo and services: score the running month and the last one, and give
rows in the shape of the dashboards' ``ratings`` measurement (``dashboards.export.export_ratings``).

Wiring (the worker's ``ratings`` job, runtime/tasks.py)::

    rows = evaluation.analytics.ratings_step(settings, db, now)
    dashboards.export.export_ratings(influx, rows, now)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from evaluation.periods import ZONE, month, quarter_of
from evaluation.ratings import MonthResult
from evaluation.scoring import QuarterResult
from evaluation.wiring import build
from facility.settings import Settings


def dashboard_rows(res: MonthResult, quarter: list[QuarterResult]) -> list[dict[str, Any]]:
    """One row per scored estate and company: tags company, estate ("" for a company), group, colour."""
    colours = {(q.entity, q.id): q.colour for q in quarter}
    rows = []
    for r in (*res.estates, *res.companies):
        s = r.score
        if s.score is None:
            continue
        company = res.owner.get(s.id, "") if s.entity == "estate" else s.id
        rows.append(
            {
                "company": company,
                "estate": s.id if s.entity == "estate" else "",
                "group": s.group,
                "colour": colours.get((s.entity, s.id)) or "none",
                "score": round(s.score, 4),
                "rank_in_group": r.rank_in_group,
                # Grafana shows the period as text: a provisional one says so there too
                "period": res.period.label + (" 暂定 provisional" if res.provisional else ""),
            }
        )
    return rows


def ratings_step(
    settings: Settings, db: Any, now: dt.datetime, influx: Any | None = None
) -> list[dict[str, Any]]:
    """Scores of the month containing ``now`` (to date) with its quarter-to-date colours."""
    ev = build(settings, db=db, influx=influx)
    try:
        local = now.astimezone(ZONE)  # the month on the estates' calendar
        p = month(local.year, local.month)
        res = ev.ratings.month(p, now)
        return dashboard_rows(res, ev.ratings.quarter(quarter_of(p), now))
    finally:
        ev.close()
