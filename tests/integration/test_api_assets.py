"""The read API over a real InfluxDB: values written as line protocol come back through the routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.contract import AssetKind, AssetRef, Event, EventType, Reading, Status
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from maintenance.tokens import Role
from tests.registry_support import import_fleet
from tests.support import make_token

pytestmark = pytest.mark.integration

FLEET = """
estates:
  - id: e1
    name: Estate One
    group: old
    company: pc1
    buildings:
      - {id: b1, counts: {elevator: 2, water_pump: 1}}
"""
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T0 = int((NOW - dt.timedelta(hours=2)).timestamp() * 1000)
EL1 = AssetRef("e1", "b1", AssetKind.ELEVATOR, "e1-b1-el1")
EL2 = AssetRef("e1", "b1", AssetKind.ELEVATOR, "e1-b1-el2")
WP1 = AssetRef("e1", "b1", AssetKind.WATER_PUMP, "e1-b1-wp1")


@pytest.fixture
def client(influx: InfluxClient, tmp_path: Path) -> Iterator[TestClient]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    settings = Settings(
        var_dir=tmp_path, fleet_file=fleet, influx_url=influx.url, influx_db=influx.database, mqtt_port=1
    )
    import_fleet(settings, fleet)
    # one reading a minute for two hours on el1, vibration rising 0.01 mm/s a minute
    readings = [
        Reading(EL1, T0 + i * 60_000, {"motor_current_a": 20.0, "vibration_mm_s": 1.0 + i * 0.01}, i)
        for i in range(120)
    ]
    readings.append(Reading(WP1, T0, {"outlet_pressure_mpa": 0.45}, 0))
    events = [
        Event(EL2, T0 + 1000, EventType.FAULT, "door_fault", 1, "door stuck"),
        Event(EL1, T0 + 2000, EventType.FAULT, "entrapment", 2),
        Event(EL1, T0 + 3000, EventType.RECOVERY, "entrapment", 3),
        Status(WP1, T0 + 5000, False),
    ]
    influx.write(to_lines([*readings, *events]))
    with TestClient(create_app(ctx=AppContext.from_settings(settings))) as c:
        c.headers["Authorization"] = f"Bearer {make_token(settings, Role.VIEWER)}"
        yield c


def test_assets_list_every_asset_with_latest_reading_and_state(client: TestClient) -> None:
    assets = {a["id"]: a for a in client.get("/api/v1/assets").json()}
    assert sorted(assets) == ["e1-b1-el1", "e1-b1-el2", "e1-b1-wp1"]
    el1 = assets["e1-b1-el1"]
    assert el1["state"] == "in_service"  # entrapment recovered
    assert el1["latest"]["seq"] == 119
    assert el1["latest"]["values"] == {"motor_current_a": 20.0, "vibration_mm_s": pytest.approx(2.19)}
    assert assets["e1-b1-el2"]["state"] == "faulted"
    assert assets["e1-b1-el2"]["open_faults"] == ["door_fault"]
    assert assets["e1-b1-wp1"]["state"] == "offline"


def test_assets_filter_by_kind_and_state(client: TestClient) -> None:
    assert [a["id"] for a in client.get("/api/v1/assets?kind=water_pump").json()] == ["e1-b1-wp1"]
    assert [a["id"] for a in client.get("/api/v1/assets?state=faulted").json()] == ["e1-b1-el2"]


def test_history_is_downsampled_by_influxdb(client: TestClient) -> None:
    start = dt.datetime.fromtimestamp(T0 / 1000, dt.UTC).isoformat()
    r = client.get(
        "/api/v1/assets/e1-b1-el1/history",
        params={"field": "vibration_mm_s", "start": start, "interval_s": 600},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == "mm/s"
    # 120 one-minute points fall into 12 or 13 ten-minute buckets whose means are the bucket means
    means = [p["mean"] for p in body["points"]]
    assert 12 <= len(means) <= 13
    assert sum(p["max"] - p["min"] for p in body["points"]) > 0
    assert means == sorted(means)
    first_bucket = [1.0 + i * 0.01 for i in range(120) if (T0 + i * 60_000) // 600_000 == T0 // 600_000]
    assert means[0] == pytest.approx(sum(first_bucket) / len(first_bucket))


def test_events_are_listed_newest_first_with_filters(client: TestClient) -> None:
    rows = client.get("/api/v1/events", params={"asset": "e1-b1-el1"}).json()
    assert [(r["type"], r["code"]) for r in rows] == [("recovery", "entrapment"), ("fault", "entrapment")]
    faults = client.get("/api/v1/events", params={"type": "fault", "estate": "e1"}).json()
    assert {r["asset"] for r in faults} == {"e1-b1-el1", "e1-b1-el2"}
    assert next(r for r in faults if r["asset"] == "e1-b1-el2")["detail"] == "door stuck"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/assets?kind=boat", "kind"),
        ("/api/v1/assets?estate=nowhere", "estate"),
        ("/api/v1/assets/e1-b1-el1/history?field=vibration_mm_s&start=yesterday", "start"),
        ("/api/v1/assets/e1-b1-el1/history?field=speed&start=2026-01-01T00:00:00Z", "field"),
        ("/api/v1/events?limit=0", "limit"),
    ],
)
def test_bad_parameters_get_422_naming_the_field(client: TestClient, url: str, field: str) -> None:
    r = client.get(url)
    assert r.status_code == 422
    assert field in r.text


def test_unknown_asset_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/assets/nope/latest").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/estates",
        "/api/v1/assets",
        "/api/v1/assets/e1-b1-el1",
        "/api/v1/assets/e1-b1-el1/latest",
        "/api/v1/assets/e1-b1-el1/history?field=trips&start=2026-01-01T00:00:00Z",
        "/api/v1/events",
    ],
)
def test_read_routes_need_a_valid_token(client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 200
    assert client.get(url, headers={"Authorization": "Bearer fm_wrong"}).status_code == 401
    assert client.get(url, headers={"Authorization": ""}).status_code == 401


def test_health_needs_no_token_and_reports_unreachable_broker(client: TestClient) -> None:
    client.headers.pop("Authorization")
    r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert r.json()["broker"]["ok"] is False
    assert r.json()["influxdb"]["ok"] is True
