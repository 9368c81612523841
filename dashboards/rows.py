"""Turn the store's and the predictor's records into the plain rows ``dashboards.export`` writes.

Pure functions: they read attributes or keys (objects such as ``predict.forecast.Forecast`` and
``maintenance.queries.StateInterval``, or the API's JSON), look assets up in the fleet, and aggregate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from facility.fleet import Fleet

#: order states that are no longer open work
FINISHED_ORDER_STATES = frozenset({"resolved", "verified", "closed", "cancelled"})
#: asset states of the maintenance timeline -> the intactness field that counts them
STATE_FIELDS = {
    "in_service": "in_service",
    "faulted": "faulted",
    "under_maintenance": "maintenance",
    "offline": "offline",
}


def _get(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def _hours(start: Any, now: Any) -> float | None:
    return None if start is None else round((start - now).total_seconds() / 3600, 3)


def forecast_rows(forecasts: Iterable[Any], fleet: Fleet) -> list[dict[str, Any]]:
    """Rows for ``forecasts`` from forecasts with ``asset, now, p_fail{7,30,90}, window_start/end, risk``."""
    refs = {a.id: a.ref for a in fleet.assets}
    rows = []
    for f in forecasts:
        ref = refs.get(_get(f, "asset"))
        if ref is None:
            continue  # an asset no longer in the fleet
        p = _get(f, "p_fail") or {}
        now = _get(f, "now")
        rows.append(
            {
                "estate": ref.estate,
                "building": ref.building,
                "kind": ref.kind.value,
                "asset": ref.asset,
                "p7": p.get(7),
                "p30": p.get(30),
                "p90": p.get(90),
                "window_start_h": _hours(_get(f, "window_start"), now),
                "window_end_h": _hours(_get(f, "window_end"), now),
                "risk": _get(f, "risk"),
            }
        )
    return rows


def work_order_rows(orders: Iterable[Any], fleet: Fleet) -> list[dict[str, Any]]:
    """Open orders counted per (estate, kind, state, priority), with how many breach their SLA.

    Each order has ``asset_id``, ``state``, ``priority`` and either ``sla`` (the API's
    ``{response_breached, resolution_breached}``) or a boolean ``breached``.
    """
    refs = {a.id: a.ref for a in fleet.assets}
    open_: Counter[tuple[str, str, str, str]] = Counter()
    breached: Counter[tuple[str, str, str, str]] = Counter()
    for o in orders:
        ref = refs.get(_get(o, "asset_id"))
        state = str(_get(o, "state"))
        if ref is None or state in FINISHED_ORDER_STATES:
            continue
        key = (ref.estate, ref.kind.value, state, str(_get(o, "priority")))
        open_[key] += 1
        sla = _get(o, "sla")
        late = (
            bool(_get(sla, "response_breached") or _get(sla, "resolution_breached"))
            if sla is not None
            else bool(_get(o, "breached"))
        )
        breached[key] += int(late)
    return [
        {"estate": e, "kind": k, "state": s, "priority": p, "open": n, "breached": breached[(e, k, s, p)]}
        for (e, k, s, p), n in sorted(open_.items())
    ]


def intactness_rows(states: Iterable[Any], fleet: Fleet) -> list[dict[str, Any]]:
    """Assets per (estate, kind) by current state, from records with ``asset_id`` (or ``asset``) and ``state``.

    Every asset of the fleet counts; one without a record counts as in service. ``intact_pct`` is the share in
    service, in percent.
    """
    current = {str(_get(r, "asset_id") or _get(r, "asset")): str(_get(r, "state")) for r in states}
    groups: dict[tuple[str, str], Counter[str]] = {}
    for a in fleet.assets:
        field = STATE_FIELDS.get(current.get(a.id, "in_service"), "offline")
        groups.setdefault((a.ref.estate, a.kind.value), Counter())[field] += 1
    rows = []
    for (estate, kind), c in sorted(groups.items()):
        total = sum(c.values())
        rows.append(
            {
                "estate": estate,
                "kind": kind,
                "assets": total,
                **{f: c[f] for f in ("in_service", "faulted", "maintenance", "offline")},
                "intact_pct": round(100.0 * c["in_service"] / total, 3),
            }
        )
    return rows
