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
    assert "<title>Asset &lt;script&gt;alert(1) ·" in text
    assert '"asset": "\\u003cscript>alert(1)"' in text  # escaped inside the JSON config


def test_static_files_stay_inside_the_static_folder() -> None:
    client = _client()
    assert client.get("/static/../routes/pages.py").status_code == 404
    assert client.get("/static/%2e%2e/routes/pages.py").status_code == 404
    assert client.get("/static/js/missing.js").status_code == 404
