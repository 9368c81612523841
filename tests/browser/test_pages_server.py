"""The page routes themselves (no browser): shells, static files, no path traversal, no script injection."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import pages
from facility.contract import SCHEMAS, AssetKind


def _client() -> TestClient:
    app = FastAPI()
    app.include_router(pages.router)
    return TestClient(app)


def test_each_page_is_a_shell_loading_its_script() -> None:
    client = _client()
    for path, script in (
        ("/", "overview"),
        ("/assets/x1", "asset"),
        ("/ratings", "ratings"),
        ("/crew", "crew"),
        ("/orders", "orders"),
        ("/orders/3", "order"),
        ("/calendar", "calendar"),
        ("/assets", "tree"),
        ("/models", "models"),
    ):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert f'<script type="module" src="/static/js/{script}.js"></script>' in r.text
        assert 'name="viewport"' in r.text
        js = client.get(f"/static/js/{script}.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/css/app.css").headers["content-type"].startswith("text/css")


def test_the_contract_units_are_embedded() -> None:
    text = _client().get("/assets/lvyuan-b1-el1").text
    found = re.search(r'<script id="facility-config" type="application/json">(.*?)</script>', text)
    assert found
    config = json.loads(found.group(1))
    assert config["asset"] == "lvyuan-b1-el1"
    fields = {f["name"]: f["unit"] for f in config["schemas"]["water_pump"]}
    assert fields == {f.name: f.unit for f in SCHEMAS[AssetKind.WATER_PUMP].fields}


def test_an_asset_id_cannot_inject_markup() -> None:
    text = _client().get("/assets/%3Cscript%3Ealert(1)").text
    assert "<script>alert(1)" not in text
    assert "<title>设备 &lt;script&gt;alert(1) ·" in text
    assert '"asset": "\\u003cscript>alert(1)"' in text  # escaped inside the JSON config


def test_static_files_stay_inside_the_static_folder() -> None:
    client = _client()
    assert client.get("/static/../routes/pages.py").status_code == 404
    assert client.get("/static/%2e%2e/routes/pages.py").status_code == 404
    assert client.get("/static/js/missing.js").status_code == 404


def test_pages_are_chinese_by_default_and_english_by_choice() -> None:
    client = _client()
    zh = client.get("/orders")
    assert '<html lang="zh-CN">' in zh.text and "<title>工单管理 · 设施监测</title>" in zh.text
    assert zh.headers["content-language"] == "zh"
    en = client.get("/orders", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in en.text and "<title>Work orders · Facility monitoring</title>" in en.text
    switched = client.get("/orders?lang=en")
    assert switched.cookies.get("lang") == "en"  # the switch is remembered
    assert '<html lang="en">' in client.get("/crew").text  # by the cookie, without ?lang
    assert '<html lang="zh-CN">' in client.get("/crew?lang=zh").text


def test_the_pages_catalogue_is_the_servers_catalogue() -> None:
    from facility.i18n import t

    client = _client()
    zh, en = client.get("/i18n/zh.json").json(), client.get("/i18n/en.json").json()
    assert zh["order.state.in_progress"] == t("order.state.in_progress", "zh") == "维修中"
    assert en["order.state.in_progress"] == "in progress"
    assert en["field.elevator.leveling_error_mm"] == "Leveling error"
    assert client.get("/i18n/fr.json").status_code == 404
    config = json.loads(
        re.search(r'type="application/json">(.*?)</script>', client.get("/assets/x?lang=zh").text).group(1)
    )
    assert config["lang"] == "zh" and config["tz"] == "Asia/Shanghai"
    flow = next(f for f in config["schemas"]["water_pump"] if f["name"] == "flow_m3h")
    assert (flow["label"], flow["unit"]) == ("流量", "m³/h")
