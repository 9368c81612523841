"""From an indicator's evidence ids back to the records behind them: state intervals, work orders, device
event episodes and external values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evaluation.inputs import Dataset
from evaluation.timeline import interval_ref


def _iso(x: Any) -> Any:
    return x.isoformat() if hasattr(x, "isoformat") else x


def explain(ds: Dataset, evidence: Iterable[str]) -> list[dict[str, Any]]:
    """One dict per evidence id, ``type`` saying what it is (``unknown`` if it is not in the dataset)."""
    orders = {o.order_id: o for o in ds.orders}
    intervals = {interval_ref(i): i for i in ds.intervals}
    external = {f"{x.estate}:{x.indicator}@{x.month}": x for x in ds.external}
    assets = {a.asset_id: a for a in ds.assets}
    out: list[dict[str, Any]] = []
    for ref in evidence:
        if ref in orders:
            o = orders[ref]
            fields = {("order_type" if k == "type" else k): _iso(v) for k, v in o.__dict__.items()}
            out.append(fields | {"type": "order", "id": ref})
        elif ref in intervals:
            i = intervals[ref]
            out.append({"type": "state_interval", "id": ref, "asset_id": i.asset_id, "state": i.state.value,
                        "start": _iso(i.start), "end": _iso(i.end), "order_id": i.order_id})  # fmt: skip
        elif ref in assets:  # an asset not observed in the period (monitoring_coverage)
            a = assets[ref]
            since = a.monitored_since if a.monitored else None
            out.append({"type": "asset", "id": ref, "asset_id": ref, "kind": a.kind, "installed": _iso(a.installed),
                        "monitored_since": _iso(since), "monitored": a.monitored})  # fmt: skip
        elif ref in external:
            x = external[ref]
            out.append({"type": "external", "id": ref} | x.__dict__)
        elif ":" in ref and "@" in ref:
            asset, rest = ref.split(":", 1)
            code, at = rest.split("@", 1)
            evs = [
                {"type": e.type, "ts": _iso(e.ts), "detail": e.detail, "outcome": e.outcome}
                for e in ds.events
                if e.asset_id == asset and e.code == code and _iso(e.ts) >= at
            ][:10]
            out.append(
                {
                    "type": "event_episode",
                    "id": ref,
                    "asset_id": asset,
                    "code": code,
                    "start": at,
                    "events": evs,
                }
            )
        else:
            out.append({"type": "unknown", "id": ref})
    return out
