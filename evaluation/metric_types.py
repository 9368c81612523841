"""The value every metric returns: the figure, the counts behind it, and the evidence (ids) for drill-down."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

#: how close an incident's onset must be to an outage's start to be the same incident
INCIDENT_MATCH = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class MetricSettings:
    """How the metrics are computed; ``as_of`` is the evaluation clock (open intervals end there)."""

    as_of: dt.datetime
    excuse_planned: bool = True
    response_target_min: float = 15.0
    resolve_target_h: float = 24.0
    #: a preventive order created this many days before a failure counts as "preceding" it
    precede_days: float = 30.0
    #: incident codes counted by an indicator of their own: failures that began with one (same asset, onset
    #: within ``INCIDENT_MATCH`` of the outage's start) are left out of the failure counts and fault rates
    exclude_codes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware (UTC)")
        if self.response_target_min <= 0 or self.resolve_target_h <= 0:
            raise ValueError("response and resolution targets must be positive")


@dataclass(frozen=True)
class MetricValue:
    """``value`` is None when there is nothing to measure (no data): never a made-up 100 %.
    ``coverage``: for figures from the state timeline, the share of its assets' hours that were observed
    (``availability.coverage``); None for the others."""

    name: str
    value: float | None
    unit: str
    numerator: float = 0.0
    denominator: float = 0.0
    evidence: tuple[str, ...] = ()
    note: str = ""
    coverage: float | None = None

    @property
    def has_data(self) -> bool:
        return self.value is not None

    def display(self) -> str:
        if self.value is None:
            return "no data"
        if self.unit == "share":
            return f"{self.value * 100:.2f}%"
        return f"{self.value:.2f} {self.unit}".rstrip()


def ratio(
    name: str, num: float, den: float, unit: str = "share", evidence: tuple[str, ...] = (), note: str = ""
) -> MetricValue:
    """num / den, or no data when den is 0."""
    if den <= 0:
        return MetricValue(name, None, unit, num, den, evidence, note or "no data")
    return MetricValue(name, num / den, unit, num, den, evidence, note)


def nearest_rank(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank: the ceil(q·n)-th smallest value (n ≥ 1)."""
    xs = sorted(values)
    k = max(1, math.ceil(q * len(xs) - 1e-9))
    return xs[k - 1]
