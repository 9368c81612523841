"""Drivers in words with units: "vibration 3.9 mm/s, up 60 % in 14 days", not ``vibration_mm_s__level``.

A feature key is ``{field}__{stat}`` (:mod:`predict.features`), ``events_{type}`` or ``since_repair``; the
field's name (zh/en) and unit come from the contract (``FIELD_NAMES``, ``SCHEMAS``). The change over the window is
``trend × window / level`` (trend in units per day), or ``trend × window`` in the unit for °C (no true zero). A
reading relative to its peers (``{field}__vs_peers_{stat}``) reads "3.1 °C above its peers' median". Chinese first (``lang="zh"``), English by choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from facility.contract import FIELD_NAMES, SCHEMAS, AssetKind, FieldSpec

STAT_EN = {"level": "mean", "spread": "spread", "min": "min", "max": "max", "trend": "trend"}
#: units without a true zero: a change is stated in the unit ("down 1.5 °C"), never in per cent
INTERVAL_UNITS = frozenset({"°C"})
#: a feature relative to the same-time median of the asset's peers: ``{field}__vs_peers_{stat}`` (a reading that
#: follows the weather says nothing about one asset until the fleet's common level is taken away)
PEERS = "vs_peers_"
STAT_ZH = {"level": "均值", "spread": "波动", "min": "最小", "max": "最大", "trend": "趋势"}


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    mag = abs(value)
    return f"{value:.0f}" if mag >= 100 else f"{value:.1f}" if mag >= 1 else f"{value:.2f}"


def _spec(kind: AssetKind | str, name: str) -> FieldSpec | None:
    try:
        return SCHEMAS[AssetKind(kind)].by_name.get(name)
    except ValueError:
        return None


def _label(kind: AssetKind | str, name: str, lang: str) -> str:
    try:
        zh, en = FIELD_NAMES[AssetKind(kind)][name]
    except (KeyError, ValueError):
        return name.replace("_", " ")
    return zh if lang == "zh" else en.lower()


def _unit(spec: FieldSpec | None) -> str:
    if spec is None or spec.unit in ("count", "bool"):
        return ""
    return spec.unit if spec.unit == "%" else f" {spec.unit}"


def describe(
    kind: AssetKind | str, key: str, row: Mapping[str, float], window_days: float, lang: str = "zh"
) -> str:
    """One driver in words; ``row`` holds the asset's covariates (for the change over the window)."""
    value = float(row.get(key, math.nan))
    w = f"{window_days:g}"
    if key == "since_repair":
        return f"距上次维修 {_fmt(value)} 天" if lang == "zh" else f"{_fmt(value)} days since the last repair"
    if key.startswith("events_"):
        etype = key[len("events_") :]
        if lang == "zh":
            return f"{w} 天内{'故障' if etype == 'fault' else '告警'} {value:.0f} 次"
        return f"{value:.0f} {etype}s in {w} days"
    name, _, stat = key.partition("__")
    spec = _spec(kind, name)
    label, unit = _label(kind, name, lang), _unit(spec)
    if stat.startswith(PEERS):
        return _vs_peers(label, unit, stat[len(PEERS) :], value, w, lang)
    if stat == "rate":
        return f"{label} 每天 {_fmt(value)}" if lang == "zh" else f"{label} {_fmt(value)} a day"
    if stat == "trend":
        return (
            f"{label}每天变化 {_fmt(value)}{unit}"
            if lang == "zh"
            else f"{label} changing {_fmt(value)}{unit} a day"
        )
    if stat == "level":
        text = f"{label} {_fmt(value)}{unit}"
        trend, level = row.get(f"{name}__trend"), value
        if spec is not None and spec.unit in INTERVAL_UNITS and trend is not None and math.isfinite(trend):
            change = trend * window_days  # °C has no true zero: a change in degrees, not in per cent
            if abs(change) >= 0.05:
                if lang == "zh":
                    return f"{text}，{w} 天内{'上升' if change > 0 else '下降'} {_fmt(abs(change))}{unit}"
                return f"{text}, {'up' if change > 0 else 'down'} {_fmt(abs(change))}{unit} in {w} days"
            return text
        if trend is not None and math.isfinite(trend) and math.isfinite(level) and abs(level) > 1e-9:
            pct = 100.0 * trend * window_days / abs(level)
            if abs(pct) >= 1:
                if lang == "zh":
                    return f"{text}，{w} 天内{'上升' if pct > 0 else '下降'} {abs(pct):.0f}%"
                return f"{text}, {'up' if pct > 0 else 'down'} {abs(pct):.0f} % in {w} days"
        return text
    stat_word = (STAT_ZH if lang == "zh" else STAT_EN).get(stat, stat)
    if lang == "zh":
        return f"{label} {w} 天{stat_word} {_fmt(value)}{unit}"
    return f"{label} {w}-day {stat_word} {_fmt(value)}{unit}"


def _vs_peers(label: str, unit: str, stat: str, value: float, w: str, lang: str) -> str:
    """``{field}__vs_peers_{stat}``: how far the asset is from the same-time median of its peers."""
    what = label
    if stat != "level":
        word = (STAT_ZH if lang == "zh" else STAT_EN).get(stat, stat)
        what = f"{label} {w} 天{word}" if lang == "zh" else f"{label} {w}-day {word}"
    amount = f"{_fmt(abs(value))}{unit}"
    if lang == "zh":
        return f"{what}比同类设备中位数{'高' if value >= 0 else '低'} {amount}"
    return f"{what} {amount} {'above' if value >= 0 else 'below'} its peers' median"
