"""Built-in pages for those without Grafana: overview, orders, calendar, assets, models, ratings, crew card.

The pages are static HTML shells in the reader's language (zh-CN by default; ``?lang=en`` switches and is
remembered in a cookie; otherwise ``Accept-Language``); their scripts (api/static/js) load the same message
catalogue as JSON (``/i18n/<lang>.json``, from facility/locale) and fetch data from /api/v1. The contract's
fields (name, unit, zh/en label) and the display time zone are embedded in each page.

Other capabilities add a page with ``render_page`` (their own route, their own script in api/static/js)::

    @router.get("/alarms", response_class=HTMLResponse)
    def alarms_page(request: Request) -> HTMLResponse:
        return render_page(request, "alarms", "page.alarms")
"""

from __future__ import annotations

import html
import json
import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from facility.contract import SCHEMAS
from facility.i18n import (
    DEFAULT_TIMEZONE,
    LANGUAGES,
    field_label,
    normalize,
    page_catalogue,
    pick_language,
    t,
    unit_label,
)

UNPREFIXED = True
#: the session cookie of a signed-in person (api/auth.py, api/routes/session.py)
SESSION_COOKIE = "fm_session"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LANG_COOKIE = "lang"

router = APIRouter(include_in_schema=False)

#: (href, message key) of the header's links
NAV: list[tuple[str, str]] = [
    ("/", "nav.overview"),
    ("/orders", "nav.orders"),
    ("/alarms", "nav.alarms"),
    ("/calendar", "nav.calendar"),
    ("/assets", "nav.assets"),
    ("/models", "nav.models"),
    ("/ratings", "nav.ratings"),
    ("/crew", "nav.crew"),
]
#: the links a crew member keeps (common.js hides the others once /session/me says role crew)
CREW_NAV = frozenset({"/crew", "/alarms"})


#: API paths the page scripts adapt to (a capability may be missing from a server): the shell says which exist,
#: so a phone never downloads the whole OpenAPI document to find out
OPTIONAL_ENDPOINTS = (
    "/stream",
    "/models",
    "/orders",
    "/alarm-rules",
    "/forecasts/ranking",
    "/assets/{asset_id}/forecast",
    "/session/login",
)


def _endpoints(request: Request) -> list[str]:
    try:  # the app's OpenAPI document is built once and cached by FastAPI
        paths = set(request.app.openapi().get("paths", {}))
    except Exception:  # the pages still work: the scripts then ask /openapi.json themselves
        return []
    return [p for p in OPTIONAL_ENDPOINTS if f"/api/v1{p}" in paths]


def page_language(request: Request) -> str:
    """``?lang=`` → ``lang`` cookie → Accept-Language → zh."""
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def _config(lang: str, endpoints: list[str], session: bool, **extra: object) -> str:
    schemas = {
        kind.value: [
            {
                "name": f.name,
                "unit": f.unit,
                "unit_label": unit_label(f.unit, lang),
                "label": field_label(kind, f.name, lang),
                "description": f.description,
                "min": f.minimum,
                "max": f.maximum,
            }
            for f in s.fields
        ]
        for kind, s in SCHEMAS.items()
    }
    data = {
        "schemas": schemas,
        "lang": lang,
        "tz": DEFAULT_TIMEZONE,
        "endpoints": endpoints,
        "endpoints_checked": list(OPTIONAL_ENDPOINTS),
        #: a session cookie came with the page: the scripts call the API with it (no token needed)
        "session": session,
        **extra,
    }
    # "<" escaped so no value can close the <script> element
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def render_page(
    request: Request,
    page: str,
    title_key: str,
    title_params: dict[str, object] | None = None,
    **extra: object,
) -> HTMLResponse:
    """The HTML shell of ``page`` (loads /static/js/<page>.js) in the request's language.

    ``title_key`` is a catalogue key (facility/locale); ``extra`` goes into the page's JSON config.
    """
    lang = page_language(request)
    title = t(title_key, lang, **(title_params or {}))
    other = next(code for code in LANGUAGES if code != lang)
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if href == request.url.path else ""}'
        f"{' data-crew' if href in CREW_NAV else ''}>{html.escape(t(key, lang))}</a>"
        for href, key in NAV
    )
    switch = f'<a class="lang" id="lang-switch" href="?lang={other}" hreflang="{other}">{t("nav.language", lang)}</a>'
    text = f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(t("app.name", lang))}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css">
</head>
<body data-page="{page}" data-lang="{lang}">
<header class="top"><a class="brand" href="/">{html.escape(t("app.name", lang))}</a><nav>{nav}</nav>{switch}</header>
<main id="app" aria-live="polite"><p class="muted">{html.escape(t("common.loading", lang))}</p></main>
<script id="facility-config" type="application/json">{_config(lang, _endpoints(request), SESSION_COOKIE in request.cookies, **extra)}</script>
<script type="module" src="/static/js/{page}.js"></script>
</body>
</html>
"""
    response = HTMLResponse(text, headers={"Cache-Control": "no-cache", "Content-Language": lang})
    chosen = normalize(request.query_params.get("lang"))
    if chosen is not None and chosen != request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    return render_page(request, "overview", "page.overview")


@router.get("/assets", response_class=HTMLResponse)
def asset_tree_page(request: Request) -> HTMLResponse:
    return render_page(request, "tree", "page.assets")


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(request: Request, asset_id: str) -> HTMLResponse:
    return render_page(request, "asset", "page.asset", {"asset": asset_id}, asset=asset_id)


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request) -> HTMLResponse:
    return render_page(request, "orders", "page.orders")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, order_id: int) -> HTMLResponse:
    return render_page(request, "order", "page.order", {"id": order_id}, order=order_id)


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request) -> HTMLResponse:
    return render_page(request, "calendar", "page.calendar")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    return render_page(request, "models", "page.models")


@router.get("/ratings", response_class=HTMLResponse)
def ratings_page(request: Request) -> HTMLResponse:
    return render_page(request, "ratings", "page.ratings")


@router.get("/crew", response_class=HTMLResponse)
def crew_page(request: Request) -> HTMLResponse:
    return render_page(request, "crew", "page.crew")


@router.get("/i18n/{lang}.json")
def messages(lang: str) -> JSONResponse:
    """The pages' message catalogue (generated from facility/locale and the contract's field names)."""
    code = normalize(lang)
    if code is None:
        raise HTTPException(404, f"no catalogue for {lang!r}: use one of {sorted(LANGUAGES)}")
    return JSONResponse(page_catalogue(code), headers={"Cache-Control": "public, max-age=300"})


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon (the pages declare an empty one): a document opened without a page of ours around it, such as a
    rating report, makes the browser ask for this address; say "nothing here" without an error."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or not target.is_relative_to(STATIC_DIR):
        raise HTTPException(404, f"no static file {path!r}")
    media_type = (
        "text/javascript" if target.suffix in (".js", ".mjs") else mimetypes.guess_type(target.name)[0]
    )
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "no-cache"})
