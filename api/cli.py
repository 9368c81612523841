"""`facility api`: serve the HTTP API and pages with uvicorn."""

from __future__ import annotations

import argparse

from facility.settings import Settings


def serve(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")


def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.port:
        settings.api_port = args.port
    serve(settings)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the HTTP API (/api/v1, /docs) and the built-in pages")
    p.add_argument("--port", type=int, default=None, help="port (default: FACILITY_API_PORT or 8000)")
    p.set_defaults(func=_run)
