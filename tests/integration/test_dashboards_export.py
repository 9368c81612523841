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


# ---------------------------------------------------------------- rows from the store's and predictor's records


def _fleet():
    from facility.fleet import parse_fleet

    return parse_fleet(
        {
            "estates": [
                {
                    "id": "lvyuan",
                    "company": "pc-anju",
                    "buildings": [{"id": "b1", "counts": {"elevator": 2}}],
                },
                {"id": "jinhu", "company": "pc-h", "buildings": [{"id": "t1", "counts": {"water_pump": 1}}]},
            ]
        }
    )


def test_forecast_rows_from_predictor_forecasts() -> None:
    from dashboards.rows import forecast_rows
    from predict.forecast import Forecast

    f = Forecast(
        asset="lvyuan-b1-el2",
        kind="elevator",
        now=NOW,
        model_version="v1",
        curve_days=(0.0, 30.0),
        survival=(1.0, 0.7),
        p_fail={7: 0.1, 30: 0.3, 90: 0.6},
        window_start=NOW + dt.timedelta(hours=36),
        window_end=NOW + dt.timedelta(days=20),
        criticality=4,
        risk_horizon_days=30,
        risk=1.2,
    )
    gone = Forecast(
        "retired", "elevator", NOW, "v1", (0.0,), (1.0,), {7: 0, 30: 0, 90: 0}, None, None, 3, 30, 0.0
    )
    (row,) = forecast_rows([f, gone], _fleet())
    assert row == {
        "estate": "lvyuan",
        "building": "b1",
        "kind": "elevator",
        "asset": "lvyuan-b1-el2",
        "p7": 0.1,
        "p30": 0.3,
        "p90": 0.6,
        "window_start_h": 36.0,
        "window_end_h": 480.0,
        "risk": 1.2,
    }
    (line,) = export.to_lines(export.FORECASTS, [row], 5)
    assert "risk=1.2" in line and "window_end_h=480.0" in line  # risk = P × criticality may exceed 1


def test_work_order_rows_count_open_orders_and_breaches() -> None:
    from dashboards.rows import work_order_rows

    sla_ok = {"response_breached": False, "resolution_breached": False}
    late = {"response_breached": True, "resolution_breached": False}
    orders = [
        {"asset_id": "lvyuan-b1-el1", "state": "assigned", "priority": "p2", "sla": late},
        {"asset_id": "lvyuan-b1-el2", "state": "assigned", "priority": "p2", "sla": sla_ok},
        {"asset_id": "lvyuan-b1-el2", "state": "resolved", "priority": "p2", "sla": late},  # finished
        {"asset_id": "jinhu-t1-wp1", "state": "in_progress", "priority": "p1", "breached": True},
    ]
    assert work_order_rows(orders, _fleet()) == [
        {
            "estate": "jinhu",
            "kind": "water_pump",
            "state": "in_progress",
            "priority": "p1",
            "open": 1,
            "breached": 1,
        },
        {
            "estate": "lvyuan",
            "kind": "elevator",
            "state": "assigned",
            "priority": "p2",
            "open": 2,
            "breached": 1,
        },
    ]


def test_intactness_rows_from_the_state_timeline() -> None:
    from dashboards.rows import intactness_rows
    from maintenance.queries import StateInterval

    def current(asset: str, kind: str, estate: str, state: str) -> StateInterval:
        return StateInterval(asset, kind, estate, "b1", "pc", "old", state, NOW, NOW, True)

    rows = intactness_rows(
        [
            current("lvyuan-b1-el1", "elevator", "lvyuan", "under_maintenance"),
            {"asset": "jinhu-t1-wp1", "state": "faulted"},
        ],
        _fleet(),
    )
    assert rows == [
        {
            "estate": "jinhu",
            "kind": "water_pump",
            "assets": 1,
            "in_service": 0,
            "faulted": 1,
            "maintenance": 0,
            "offline": 0,
            "intact_pct": 0.0,
        },
        {
            "estate": "lvyuan",
            "kind": "elevator",
            "assets": 2,
            "in_service": 1,
            "faulted": 0,
            "maintenance": 1,
            "offline": 0,
            "intact_pct": 50.0,
        },
    ]
