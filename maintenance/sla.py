"""SLA clocks: response (acknowledged) and resolution targets, and a pure status of one order.

Both clocks start when the order opens (``opened_at``: the fault's device timestamp for automatic orders,
the report time otherwise) — except for **planned work** (an order with a scheduled window, ``window_end``: the
planner's preventive proposals). Planned work has no response clock until an engineer approves it
(``approved_at``, its first assignment); then it must be acknowledged within ``[planned] respond_hours`` of the
approval. Its resolution is due at the end of its window: "done within its window".
Response time = first acknowledgement − opened; for planned work, first acknowledgement − approval (the time a
proposal waited for approval is nobody's response time). Resolution time = first resolution − opened, for planned
work too (it is judged by its window, not by this figure). A clock is *breached* when it stopped after its due time, or is still running at
``now`` past its due time — so breaches are seen while they happen, not only afterwards.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facility.contract import AssetKind
from maintenance.domain import Priority

DEFAULT_TARGETS_FILE = Path(__file__).with_name("sla.toml")


@dataclass(frozen=True)
class SlaTarget:
    respond: dt.timedelta
    resolve: dt.timedelta
    complex_resolve: dt.timedelta

    def __post_init__(self) -> None:
        for name in ("respond", "resolve", "complex_resolve"):
            if getattr(self, name) <= dt.timedelta(0):
                raise ValueError(f"SLA target {name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class SlaRule:
    kind: AssetKind | None
    priority: Priority | None
    respond_minutes: float | None = None
    resolve_hours: float | None = None
    complex_resolve_hours: float | None = None


@dataclass(frozen=True)
class SlaTargets:
    default: SlaTarget
    rules: tuple[SlaRule, ...] = ()
    #: planned work: acknowledge within this long after approval (``[planned] respond_hours``)
    planned_respond: dt.timedelta = dt.timedelta(hours=24)

    def for_(self, kind: AssetKind, priority: Priority) -> SlaTarget:
        matching = [
            (2 * (r.kind is not None) + (r.priority is not None), i, r)
            for i, r in enumerate(self.rules)
            if r.kind in (None, kind) and r.priority in (None, priority)
        ]
        respond, resolve, complex_ = self.default.respond, self.default.resolve, self.default.complex_resolve
        for _, _, r in sorted(matching, key=lambda t: (t[0], t[1])):
            if r.respond_minutes is not None:
                respond = dt.timedelta(minutes=r.respond_minutes)
            if r.resolve_hours is not None:
                resolve = dt.timedelta(hours=r.resolve_hours)
            if r.complex_resolve_hours is not None:
                complex_ = dt.timedelta(hours=r.complex_resolve_hours)
        return SlaTarget(respond, resolve, complex_)


def parse_targets(data: dict[str, Any], source: str = "sla") -> SlaTargets:
    try:
        d = data["default"]
        default = SlaTarget(
            dt.timedelta(minutes=float(d["respond_minutes"])),
            dt.timedelta(hours=float(d["resolve_hours"])),
            dt.timedelta(hours=float(d["complex_resolve_hours"])),
        )
        rules = tuple(
            SlaRule(
                AssetKind(r["kind"]) if "kind" in r else None,
                Priority(r["priority"]) if "priority" in r else None,
                r.get("respond_minutes"),
                r.get("resolve_hours"),
                r.get("complex_resolve_hours"),
            )
            for r in data.get("rule", [])
        )
        planned = dt.timedelta(hours=float(data.get("planned", {}).get("respond_hours", 24)))
        if planned <= dt.timedelta(0):
            raise ValueError("[planned] respond_hours must be positive")
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            f"{source}: bad SLA targets ({exc!r}); [default] needs respond_minutes, resolve_hours and "
            "complex_resolve_hours, and each [[rule]] a valid kind and/or priority"
        ) from None
    return SlaTargets(default, rules, planned)


def load_targets(path: Path | None = None) -> SlaTargets:
    path = path or DEFAULT_TARGETS_FILE
    return parse_targets(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


@functools.cache
def default_targets() -> SlaTargets:
    """The targets of ``maintenance/sla.toml`` (read once)."""
    return load_targets()


@dataclass(frozen=True)
class OrderClock:
    """The timestamps an SLA needs, independent of the store."""

    kind: AssetKind
    priority: Priority
    opened_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    complex: bool = False
    #: planned work: the end of its scheduled window (None: not planned work)
    window_end: dt.datetime | None = None
    #: planned work: when an engineer approved it (its first assignment)
    approved_at: dt.datetime | None = None


@dataclass(frozen=True)
class SlaStatus:
    respond_due: dt.datetime
    resolve_due: dt.datetime
    #: minutes from opening (planned work: from approval) to the first acknowledgement (None while unacknowledged)
    response_minutes: float | None
    #: hours from opening to the first resolution (None while unresolved)
    resolution_hours: float | None
    response_breached: bool
    resolution_breached: bool

    @property
    def breached(self) -> bool:
        return self.response_breached or self.resolution_breached


def _planned_status(order: OrderClock, now: dt.datetime, targets: SlaTargets) -> SlaStatus:
    """Planned work: response from approval, resolution by the end of the window (module docstring)."""
    assert order.window_end is not None
    due = order.window_end
    ack, done = order.acknowledged_at, order.resolved_at
    if (
        order.approved_at is None
    ):  # awaiting approval: no response clock; its due is shown as the window's end
        respond_due, response_breached = due, False
    else:
        respond_due = order.approved_at + targets.planned_respond
        response_breached = (ack if ack is not None else now) > respond_due
    return SlaStatus(
        respond_due,
        due,
        None if ack is None else (ack - (order.approved_at or order.opened_at)).total_seconds() / 60,
        None if done is None else (done - order.opened_at).total_seconds() / 3600,
        response_breached,
        (done if done is not None else now) > due,
    )


def sla_status(order: OrderClock, now: dt.datetime, targets: SlaTargets) -> SlaStatus:
    if order.window_end is not None:
        return _planned_status(order, now, targets)
    target = targets.for_(order.kind, order.priority)
    respond_due = order.opened_at + target.respond
    resolve_due = order.opened_at + (target.complex_resolve if order.complex else target.resolve)

    def breached(done: dt.datetime | None, due: dt.datetime) -> bool:
        return (done if done is not None else now) > due

    return SlaStatus(
        respond_due,
        resolve_due,
        None
        if order.acknowledged_at is None
        else (order.acknowledged_at - order.opened_at).total_seconds() / 60,
        None if order.resolved_at is None else (order.resolved_at - order.opened_at).total_seconds() / 3600,
        breached(order.acknowledged_at, respond_due),
        breached(order.resolved_at, resolve_due),
    )
