"""External indicators the facility data cannot see: surveys, the 12345 hotline, inspections.

Imported per estate and month from CSV (``estate,month,indicator,value[,count][,source]``) or the API.
Aggregation over several estates (a company) or months (a quarter): shares and scores are averaged,
weighted by ``count`` when every value has one (else a plain mean); counts are summed.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.inputs import ExternalValue
from evaluation.metric_types import MetricValue


@dataclass(frozen=True)
class ExternalSpec:
    name: str
    unit: str  # share (0..1) | score (0..100) | count
    minimum: float
    maximum: float
    description: str


EXTERNAL: dict[str, ExternalSpec] = {
    s.name: s
    for s in (
        ExternalSpec("resident_satisfaction", "share", 0, 1, "share of residents satisfied (survey)"),
        ExternalSpec(
            "complaint_handling_satisfaction", "share", 0, 1, "satisfaction with complaint handling"
        ),
        ExternalSpec(
            "hotline_complaints", "count", 0, 1e6, "12345 hotline complaints about property services"
        ),
        ExternalSpec("hotline_handled_rate", "share", 0, 1, "share of hotline complaints handled in time"),
        ExternalSpec("inspection_score", "score", 0, 100, "street-office inspection result"),
    )
}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ExternalError(ValueError):
    pass


def validate(rec: Mapping[str, Any], where: str) -> ExternalValue:
    """One record from CSV or JSON; shares may be given as percentages (85 → 0.85)."""
    for key in ("estate", "month", "indicator", "value"):
        if rec.get(key) in (None, ""):
            raise ExternalError(
                f"{where}: missing '{key}' (columns: estate,month,indicator,value[,count][,source])"
            )
    name = str(rec["indicator"]).strip()
    spec = EXTERNAL.get(name)
    if spec is None:
        raise ExternalError(f"{where}: unknown indicator {name!r}; expected one of {sorted(EXTERNAL)}")
    month = str(rec["month"]).strip()
    if not _MONTH.match(month):
        raise ExternalError(f"{where}: month {month!r} is not like 2026-10")
    try:
        value = float(str(rec["value"]).strip().rstrip("%"))
        count = int(float(rec.get("count") or 0))
    except ValueError:
        raise ExternalError(
            f"{where}: value {rec['value']!r} / count {rec.get('count')!r} must be numbers"
        ) from None
    if not math.isfinite(value):
        raise ExternalError(f"{where}: value must be finite")
    if spec.unit == "share" and 1 < value <= 100:
        value = value / 100
    if not spec.minimum <= value <= spec.maximum:
        raise ExternalError(f"{where}: {name}={value} is outside [{spec.minimum}, {spec.maximum}]")
    if count < 0:
        raise ExternalError(f"{where}: count must be >= 0")
    return ExternalValue(str(rec["estate"]).strip(), month, name, value, count, str(rec.get("source") or ""))


def parse_csv(text: str, known_estates: Iterable[str] | None = None) -> list[ExternalValue]:
    """All rows or none: the first bad row raises with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"estate", "month", "indicator", "value"} - set(reader.fieldnames or ())
    if missing:
        raise ExternalError(
            f"CSV header lacks {sorted(missing)}: expected estate,month,indicator,value[,count][,source]"
        )
    estates = set(known_estates) if known_estates is not None else None
    out: list[ExternalValue] = []
    for n, row in enumerate(reader, start=2):
        rec = validate(row, f"line {n}")
        if estates is not None and rec.estate not in estates:
            raise ExternalError(f"line {n}: unknown estate {rec.estate!r}; the fleet has {sorted(estates)}")
        out.append(rec)
    return out


def aggregate(values: Sequence[ExternalValue], indicator: str, months: Iterable[str]) -> MetricValue:
    spec = EXTERNAL[indicator]
    wanted = set(months)
    vals = [v for v in values if v.indicator == indicator and v.month in wanted]
    refs = tuple(f"{v.estate}:{v.indicator}@{v.month}" for v in vals)
    if not vals:
        return MetricValue(indicator, None, spec.unit, note="no data")
    if spec.unit == "count":
        total = sum(v.value for v in vals)
        return MetricValue(indicator, total, spec.unit, total, len(vals), refs)
    if all(v.count > 0 for v in vals):
        w = sum(v.count for v in vals)
        num = sum(v.value * v.count for v in vals)
        return MetricValue(indicator, num / w, spec.unit, num, w, refs)
    num = sum(v.value for v in vals)
    return MetricValue(indicator, num / len(vals), spec.unit, num, len(vals), refs)
