"""The committed dashboard JSON and provisioning files agree with the generator in dashboards/."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from dashboards.generate import JSON_DIR, PROVISIONING_DIR, generate, out_of_date, rendered
from dashboards.panels import DATASOURCE_UID
from facility.contract import SCHEMAS, AssetKind


def test_committed_json_is_what_the_generator_writes(tmp_path: Path) -> None:
    stale = out_of_date(JSON_DIR)
    assert not stale, f"dashboards/json is out of date for {stale}: run `facility dashboards generate`"
    written = generate(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in JSON_DIR.glob("facility-*.json"))
    for path in written:
        assert path.read_text(encoding="utf-8") == (JSON_DIR / path.name).read_text(encoding="utf-8")


def test_generate_removes_dashboards_that_no_longer_exist(tmp_path: Path) -> None:
    (tmp_path / "facility-retired.json").write_text("{}")
    generate(tmp_path)
    assert not (tmp_path / "facility-retired.json").exists()
    assert out_of_date(tmp_path) == []
    (tmp_path / "facility-overview.json").write_text("{}")
    assert out_of_date(tmp_path) == ["facility-overview.json"]


def _models() -> list[dict]:
    return [json.loads(text) for text in rendered().values()]


def test_every_panel_uses_the_provisioned_datasource() -> None:
    ds = yaml.safe_load((PROVISIONING_DIR / "datasources" / "influxdb.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "influxdb"
    assert "version" not in source.get("jsonData", {}), "InfluxQL is the default query language"
    for model in _models():
        for panel in model["panels"]:
            assert panel["datasource"]["uid"] == DATASOURCE_UID, (model["uid"], panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == DATASOURCE_UID
                assert target["rawQuery"] is True and target["query"].startswith("SELECT")
        for var in model["templating"]["list"]:
            assert var["datasource"]["uid"] == DATASOURCE_UID


def test_panels_do_not_overlap_and_ids_are_unique() -> None:
    for model in _models():
        ids = [p["id"] for p in model["panels"]]
        assert len(ids) == len(set(ids)), model["uid"]
        cells: set[tuple[int, int]] = set()
        for p in model["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, (model["uid"], p["title"])
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & mine, f"{model['uid']}: panel {p['title']!r} overlaps another"
            cells |= mine


def test_each_kind_dashboard_charts_every_contract_field() -> None:
    models = {m["uid"]: m for m in _models()}
    for kind in AssetKind:
        model = models[f"facility-{kind.value.replace('_', '-')}"]
        queries = " ".join(t["query"] for p in model["panels"] for t in p["targets"])
        for spec in SCHEMAS[kind].fields:
            assert f'("{spec.name}") FROM "{kind.value}"' in queries, (kind, spec.name)


def test_dashboard_provider_points_at_the_compose_mount() -> None:
    prov = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "facility.yaml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/facility"
