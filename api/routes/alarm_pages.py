"""The alarm console page at /alarms (its script: api/static/js/alarms.js)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.routes.pages import render_page

UNPREFIXED = True
router = APIRouter(include_in_schema=False)


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request) -> HTMLResponse:
    return render_page(request, "alarms", "page.alarms")
