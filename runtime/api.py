"""`facility api`: the HTTP API and pages, served by uvicorn on the adapters of this process's ``App``."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

from runtime.bootstrap import App, bootstrap

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI


def create_api(app: App) -> FastAPI:
    """The FastAPI application on ``app``'s store, InfluxDB client and clock (``app`` closes them)."""
    from api.app import create_app
    from api.context import AppContext

    ctx = AppContext.from_adapters(app.settings, app.influx, app.db, clock=app.clock)
    return create_app(ctx=ctx)


def server(app: App, log_level: str = "info") -> uvicorn.Server:
    import uvicorn

    s = app.settings
    return uvicorn.Server(
        uvicorn.Config(create_api(app), host=s.api_host, port=s.api_port, log_level=log_level)
    )


def serve_in_thread(app: App) -> tuple[uvicorn.Server, threading.Thread]:
    """The API in a daemon thread (the demo); stop it with ``server.should_exit = True``."""
    srv = server(app, log_level="warning")
    thread = threading.Thread(target=srv.run, name="api", daemon=True)
    thread.start()
    return srv, thread


def _run(args: argparse.Namespace) -> int:
    app = bootstrap()
    if args.port:
        app.settings.api_port = args.port
    try:
        server(app).run()
    finally:
        app.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the HTTP API (/api/v1, /docs) and the built-in pages")
    p.add_argument("--port", type=int, default=None, help="port (default: FACILITY_API_PORT or 8000)")
    p.set_defaults(func=_run)
