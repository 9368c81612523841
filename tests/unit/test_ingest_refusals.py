"""Pure parts of ingest hardening: reading InfluxDB's refusal bodies (as InfluxDB 1.6 wrote them), the line
parser that matches a type conflict to our lines, the per-device dead-letter rate, and the spool keeping
each line's source and a newline inside a string."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.floodgate import Floodgate
from ingest.influx import InfluxRejected
from ingest.refusals import Refusals, field_types, measurement_of, read_refusal, write_checked
from ingest.spool import Spool

PARSE_BODY = (
    '{"error":"partial write: unable to parse \'m,a=1 x=1.0,seq=9223372036854775808i 1765000000100\': unable to'
    ' parse integer 9223372036854775808: strconv.ParseInt: parsing \\"9223372036854775808\\": value out of range'
    "\\nunable to parse 'm,a=1 x=1.0,seq=99999999999999999999i 1765000000101': unable to parse integer"
    ' 99999999999999999999: strconv.ParseInt: parsing \\"99999999999999999999\\": value out of range dropped=0"}\n'
)
CONFLICT_BODY = (
    '{"error":"partial write: field type conflict: input field \\"x\\" on measurement \\"m\\" is type integer,'
    ' already exists as type float dropped=5"}\n'
)


def test_a_parse_refusal_names_each_refused_line() -> None:
    r = read_refusal(PARSE_BODY)
    assert r.partial and r.conflict is None and r.dropped == 0
    assert [t for t, _ in r.parse_errors] == [
        "m,a=1 x=1.0,seq=9223372036854775808i 1765000000100",
        "m,a=1 x=1.0,seq=99999999999999999999i 1765000000101",
    ]
    assert r.parse_errors[0][1].endswith("value out of range")


def test_a_type_conflict_names_measurement_field_and_types() -> None:
    r = read_refusal(CONFLICT_BODY)
    assert (r.partial, r.parse_errors, r.conflict, r.dropped) == (True, (), ("m", "x", "integer", "float"), 5)


def test_line_parser_types_and_measurement_with_escapes() -> None:
    plain = "elevator,estate=E1,building=B1,asset=a trips=3i,motor_current_a=12.5,seq=42i 1700000000000"
    assert measurement_of(plain) == "elevator"
    assert field_types(plain) == {"trips": "integer", "motor_current_a": "float", "seq": "integer"}
    line = r'ev\ x,a=1\,2 s="a \"q\" b, c=d",i=3i,f=2.5,u=4u,b=t,g=1e3 1700000000000'
    assert measurement_of(line) == "ev x"
    assert field_types(line) == {
        "s": "string",
        "i": "integer",
        "f": "float",
        "u": "unsigned",
        "b": "boolean",
        "g": "float",
    }


class FakeInflux:
    """InfluxDB 1.x's answers, as observed: refused lines named, the others written."""

    def __init__(self, stored_types: dict[tuple[str, str], str]) -> None:
        self.types = stored_types
        self.requests = 0
        self.written: list[str] = []

    def write(self, lines: list[str], precision: str = "ms") -> None:
        self.requests += 1
        parse, conflicts, ok = [], [], []
        for line in lines:
            if "99999999999999999999i" in line:
                parse.append(line)
                continue
            m = measurement_of(line)
            bad = [(f, t) for f, t in field_types(line).items() if self.types.get((m, f), t) != t]
            (conflicts if bad else ok).append((line, m, bad))
        self.written += [x[0] for x in ok]
        if conflicts:
            line, m, bad = conflicts[0]
            f, t = bad[0]
            body = (
                f'{{"error":"partial write: field type conflict: input field \\"{f}\\" on measurement \\"{m}\\"'
                f' is type {t}, already exists as type {self.types[(m, f)]} dropped={len(conflicts)}"}}'
            )
            raise InfluxRejected("400", 400, body)
        if parse:
            errs = "\\n".join(f"unable to parse '{p}': value out of range" for p in parse)
            raise InfluxRejected("400", 400, f'{{"error":"partial write: {errs} dropped=0"}}')


def test_a_flood_of_refused_lines_costs_a_request_not_one_per_line() -> None:
    lines = [f"m,a=1 x={i}i {i}" if i % 2 else f"m,a=1 x={i}.5 {i}" for i in range(1000)]
    lines += [f"m,a=2 x=1.0,seq=99999999999999999999i {i}" for i in range(5)]
    influx = FakeInflux({("m", "x"): "float"})
    refusals = Refusals()
    rejected = write_checked(influx, lines, refusals)
    assert [i for i, _ in rejected] == [i for i in range(1000) if i % 2] + list(range(1000, 1005))
    assert all("field type conflict" in why for _, why in rejected[:500])
    assert all("value out of range" in why for _, why in rejected[500:])
    assert influx.requests <= 3
    assert set(influx.written) == {lines[i] for i in range(0, 1000, 2)}  # some twice: harmless
    # the next batch: the known conflict is screened out before writing, one request for the rest
    influx.requests = 0
    again = write_checked(influx, ["m,a=1 x=7i 5000", "m,a=1 x=7.5 5001"], refusals)
    assert (again, influx.requests) == ([(0, again[0][1])], 1) and "field type conflict" in again[0][1]


def test_the_floodgate_counts_beyond_the_burst_and_refills_at_the_rate() -> None:
    gate = Floodgate(rate_per_min=60, burst=3)
    t0 = 1_800_000_000_000
    assert [gate.admit("d1", t0) for _ in range(5)] == [True, True, True, False, False]
    assert gate.admit("d2", t0)  # another device has its own bucket
    assert gate.flooding(t0) == ["d1"]
    assert gate.admit("d1", t0 + 1000) and not gate.admit("d1", t0 + 1000)  # one letter a second
    assert gate.flooding(t0 + 1000 + 60_001) == []
    assert all(Floodgate(60, 0).admit("d", t0) for _ in range(1000))  # burst 0: off
    with pytest.raises(ValueError, match="FACILITY_DEAD_LETTER_DEVICE_RATE_PER_MIN"):
        Floodgate(-1, 3)


def test_the_spool_keeps_each_lines_source_and_a_newline_in_a_string(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 100)
    lines = ['events,a=1 detail="two\nlines" 1', "m,a=1 x=1.0 2", "m,a=1 x=2.0 3"]
    sources = [("facility/e/b/elevator/a/event", b'{"detail":"two\\nlines"}'), ("t/1", b"p1"), ("t/1", b"p1")]
    spool.append(lines, sources)
    spool.close()
    again = Spool(tmp_path / "s.db", 100)
    head = again.head()
    assert head is not None and head[1:] == (lines, sources) and again.depth == 3
    again.close()
