"""/docs (Swagger UI) renders in Chromium with every other host unreachable (issue 16 item 6); that /redoc
loads only this server's files is checked without a browser (tests/security/test_api_docs.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def test_docs_render_with_no_network_but_this_server(site, page) -> None:
    asked: list[str] = []

    def only_here(route) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(route.request.url).hostname
        asked.append(host or "")
        if host == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{site.url}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() >= 50  # one block per operation
    assert page.locator(".swagger-ui .btn.authorize").count() == 1  # bearer token or session cookie
    assert set(asked) == {"127.0.0.1"}
    assert page.console_errors == []
