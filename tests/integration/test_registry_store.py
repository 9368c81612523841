"""The registry in the store is the one asset list: a CSV imported with `facility registry import` is served by
the API, known to forecasts and ratings and exported — with the fleet file pointing nowhere. Bad files are
refused naming the line and the field; unknown estates and groups name the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.context
from facility.settings import Settings
from ingest.influx import InfluxClient
from maintenance.tokens import Role
from runtime.api import create_api
from runtime.bootstrap import bootstrap
from runtime.cli import main
from tests.support import make_token

pytestmark = pytest.mark.integration

HEADER = "asset_id,kind,estate,estate_name,group,company,company_name,building,building_name,floors,model,installed,criticality,location"
CSV = f"""{HEADER}
hx-1-el1,elevator,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,KONE-3000,2019-05-01,4,1号楼 东侧
hx-1-wp1,water_pump,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,Grundfos-CR,2018-03-01,4,地下二层泵房
"""


@pytest.fixture
def settings(tmp_path: Path, influx: InfluxClient, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # the fleet file points nowhere: every reader must get its assets from the store
    monkeypatch.setenv("FACILITY_FLEET_FILE", str(tmp_path / "no-such-fleet.yaml"))
    monkeypatch.setenv("FACILITY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FACILITY_INFLUX_URL", influx.url)
    monkeypatch.setenv("FACILITY_INFLUX_DB", influx.database)
    return Settings()


def test_an_imported_csv_is_served_forecast_rated_and_exported(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(api.context, "FLEET_TTL_S", 0.0)
    csv = tmp_path / "fleet.csv"
    csv.write_text(CSV, encoding="utf-8")
    assert main(["registry", "import", str(csv)]) == 0
    assert "registry: 2 assets imported" in capsys.readouterr().out

    app = bootstrap()
    try:
        fleet = app.fleet()
        assert [a.id for a in fleet.assets] == ["hx-1-el1", "hx-1-wp1"]
        assert fleet.asset("hx-1-wp1").location == "地下二层泵房" and fleet.estates[0].group == "affordable"
        with TestClient(create_api(app)) as client:
            client.headers["Authorization"] = f"Bearer {make_token(settings, Role.ADMIN)}"
            assets = client.get("/api/v1/assets").json()
            assert [(a["id"], a["state"]) for a in assets] == [
                ("hx-1-el1", "no_data"),
                ("hx-1-wp1", "no_data"),
            ]
            # an asset added over the API is served at once (same process, no restart)
            new = {
                "id": "hx-1-sb1",
                "kind": "smart_bin",
                "estate": "hexie",
                "building": "1",
                "model": "bin-240L",
                "installed": "2024-01-01",
                "criticality": 2,
                "location": "1号楼 北门",
            }
            assert client.put("/api/v1/registry/assets/hx-1-sb1", json=new).status_code == 200
            assert "hx-1-sb1" in {a["id"] for a in client.get("/api/v1/assets").json()}
            # known to forecasts (no model trained yet: 409 naming the command, not 404 unknown asset)
            r = client.get("/api/v1/assets/hx-1-sb1/forecast")
            assert r.status_code == 409, r.text
            # a fleet YAML posted to the API is another way in
            fleet_yaml = "estates:\n  - {id: e2, company: pc-x, group: new, buildings: [{id: a, counts: {smart_bin: 1}}]}\n"
            yaml_type = {"Content-Type": "application/yaml"}
            r = client.post("/api/v1/registry/import", content=fleet_yaml, headers=yaml_type)
            assert r.status_code == 200 and r.json() == {"assets": 1}, r.text
            assert "e2-a-sb1" in {a["id"] for a in client.get("/api/v1/assets").json()}
            r = client.post(
                "/api/v1/registry/import", content=fleet_yaml.replace("new", "posh"), headers=yaml_type
            )
            assert r.status_code == 422 and "group 'posh' is not one of" in r.json()["detail"][0]["msg"]
            bad = client.put("/api/v1/registry/assets/x-1", json={**new, "id": "x-1", "estate": "nowhere"})
            assert bad.status_code == 422
            assert "the estates are ['e2', 'hexie']" in bad.json()["detail"][0]["msg"]
    finally:
        app.close()

    from evaluation.wiring import build
    from predict.service import ForecastService

    service = ForecastService(settings, InfluxClient.from_settings(settings))
    assert sorted(a.id for a in service.fleet.assets) == ["e2-a-sb1", "hx-1-el1", "hx-1-sb1", "hx-1-wp1"]
    service.close()
    ev = build(settings, events=False)
    try:
        assert ev.fleet is not None and len(ev.fleet.assets) == 4
    finally:
        ev.close()
    out = tmp_path / "out.csv"
    assert main(["registry", "export", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER and len(lines) == 5
    assert lines[3].startswith(
        "hx-1-sb1,smart_bin,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,bin-240L,2024-01-01,2,"
    )


BAD_FILES = [
    (
        "bad.csv",
        CSV.replace("hx-1-wp1,water_pump", "hx-1-wp1,pump"),
        "CSV line 3: kind 'pump' is not one of ['elevator', 'fire_alarm', 'water_pump', 'smart_bin']",
    ),
    (
        "bad.csv",
        CSV.replace(",2018-03-01,", ",March 2018,"),
        "CSV line 3: installed 'March 2018' is not a date like 2015-06-01",
    ),
    (
        "bad.csv",
        CSV.replace("affordable", "posh"),
        "CSV line 2: group 'posh' is not one of ['luxury', 'old', 'housing-reform', 'affordable', 'resettlement', 'new']",
    ),
    ("bad.csv", CSV.replace(",criticality,", ",crit,"), "CSV header lacks columns ['criticality']"),
    (
        "bad.yaml",
        "estates:\n  - {id: e1, company: c, group: posh, buildings: []}\n",
        "bad.yaml: estate e1: group 'posh' is not one of ['luxury', 'old'",
    ),
    ("bad.txt", CSV, "bad.txt: give a .csv or a fleet .yaml file"),
]


def test_bad_files_name_the_line_and_field_and_change_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text, message in BAD_FILES:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert main(["registry", "import", str(path)]) == 2, name
        assert message in capsys.readouterr().err
    app = bootstrap()
    try:
        assert app.fleet().assets == ()  # all rows or none
    finally:
        app.close()
    assert main(["registry", "import", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv does not exist" in capsys.readouterr().err


def test_a_repeated_id_or_a_changed_kind_is_refused_and_nothing_is_imported(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "fleet.csv"
    good.write_text(CSV, encoding="utf-8")
    assert main(["registry", "import", str(good)]) == 0
    # H2 #1: a second row for the lift as a smart bin, plus a new asset that must not get in either
    dup = tmp_path / "dup.csv"
    dup.write_text(
        CSV
        + "hx-1-el1,smart_bin,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,m,2024-01-01,2,\n"
        + "hx-1-wp2,water_pump,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,m,2024-01-01,2,\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["registry", "import", str(dup)]) == 2
    assert "CSV line 4: asset_id 'hx-1-el1' is already given on CSV line 2" in capsys.readouterr().err
    changed = tmp_path / "changed.csv"
    changed.write_text(
        CSV.replace("hx-1-el1,elevator", "hx-1-el1,smart_bin")
        + "hx-1-wp2,water_pump,hexie,和谐苑,affordable,pc-x,新物业,1,1号楼,26,m,2024-01-01,2,\n",
        encoding="utf-8",
    )
    assert main(["registry", "import", str(changed)]) == 2
    err = capsys.readouterr().err
    assert "asset hx-1-el1: is a elevator in the registry and would become a smart_bin" in err
    assert "--allow-kind-change" in err
    app = bootstrap()
    try:
        fleet = app.fleet()
        assert [(a.id, a.kind.value, a.model) for a in fleet.assets] == [
            ("hx-1-el1", "elevator", "KONE-3000"),
            ("hx-1-wp1", "water_pump", "Grundfos-CR"),
        ]
        with TestClient(create_api(app)) as client:
            client.headers["Authorization"] = f"Bearer {make_token(settings, Role.ADMIN)}"
            body = {
                "kind": "water_pump",
                "estate": "hexie",
                "building": "1",
                "model": "CR-10",
                "installed": "2024-01-01",
                "criticality": 3,
            }
            # H2 #17: the path gives the id; a body id must agree
            r = client.put("/api/v1/registry/assets/hx-1-wp9", json=body)
            assert r.status_code == 200 and r.json()["id"] == "hx-1-wp9", r.text
            r = client.put("/api/v1/registry/assets/hx-1-wp9", json={**body, "id": "hx-1-wp8"})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "id"]
            r = client.put("/api/v1/registry/assets/hx-1-el1", json=body)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]
            assert "is a elevator in the registry" in r.json()["detail"][0]["msg"]
            r = client.post("/api/v1/registry/import", content=dup.read_text(encoding="utf-8"))
            assert r.status_code == 422 and "already given on CSV line 2" in r.json()["detail"][0]["msg"]
            assert client.get("/api/v1/registry/assets/hx-1-el1").json()["kind"] == "elevator"
            assert client.get("/api/v1/registry/assets/hx-1-wp2").status_code == 404
    finally:
        app.close()
    assert main(["registry", "import", "--allow-kind-change", str(changed)]) == 0
    app = bootstrap()
    try:
        assert app.fleet().asset("hx-1-el1").kind.value == "smart_bin"
    finally:
        app.close()
