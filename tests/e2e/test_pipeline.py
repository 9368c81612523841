"""End to end: simulators → mosquitto → ingest → InfluxDB → API, values compared with what was sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.contract import Reading
from facility.fleet import load_fleet
from facility.services.mosquitto import MosquittoServer
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.service import Ingester
from maintenance.tokens import Role
from simulators.fleetsim import FleetSimulator
from simulators.publisher import MqttPublisher
from simulators.service import broker_config
from tests.registry_support import import_fleet
from tests.support import make_token

pytestmark = pytest.mark.e2e

FLEET = """
estates:
  - id: e2e
    group: new
    company: pc-e2e
    buildings:
      - {id: b1, counts: {elevator: 1, fire_alarm: 1, water_pump: 1, smart_bin: 1}}
"""


def test_simulated_readings_come_back_through_the_api(
    mosquitto_server: MosquittoServer, influx: InfluxClient, tmp_path: Path
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    fleet = load_fleet(fleet_file)
    settings = Settings(
        var_dir=tmp_path / "var",
        fleet_file=fleet_file,
        mqtt_port=mosquitto_server.port,
        influx_url=influx.url,
        influx_db=influx.database,
        ingest_client_id="e2e-ingest",
        metrics_port=0,
        batch_interval_s=0.1,
    )
    import_fleet(settings, fleet)  # the registry in the store is what the API serves
    ingester = Ingester(settings)
    ingester.start()
    try:
        now_ms = int(time.time() * 1000)
        sim = FleetSimulator(fleet, seed=11, start_ms=now_ms - 3_600_000)
        messages = sim.advance(now_ms, step_s=300)
        sent = [m for m in messages if isinstance(m, Reading)]
        assert {m.ref.kind for m in sent} == {spec.kind for spec in fleet.assets}
        with MqttPublisher(broker_config(settings), [s.ref for s in fleet.assets], per_device=False) as pub:
            pub.publish_many(messages)
            pub.flush()
        last_sent = {}
        for m in sent:
            last_sent[m.ref.asset] = m
        deadline = time.monotonic() + 30
        with TestClient(create_app(ctx=AppContext.from_settings(settings))) as api:
            api.headers["Authorization"] = f"Bearer {make_token(settings, Role.VIEWER)}"
            while True:
                assets = {a["id"]: a for a in api.get("/api/v1/assets").json()}
                got = {k: a["latest"]["seq"] for k, a in assets.items() if a["latest"]}
                if got == {k: m.seq for k, m in last_sent.items()} or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert sorted(assets) == sorted(spec.id for spec in fleet.assets)
            for asset_id, reading in last_sent.items():
                latest = assets[asset_id]["latest"]
                assert latest["seq"] == reading.seq
                assert latest["values"] == pytest.approx(dict(reading.values))
                assert latest["ts"].startswith(
                    time.strftime("%Y-%m-%dT%H:%M", time.gmtime(reading.ts_ms / 1000))
                )
        # every reading the simulator sent is stored exactly once, with its values
        for asset_id in last_sent:
            kind = fleet.asset(asset_id).kind.value
            rows = influx.records(f'SELECT * FROM "{kind}" WHERE "asset" = $a', params={"a": asset_id})
            expected = [m for m in sent if m.ref.asset == asset_id]
            assert [r["seq"] for r in rows] == [m.seq for m in expected]
            for row, m in zip(rows, expected, strict=True):
                assert row["time"] == m.ts_ms
                assert {k: row[k] for k in m.values} == pytest.approx(dict(m.values))
    finally:
        ingester.stop()
