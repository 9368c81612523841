"""dashboards.export writes the Grafana-only measurements to a real InfluxDB and refuses bad rows."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards import export
from ingest.influx import InfluxClient

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
FORECAST = {
    "estate": "lvyuan",
    "building": "b1",
    "kind": "elevator",
    "asset": "lvyuan-b1-el1",
    "p7": 0.05,
    "p30": 0.25,
    "p90": 0.5,
    "window_start_h": 300.0,
    "window_end_h": 900,
    "risk": 0.25,
}


@pytest.mark.integration
def test_snapshots_are_written_with_tags_and_typed_fields(influx: InfluxClient) -> None:
    assert export.export_forecasts(influx, [FORECAST], NOW) == 1
    export.export_ratings(
        influx,
        [
            {
                "company": "pc anju",
                "estate": "lvyuan",
                "group": "old",
                "colour": "blue",
                "score": 81.5,
                "period": "2026-10",
            }
        ],
        NOW,
    )
    export.export_work_orders(
        influx,
        [
            {
                "estate": "lvyuan",
                "kind": "elevator",
                "state": "assigned",
                "priority": "high",
                "open": 3,
                "breached": 1,
            }
        ],
        NOW,
    )
    (f,) = influx.records('SELECT * FROM "forecasts"')
    assert f["time"] == int(NOW.timestamp() * 1000)
    assert (f["asset"], f["p30"], f["window_end_h"], f["risk"]) == ("lvyuan-b1-el1", 0.25, 900.0, 0.25)
    (r,) = influx.records('SELECT * FROM "ratings"')
    assert (r["company"], r["colour"], r["score"], r["period"]) == ("pc anju", "blue", 81.5, "2026-10")
    assert "rank_in_group" not in r  # optional and absent: no field written
    (o,) = influx.records('SELECT "open", "breached" FROM "work_orders" GROUP BY *')
    assert (o["open"], o["breached"], o["state"]) == (3, 1, "assigned")


def test_lines_escape_tags_and_mark_integers() -> None:
    (line,) = export.to_lines(
        export.WORK_ORDERS,
        [
            {
                "estate": "a b,c",
                "kind": "elevator",
                "state": "new",
                "priority": "p=1",
                "open": 2.0,
                "breached": 0,
            }
        ],
        1000,
    )
    assert (
        line == r"work_orders,estate=a\ b\,c,kind=elevator,state=new,priority=p\=1 open=2i,breached=0i 1000"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"asset": None}, "lacks ['asset']"),
        ({"p30": 30}, "must be a probability in [0, 1] (not a percentage)"),
        ({"p7": float("nan")}, "leave the row out instead of writing NaN"),
        ({"window_start_h": "soon"}, "must be a number, got 'soon'"),
    ],
)
def test_bad_rows_are_refused_with_the_fix(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match="forecasts row 2") as err:
        export.to_lines(export.FORECASTS, [FORECAST, FORECAST | change], 0)
    assert message in str(err.value)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        export.export_forecasts(None, [FORECAST], dt.datetime(2026, 1, 1))  # type: ignore[arg-type]
