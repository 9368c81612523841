"""Bytes a browser downloads to open each built-in page (HTML shell, its script modules, styles, message
catalogue), raw and gzip-compressed, with an empty cache; API data not included. Prints one JSON object.

    .venv/bin/python bench/page_weight.py
"""

from __future__ import annotations

import gzip
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import pages

PAGES = {
    "overview": "/",
    "asset": "/assets/lvyuan-b1-el1",
    "orders": "/orders",
    "order": "/orders/1",
    "calendar": "/calendar",
    "tree": "/assets",
    "models": "/models",
    "crew": "/crew",
}
IMPORT = re.compile(r"""(?:import|from)\s*["']([^"']+\.m?js)["']""")


def _resolve(base: str, rel: str) -> str:
    parts = base.rsplit("/", 1)[0].split("/")
    for piece in rel.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def weigh(client: TestClient, path: str, lang: str) -> dict[str, int]:
    html = client.get(path, headers={"Accept-Language": lang}).text
    files = {path: html.encode()}
    todo = re.findall(r'src="(/static/js/[^"]+)"', html) + re.findall(r'href="(/static/css/[^"]+)"', html)
    while todo:
        url = todo.pop()
        if url in files:
            continue
        body = client.get(url).content
        files[url] = body
        if url.endswith((".js", ".mjs")):
            text = body.decode()
            todo += [_resolve(url, m) for m in IMPORT.findall(text)]
            if "vendor/uplot/uPlot.min.css" in text:
                todo.append("/static/vendor/uplot/uPlot.min.css")
    files[f"/i18n/{lang}.json"] = client.get(f"/i18n/{lang}.json").content
    raw = sum(len(b) for b in files.values())
    return {
        "files": len(files),
        "bytes": raw,
        "gzip_bytes": sum(len(gzip.compress(b)) for b in files.values()),
    }


def main() -> None:
    app = FastAPI()
    app.include_router(pages.router)
    client = TestClient(app)
    print(json.dumps({name: weigh(client, path, "zh") for name, path in PAGES.items()}))


if __name__ == "__main__":
    main()
