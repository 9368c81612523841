"""/docs (Swagger UI), /redoc and the OpenAPI schema, served from local files so they work offline.

The Swagger UI and ReDoc bundles come from the fastapi-offline package (MIT; it ships both); no page
here loads anything from another host. The schema is at /openapi.json, where people and tools look for
it, and at /api/v1/openapi.json, where the pages and older clients look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

UNPREFIXED = True
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
#: the only files served from ASSETS_DIR, with their media types
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
_ASSET_URL = "/docs/assets"

router = APIRouter(include_in_schema=False)


def _schema(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/openapi.json")
def openapi_json(request: Request) -> JSONResponse:
    """The OpenAPI schema of the API"""
    return JSONResponse(_schema(request))


@router.get("/api/v1/openapi.json")
def openapi_json_v1(request: Request) -> JSONResponse:
    """The OpenAPI schema of the API (same document as /openapi.json)"""
    return JSONResponse(_schema(request))


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, from local files"""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} · API",
        swagger_js_url=f"{root}{_ASSET_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{_ASSET_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{_ASSET_URL}/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        # no validator badge: Swagger UI would send the schema to validator.swagger.io
        swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page"""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, from local files"""
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} · API",
        redoc_js_url=f"{root}{_ASSET_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{_ASSET_URL}/favicon.png",
        with_google_fonts=False,
    )


@router.get(_ASSET_URL + "/{name}")
def docs_asset(name: str) -> FileResponse:
    """A Swagger UI / ReDoc file"""
    if name not in ASSETS:
        raise HTTPException(404, f"no documentation asset {name!r}")
    return FileResponse(
        ASSETS_DIR / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
    )
