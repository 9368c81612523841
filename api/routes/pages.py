"""Built-in pages for those without Grafana: overview, asset, ratings and the crew's phone page.

The pages are static HTML shells; their scripts (api/static/js) fetch JSON from /api/v1 in the browser and
draw charts with a small SVG helper (no CDN, works offline). The contract's field units are embedded in
each page so the charts label them without another request.
"""

from __future__ import annotations

import html
import json
import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from facility.contract import SCHEMAS

UNPREFIXED = True
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)

_NAV = (("/", "Overview"), ("/ratings", "Ratings"), ("/crew", "Crew"))


def _config(**extra: object) -> str:
    schemas = {
        kind.value: [{"name": f.name, "unit": f.unit, "description": f.description} for f in s.fields]
        for kind, s in SCHEMAS.items()
    }
    # "<" escaped so no value can close the <script> element
    return json.dumps({"schemas": schemas, **extra}, ensure_ascii=False).replace("<", "\\u003c")


def _page(page: str, title: str, **extra: object) -> HTMLResponse:
    nav = "".join(f'<a href="{href}">{label}</a>' for href, label in _NAV)
    text = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Facility monitoring</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css">
</head>
<body data-page="{page}">
<header class="top"><a class="brand" href="/">Facility</a><nav>{nav}</nav></header>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<script id="facility-config" type="application/json">{_config(**extra)}</script>
<script type="module" src="/static/js/{page}.js"></script>
</body>
</html>
"""
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse)
def overview_page() -> HTMLResponse:
    return _page("overview", "Estate overview")


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(asset_id: str) -> HTMLResponse:
    return _page("asset", f"Asset {asset_id}", asset=asset_id)


@router.get("/ratings", response_class=HTMLResponse)
def ratings_page() -> HTMLResponse:
    return _page("ratings", "Property-company ratings")


@router.get("/crew", response_class=HTMLResponse)
def crew_page() -> HTMLResponse:
    return _page("crew", "My work orders")


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or not target.is_relative_to(STATIC_DIR):
        raise HTTPException(404, f"no static file {path!r}")
    media_type = "text/javascript" if target.suffix == ".js" else mimetypes.guess_type(target.name)[0]
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "no-cache"})
