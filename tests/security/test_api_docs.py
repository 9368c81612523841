"""/docs and /redoc work offline (their scripts and styles come from this server), the schema is where
people look for it, and every route of the schema has a summary written for it."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from tests.security.conftest import Site, api_routes

pytestmark = pytest.mark.integration


def test_every_route_in_the_schema_has_a_written_summary(site: Site) -> None:
    missing = [
        f"{sorted(rc.methods or [])} {rc.path} ({rc.endpoint.__module__}.{rc.endpoint.__name__})"
        for rc in api_routes(site.app)
        if isinstance(rc.original_route, APIRoute) and rc.include_in_schema and not rc.original_route.summary
    ]
    # a summary= on the route or a docstring on its function (api/app.py takes its first sentence)
    assert missing == []


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_nothing_from_another_host(site: Site, page: str) -> None:
    r = site.fresh_client().get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", r.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "http://" not in r.text and "https://" not in r.text
    for u in urls:
        asset = site.fresh_client().get(u)
        assert asset.status_code == 200, u
        if u.endswith(".js"):
            assert (
                asset.headers["content-type"].startswith("text/javascript") and len(asset.content) > 100_000
            )


def test_the_schema_is_at_both_addresses_and_documents_both_ways_in(site: Site) -> None:
    client = site.fresh_client()
    root, v1 = client.get("/openapi.json"), client.get("/api/v1/openapi.json")
    assert root.status_code == v1.status_code == 200 and root.json() == v1.json()
    schema = root.json()
    assert "/api/v1/orders" in schema["paths"] and "/docs" not in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}  # bearer token, session cookie
    assert client.get("/docs/assets/../app.py").status_code == 404
    assert client.get("/docs/assets/nope.js").status_code == 404
