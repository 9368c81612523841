"""Lines InfluxDB refuses, found without a round trip per line.

InfluxDB 1.x answers a batch with bad lines ``400 partial write: ...`` and **writes every other line**. The
body names what it refused:

* ``unable to parse '<line>': <why>`` for each line it could not parse (``dropped=0``);
* ``field type conflict: input field "f" on measurement "m" is type integer, already exists as type float
  dropped=N`` — only the first conflict, and then parse errors of the same request go unreported (those
  lines are not written either).

:func:`write_checked` reads that: parse errors name their lines, and a conflict names a (measurement, field,
type) that we match against our own lines. A body of parse errors only means every other line is written:
one request. After a conflict, the lines not yet known bad are written again (harmless: same identity,
same values) until a request passes or names only parse errors; only a body we cannot read at all falls back
to bisection. Conflicts are
remembered for ``ttl_s`` (:class:`Refusals`) so the next batches drop those lines before writing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from ingest.influx import InfluxRejected

_PARSE_PREFIX = "unable to parse '"
_CONFLICT = re.compile(
    r'field type conflict: input field "(.+?)" on measurement "(.+?)" is type (\w+), already exists as type (\w+)'
)
_DROPPED = re.compile(r" ?dropped=(\d+)\s*$")
#: a field value's type as InfluxDB names it
_INT, _UINT, _FLOAT, _STR, _BOOL = "integer", "unsigned", "float", "string", "boolean"
MAX_ROUNDS = 16


class LineWriter(Protocol):
    def write(self, lines: list[str], precision: str = "ms") -> None: ...


def _unescaped(s: str, ch: str, start: int = 0) -> int:
    """Index of the first ``ch`` at or after ``start`` not preceded by a backslash and outside quotes."""
    quoted = False
    i, n = start, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            return i
        i += 1
    return -1


def measurement_of(line: str) -> str:
    """The measurement of one line of line protocol (unescaped)."""
    comma, space = line.find(","), line.find(" ")
    end = min(comma, space) if comma >= 0 and space >= 0 else max(comma, space)
    head = line[:end]
    if "\\" not in head:
        return head
    end = min(i for i in (_unescaped(line, ","), _unescaped(line, " ")) if i >= 0)
    return re.sub(r"\\(.)", r"\1", line[:end])


_BOOLS = frozenset(("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"))


def _value_type(value: str) -> str:
    if value.startswith('"'):
        return _STR
    if value in _BOOLS:
        return _BOOL
    if value.endswith("i"):
        return _INT
    if value.endswith("u"):
        return _UINT
    return _FLOAT


def field_types(line: str) -> dict[str, str]:
    """``{field: type}`` of one line (types named as InfluxDB names them)."""
    if '"' not in line and "\\" not in line:  # the common case: plain splits
        parts = line.split(" ")
        if len(parts) >= 2:
            return {n: _value_type(v) for n, _, v in (f.partition("=") for f in parts[1].split(","))}
    start = _unescaped(line, " ")
    end = _unescaped(line, " ", start + 1)
    fields = line[start + 1 : end if end >= 0 else len(line)]
    out: dict[str, str] = {}
    pos = 0
    while pos < len(fields):
        eq = _unescaped(fields, "=", pos)
        comma = _unescaped(fields, ",", eq + 1)
        name = re.sub(r"\\(.)", r"\1", fields[pos:eq])
        out[name] = _value_type(fields[eq + 1 : comma if comma >= 0 else len(fields)])
        if comma < 0:
            break
        pos = comma + 1
    return out


@dataclass(frozen=True)
class Refusal:
    """What one refusal body says: lines refused by text, at most one type conflict, how many dropped."""

    partial: bool
    parse_errors: tuple[tuple[str, str], ...]
    #: (measurement, field, type refused, type stored)
    conflict: tuple[str, str, str, str] | None
    dropped: int


def read_refusal(body: str) -> Refusal:
    """Parse an InfluxDB 400 body (``{"error": "..."}``; any other text is read as it is)."""
    try:
        text = str(orjson.loads(body)["error"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        text = body
    d = _DROPPED.search(text)
    head = text[: d.start()] if d is not None else text
    parses = []
    for seg in head.split("\n"):
        at = seg.find(_PARSE_PREFIX)
        end = seg.rfind("': ")
        if at >= 0 and end > at:
            parses.append((seg[at + len(_PARSE_PREFIX) : end], seg[end + 3 :]))
    m = _CONFLICT.search(text)
    conflict = (m.group(2), m.group(1), m.group(3), m.group(4)) if m else None
    return Refusal("partial write" in text, tuple(parses), conflict, int(d.group(1)) if d else 0)


FieldTypes = Callable[[str], dict[str, str]]


@dataclass
class Refusals:
    """Field types InfluxDB holds that differ from ours, learnt from conflicts: lines that would hit one are
    refused before writing. ``lookup(measurement)`` (optional) asks the database for all of a measurement's
    field types at the first conflict, so one refusal teaches every conflicting field at once."""

    ttl_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    lookup: FieldTypes | None = None
    #: measurement -> field -> (type in the database, until when we trust it)
    stored: dict[str, dict[str, tuple[str, float]]] = field(default_factory=dict)

    def learn(self, conflict: tuple[str, str, str, str]) -> None:
        meas, fld, _, stored = conflict
        until = self.clock() + self.ttl_s
        known = self.stored.setdefault(meas, {})
        known[fld] = (stored, until)
        if self.lookup is not None:
            try:
                types = self.lookup(meas)
            except Exception:  # best effort: the conflict itself is learnt
                return
            for f, t in types.items():
                known[f] = (t, until)

    def screen(self, lines: list[str], idx: list[int]) -> tuple[list[int], list[tuple[int, str]]]:
        """(lines to write, (index, message) of lines whose field types the database holds otherwise)."""
        now = self.clock()
        for meas in list(self.stored):
            live = {f: v for f, v in self.stored[meas].items() if v[1] >= now}
            if live:
                self.stored[meas] = live
            else:
                del self.stored[meas]
        if not self.stored:
            return idx, []
        keep: list[int] = []
        bad: list[tuple[int, str]] = []
        for i in idx:
            line = lines[i]
            meas = measurement_of(line)
            known = self.stored.get(meas)
            why = None
            if known is not None:
                for f, t in field_types(line).items():
                    st = known.get(f)
                    if st is not None and st[0] != t:
                        why = conflict_message((meas, f, t, st[0]))
                        break
            if why is None:
                keep.append(i)
            else:
                bad.append((i, why))
        return keep, bad


def conflict_message(c: tuple[str, str, str, str]) -> str:
    meas, fld, refused, stored = c
    return f"field type conflict: field {fld!r} of {meas!r} is {refused} here, {stored} in the database"


def write_checked(
    influx: LineWriter, lines: list[str], refusals: Refusals | None = None
) -> list[tuple[int, str]]:
    """Write ``lines``; returns (index, InfluxDB's message) of each line refused, sorted by index.

    Lines of a remembered type conflict are refused without being sent; a refusal body is read to find the
    refused lines (see the module docstring). InfluxUnavailable propagates.
    """
    refusals = refusals if refusals is not None else Refusals()
    todo, rejected = refusals.screen(lines, list(range(len(lines))))
    for _ in range(MAX_ROUNDS):
        if not todo:
            break
        try:
            influx.write([lines[i] for i in todo])
            break
        except InfluxRejected as exc:
            body = exc.body
            r = read_refusal(body)
            bad: dict[int, str] = {}
            if r.partial:
                by_text: dict[str, list[int]] = {}
                for i in todo:
                    by_text.setdefault(lines[i], []).append(i)
                for text, why in r.parse_errors:
                    for i in by_text.get(text, ()):
                        bad[i] = f"unable to parse: {why}"[:500]
                if r.conflict is not None:
                    refusals.learn(r.conflict)
                    bad.update(refusals.screen(lines, todo)[1])
            if not bad:
                return sorted(rejected + write_splitting(influx, lines, todo))
            rejected += bad.items()
            todo = [i for i in todo if i not in bad]
            if r.conflict is None:
                break  # parse errors are reported only when nothing else failed: InfluxDB wrote the rest
            # a conflict hides any parse errors of the same request (and lines it did not write): again
    else:
        rejected += write_splitting(influx, lines, todo)
    return sorted(rejected)


def write_splitting(
    influx: LineWriter, lines: list[str], idx: list[int] | None = None
) -> list[tuple[int, str]]:
    """Bisection (the fallback): write, and on a refusal split in halves until each refused line is found.

    Re-writing accepted lines is harmless (same identity, same values).
    """
    idx = list(range(len(lines))) if idx is None else idx
    rejected: list[tuple[int, str]] = []
    stack = [(0, len(idx))]
    while stack:
        lo, hi = stack.pop()
        if lo >= hi:
            continue
        try:
            influx.write([lines[i] for i in idx[lo:hi]])
        except InfluxRejected as exc:
            if hi - lo == 1:
                rejected.append((idx[lo], exc.body.strip()[:500] or str(exc)))
            else:
                mid = (lo + hi) // 2
                stack += [(mid, hi), (lo, mid)]
    rejected.sort()
    return rejected
