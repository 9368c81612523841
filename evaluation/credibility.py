"""Small exposure is not a verdict: rates shrunk toward the district's rate for the kind (Gamma–Poisson).

A rate indicator counts ``n`` incidents over ``E`` asset-months. With the district's rate ``λ_k`` per
asset-month for each kind ``k`` and the scope's exposure ``E_k`` of that kind, the prior rate is
``λ̄ = Σ λ_k E_k / E``. With ``K`` asset-months of prior exposure (the scheme's
``credibility_asset_months``) the estimate is the posterior mean of a Gamma(``K λ̄``, ``K``) prior updated with
a Poisson count::

    rate = (n + K λ̄) / (E + K)          credibility Z = E / (E + K): rate = Z · n/E + (1 − Z) · λ̄

and the 90 % interval is the posterior Gamma(``n + K λ̄``, ``E + K``)'s 5 % and 95 % quantiles. One
entrapment in 7 days of four lifts (0.93 lift-months, raw 107 per 100) is, with K = 24 and a district
rate of 2 per 100 lift-months, (1 + 0.48) / 24.93 = 5.9 per 100: a signal, not a zero.

The prior carries ``K`` asset-months of evidence only if the district has them: early in a month (or in a small
district) the district's own rate rests on a few asset-months and may be the very incident being judged (one
entrapment over 1.3 lift-months in a district of 2.6 gives a prior of 38 per 100 and 0 points). Then there is no
prior: a scope with fewer than ``K`` asset-months of its own is **not enough data** (not scored, its weight
redistributed), one with at least ``K`` is scored on its measured rate; both show the 90 % interval of the
Jeffreys posterior Gamma(``n + ½``, ``E``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import gamma

from evaluation.availability import ASSET_MONTH_H, Timelines
from evaluation.inputs import Dataset
from evaluation.metric_types import MetricValue
from evaluation.periods import Period

#: rate metric → the kind it is about (None: every kind); numerator = incidents, denominator = asset-months
RATE_METRICS: dict[str, str | None] = {
    "fault_rate_per_100_asset_months": None,
    "elevator_entrapment_rate": "elevator",
    "fire_alarm_fault_rate": "fire_alarm",
}
PER = 100.0  # the rates are per 100 asset-months


@dataclass(frozen=True)
class Priors:
    """metric → kind → the district's incidents per asset-month of that kind (no entry: no exposure)."""

    rates: dict[str, dict[str, float]]
    #: metric → kind → the district's asset-months of that kind behind the rate
    exposure: dict[str, dict[str, float]] | None = None


@dataclass(frozen=True)
class Estimate:
    value: float  # per 100 asset-months
    low: float
    high: float
    credibility: float  # E / (E + K)
    raw: float | None
    prior: float | None  # per 100 asset-months (None: the district has too little exposure for a prior)
    #: False: too little exposure here and in the district to score the rate ("not enough data")
    enough: bool = True
    exposure: float = 0.0  # the scope's asset-months
    district: float = 0.0  # the district's asset-months of the kinds concerned


def kind_ids(ds: Dataset) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a in ds.assets:
        out.setdefault(a.kind, set()).add(a.asset_id)
    return {k: frozenset(v) for k, v in out.items()}


def district_priors(per_kind: dict[str, dict[str, MetricValue]]) -> Priors:
    """``per_kind``: kind → the district's metrics over that kind's assets (``compute_all`` per kind)."""
    rates: dict[str, dict[str, float]] = {}
    exposure: dict[str, dict[str, float]] = {}
    for metric, only in RATE_METRICS.items():
        for kind, ms in per_kind.items():
            if only is not None and kind != only:
                continue
            m = ms.get(metric)
            if m is not None and m.value is not None and m.denominator > 0:
                rates.setdefault(metric, {})[kind] = m.numerator / m.denominator
                exposure.setdefault(metric, {})[kind] = m.denominator
    return Priors(rates, exposure)


def exposure_by_kind(tl: Timelines, ids: dict[str, frozenset[str]], p: Period) -> dict[str, float]:
    """Known asset-months of each kind in the scope."""
    return {k: tl.of(v).known(p) / ASSET_MONTH_H for k, v in ids.items()}


def shrink(m: MetricValue, exposure: dict[str, float], priors: Priors, k: float) -> Estimate | None:
    """The credibility estimate of rate metric ``m`` (None: not a rate, no data, or shrinkage off)."""
    if k <= 0 or m.name not in RATE_METRICS or m.value is None:
        return None
    only = RATE_METRICS[m.name]
    rates = priors.rates.get(m.name, {})
    used = {kind: e for kind, e in exposure.items() if (only is None or kind == only) and e > 0}
    total = sum(used.values())
    if total <= 0:
        return None
    n, e = m.numerator, m.denominator
    if priors.exposure is not None:
        behind = priors.exposure.get(m.name, {})
        district = sum(behind.get(kind, 0.0) for kind in used)
        if district < k:  # the prior would claim more evidence than the district has: no prior
            if e <= 0:
                return None
            low, high = _interval(n + 0.5, e)
            return Estimate(m.value, PER * low, PER * high, e / (e + k), m.value, None, e >= k, e, district)
    else:
        district = float("inf")
    prior = sum(rates.get(kind, 0.0) * x for kind, x in used.items()) / total
    shape, rate = n + k * prior, e + k
    low, high = _interval(shape, rate)
    return Estimate(
        PER * shape / rate, PER * low, PER * high, e / (e + k), m.value, PER * prior, True, e, district
    )


def _interval(shape: float, rate: float) -> tuple[float, float]:
    """The 5 % and 95 % quantiles of Gamma(shape, rate)."""
    if shape <= 0:
        return 0.0, 0.0
    return float(gamma.ppf(0.05, shape, scale=1 / rate)), float(gamma.ppf(0.95, shape, scale=1 / rate))
