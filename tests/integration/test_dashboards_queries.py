"""Every panel query of every dashboard returns data from a short contract-valid run in a real InfluxDB.

The run holds telemetry, events and status of the demo fleet, exporter rows and ingest stats."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from dashboards import export
from dashboards.catalog import all_dashboards
from dashboards.panels import Dashboard
from facility.contract import SCHEMAS, AssetKind, Event, EventType, Reading, Status
from facility.fleet import Fleet, load_fleet
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines

REPO = Path(__file__).resolve().parents[2]
STEP_MS = 30 * 60 * 1000


def demo_fleet() -> Fleet:
    return load_fleet(REPO / "simulators" / "fleets" / "demo.yaml")


def _value(rng: np.random.Generator, lo: float, hi: float, integer: bool) -> float:
    span = min(hi - lo, 100.0)
    v = lo + span * (0.2 + 0.6 * rng.random())
    return float(round(v)) if integer else round(v, 3)


def first_of_group(fleet: Fleet) -> set[str]:
    """The first asset of each (estate, kind): it goes offline and gets the high forecast in the run."""
    seen: dict[tuple[str, AssetKind], str] = {}
    for a in fleet.assets:
        seen.setdefault((a.ref.estate, a.kind), a.id)
    return set(seen.values())


def write_run(client: InfluxClient, fleet: Fleet, now: dt.datetime, points: int = 12, seed: int = 7) -> None:
    """``points`` readings per asset over the last hours, a fault, its recovery and an alarm per asset,
    and status (the first asset of each estate and kind goes offline at the end)."""
    rng = np.random.default_rng(seed)
    now_ms = int(now.timestamp() * 1000)
    start = now_ms - points * STEP_MS
    firsts = first_of_group(fleet)
    msgs: list[Reading | Event | Status] = []
    for n, spec in enumerate(fleet.assets):
        schema = SCHEMAS[spec.kind]
        msgs.append(Status(spec.ref, start, True))
        for i in range(points):
            values = {f.name: _value(rng, f.minimum, f.maximum, f.integer) for f in schema.fields}
            msgs.append(Reading(spec.ref, start + i * STEP_MS + n, values, seq=i))
        t = start + 3 * STEP_MS + n
        msgs.append(Event(spec.ref, t, EventType.FAULT, schema.fault_codes[0], points, "test fault"))
        msgs.append(Event(spec.ref, t + STEP_MS, EventType.RECOVERY, schema.fault_codes[0], points + 1))
        msgs.append(Event(spec.ref, t + 2 * STEP_MS, EventType.ALARM, schema.alarm_codes[0], points + 2))
        if spec.id in firsts:
            msgs.append(Status(spec.ref, now_ms - STEP_MS, False))
    client.write(to_lines(msgs))


def export_rows(client: InfluxClient, fleet: Fleet, now: dt.datetime) -> None:
    """One snapshot of forecasts, work orders, ratings and intactness, as the demo loop would write."""
    firsts = first_of_group(fleet)
    forecasts = [
        {
            "estate": a.ref.estate,
            "building": a.ref.building,
            "kind": a.kind.value,
            "asset": a.id,
            "p7": 0.1 * (i % 3),
            "p30": 0.6 if a.id in firsts else 0.05 * (i % 7),
            "p90": min(1.0, 0.2 * (i % 7)),
            "window_start_h": 24.0 * (i % 5),
            "window_end_h": 24.0 * (i % 5) + 240,
            "risk": min(1.0, 0.15 * (i % 7)),
        }
        for i, a in enumerate(fleet.assets)
    ]
    export.export_forecasts(client, forecasts, now)
    orders = [
        {
            "estate": e.id,
            "kind": k.value,
            "state": s,
            "priority": p,
            "open": 2,
            "breached": int(s == "assigned"),
        }
        for e in fleet.estates
        for k in AssetKind
        for s, p in (("assigned", "high"), ("in_progress", "normal"))
    ]
    export.export_work_orders(client, orders, now)
    ratings = [
        {
            "company": e.company,
            "estate": e.id,
            "group": e.group,
            "colour": ("green", "blue", "yellow")[i % 3],
            "score": 95.0 - 10 * i,
            "rank_in_group": 1,
            "period": "2026-10",
        }
        for i, e in enumerate(fleet.estates)
    ]
    groups: dict[str, set[str]] = {}
    for e in fleet.estates:
        groups.setdefault(e.company, set()).add(e.group)
    ratings += [  # a company's own row (evaluation.analytics.dashboard_rows): empty estate, "mixed" group
        {
            "company": c,
            "estate": "",
            "group": g.pop() if len(g) == 1 else "mixed",
            "colour": "none",
            "score": 80.0,
        }
        for c, g in sorted(groups.items())
    ]
    export.export_ratings(client, ratings, now)
    intact = [
        {
            "estate": e.id,
            "kind": k.value,
            "assets": 10,
            "in_service": 9,
            "faulted": 1,
            "maintenance": 0,
            "offline": 0,
            "intact_pct": 90.0,
        }
        for e in fleet.estates
        for k in AssetKind
    ]
    export.export_intactness(client, intact, now)
    # alarms (issue 13): one uncleared alarm per asset of the first estate, and its first occurrence
    first_estate = fleet.estates[0].id
    alarms = [
        {
            "estate": a.ref.estate,
            "building": a.ref.building,
            "kind": a.kind.value,
            "asset": a.id,
            "rule": "r",
            "severity": ("critical", "major")[i % 2],
            "state": ("active", "acknowledged")[i % 2],
            "count": 1 + i,
            "alarm_id": i + 1,
            "first_at": (now - dt.timedelta(hours=1)).isoformat(),
        }
        for i, a in enumerate(x for x in fleet.assets if x.ref.estate == first_estate)
    ]
    export.export_alarms(client, alarms, now)
    events = [
        {k: r[k] for k in ("estate", "kind", "asset", "severity", "alarm_id")}
        | {"text": f"{r['severity']} r on {r['asset']}", "at": now - dt.timedelta(hours=1)}
        for r in alarms
    ]
    export.export_alarm_events(client, events)


def write_ingest_stats(client: InfluxClient, fleet: Fleet, now: dt.datetime, points: int = 12) -> None:
    """The ingester's own ``ingest_stats`` points (ingest.metrics), one a minute, with a lost reading."""
    from ingest.accounting import SeqTracker
    from ingest.metrics import Metrics

    metrics, tracker = Metrics("w1"), SeqTracker()
    devices = [f"facility/{a.ref.estate}/{a.ref.building}/{a.kind.value}/{a.id}" for a in fleet.assets[:4]]
    now_ms = int(now.timestamp() * 1000)
    lines: list[str] = []
    for i in range(points):
        for dev in devices:
            if not (dev == devices[0] and i == 5):  # seq 5 of the first device is lost
                tracker.observe(dev, i)
        metrics.add_received(100 * (i + 1))
        metrics.add_stored(100 * (i + 1))
        metrics.set_depths(spool=i % 3, queue=i)
        if i == 7:
            metrics.add_dead("bad_json")
        metrics.last_lag_ms = 20.0 + i
        lines += metrics.stats_lines(tracker, set(devices), now_ms - (points - i) * 60_000)
    client.write(lines)


# ---------------------------------------------------------------- the tests


INTERVAL = "5m"


@pytest.fixture(scope="module")
def seeded(influx_server):
    """One database with the short run, shared by the module (queries only read)."""
    client = InfluxClient(influx_server.url, "t_dashboards_panels")
    client.create_database()
    now = dt.datetime.now(dt.UTC)
    fleet = demo_fleet()
    write_run(client, fleet, now)
    export_rows(client, fleet, now)
    write_ingest_stats(client, fleet, now)
    yield client
    client._request("POST", "/query", data={"q": 'DROP DATABASE "t_dashboards_panels"'})
    client.close()


def _time_filter(dashboard: Dashboard) -> str:
    m = re.fullmatch(r"now-(\d+[smhdw])", dashboard.time_from)
    assert m, f"{dashboard.uid}: time range {dashboard.time_from!r} is not now-<n><unit>"
    return f"time > now() - {m.group(1)}"


def substitute(query: str, dashboard: Dashboard, values: dict[str, str]) -> str:
    """What Grafana sends: $timeFilter, $__interval and each variable (a regex) replaced."""
    q = query.replace("$timeFilter", _time_filter(dashboard)).replace("$__interval", INTERVAL)
    for name, value in values.items():
        q = re.sub(rf"\${name}\b", value.replace("\\", "\\\\"), q)
    left = re.findall(r"\$(?!tag_)[A-Za-z_]\w*", q)
    assert not left, f"unsubstituted variables {left} in {q!r}"
    return q


def resolve_variables(client: InfluxClient, dashboard: Dashboard, pick_all: bool) -> dict[str, str]:
    """Run each variable's query (with the earlier ones substituted); pick its first value or All."""
    values: dict[str, str] = {}
    for var in dashboard.variables:
        rows = client.records(substitute(var.query, dashboard, values))
        options = sorted({r["value"] for r in rows})
        assert options, f"{dashboard.uid}: variable ${var.name} has no values ({var.query})"
        values[var.name] = ".*" if pick_all else re.escape(options[0]).replace("/", r"\/")
    return values


def _panel_ids() -> list[str]:
    return [d.uid for d in all_dashboards()]


@pytest.mark.integration
@pytest.mark.parametrize("uid", _panel_ids())
@pytest.mark.parametrize("pick_all", [False, True], ids=["first-value", "all"])
def test_every_panel_query_returns_data(seeded: InfluxClient, uid: str, pick_all: bool) -> None:
    dashboard = next(d for d in all_dashboards() if d.uid == uid)
    values = resolve_variables(seeded, dashboard, pick_all)
    empty = []
    for panel in dashboard.panels:
        for target in panel.targets:
            q = substitute(target.query, dashboard, values)
            series = seeded.query(q)
            has_value = any(v is not None for s in series for row in s.values for v in row[1:])
            if not has_value:
                empty.append(f"{panel.title!r}: {q}")
    assert not empty, f"{uid}: panels without data:\n" + "\n".join(empty)


@pytest.mark.integration
def test_panel_figures_match_the_seeded_run(seeded: InfluxClient) -> None:
    """A few panels checked for exact values, so 'returns data' cannot hide a wrong query."""
    fleet = demo_fleet()
    overview = next(d for d in all_dashboards() if d.uid == "facility-overview")
    values = {"estate": ".*"}
    by_title = {p.title: p for p in overview.panels}

    def first(title: str) -> float:
        series = seeded.query(substitute(by_title[title].targets[0].query, overview, values))
        return series[0].values[0][1]

    assert first("Assets reporting") == len(fleet.assets)
    offline_ids = first_of_group(fleet)
    assert first("Online now") == len(fleet.assets) - len(offline_ids)
    assert first("Fault events") == len(fleet.assets)
    assert first("Facility intactness") == pytest.approx(90.0)
    offline = seeded.query(substitute(by_title["Offline assets"].targets[0].query, overview, values))
    assert sum(len(s.values) for s in offline) == len(offline_ids)


@pytest.mark.integration
def test_ingest_health_figures(seeded: InfluxClient) -> None:
    ingest = next(d for d in all_dashboards() if d.uid == "facility-ingest")
    by_title = {p.title: p for p in ingest.panels}

    def first(title: str) -> float:
        return seeded.query(substitute(by_title[title].targets[0].query, ingest, {}))[0].values[0][1]

    assert first("Dead letters") == 1
    assert first("Spool depth") == 11 % 3  # the last of 12 points
    assert first("Lag device → stored (latest)") == 31.0
    rows = seeded.records(
        substitute(by_title["Devices losing data (sequence accounting)"].targets[0].query, ingest, {})
    )
    lost = {r["asset"]: r["pending gaps"] + r["gaps"] for r in rows}
    assert lost[demo_fleet().assets[0].id] == 1
    assert sum(lost.values()) == 1


@pytest.fixture(scope="module")
def simulated(influx_server):
    """Half a day of the simulators' own history (simulators.history) for the demo fleet, nothing else."""
    from ingest.lineprotocol import to_line
    from simulators.history import generate_history, write_history

    client = InfluxClient(influx_server.url, "t_dashboards_simulated")
    client.create_database()
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    history = generate_history(demo_fleet(), seed=11, end_ms=now_ms, days=0.5, step_s=900)
    assert write_history(history.messages(), client.write, to_line) > 0
    yield client
    client._request("POST", "/query", data={"q": 'DROP DATABASE "t_dashboards_simulated"'})
    client.close()


@pytest.mark.integration
@pytest.mark.parametrize("kind", list(AssetKind), ids=lambda k: k.value)
def test_kind_dashboards_chart_what_the_simulators_send(simulated: InfluxClient, kind: AssetKind) -> None:
    """Every telemetry chart of a kind's dashboard has data from the simulators' real output."""
    dashboard = next(d for d in all_dashboards() if d.uid == f"facility-{kind.value.replace('_', '-')}")
    values = resolve_variables(simulated, dashboard, pick_all=True)
    charts = [p for p in dashboard.panels if f'FROM "{kind.value}"' in p.targets[0].query]
    assert len(charts) == len(SCHEMAS[kind].fields)
    empty = [
        p.title for p in charts if not simulated.query(substitute(p.targets[0].query, dashboard, values))
    ]
    assert not empty, f"{kind.value}: the simulators send no data for {empty}"


@pytest.mark.integration
def test_alarm_table_and_annotations(seeded: InfluxClient) -> None:
    fleet = demo_fleet()
    first = [a for a in fleet.assets if a.ref.estate == fleet.estates[0].id]
    board = next(d for d in all_dashboards() if d.uid == "facility-alarms")
    values = {"estate": ".*", "kind": ".*"}
    by_title = {p.title: p for p in board.panels}

    def value(title: str) -> float:
        return seeded.query(substitute(by_title[title].targets[0].query, board, values))[0].values[0][1]

    assert value("Alarms not cleared") == len(first)
    assert value("Critical alarms") == (len(first) + 1) // 2
    assert value("Occurrences (repeats included)") == sum(1 + i for i in range(len(first)))
    rows = seeded.query(substitute(by_title["Alarm table"].targets[0].query, board, values))
    assert len(rows) == len(first)
    for d in all_dashboards():
        for anno in d.to_json()["annotations"]["list"]:
            q = substitute(anno["query"], d, {v.name: ".*" for v in d.variables})
            q = q.replace("$timeFilter", "time > now() - 1d")
            hits = seeded.query(q)
            assert hits and anno["textColumn"] in hits[0].columns, (d.uid, q)
