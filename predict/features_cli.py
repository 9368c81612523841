"""``facility features refresh``: store the live window features of every asset (see predict.refresh)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import signal
import threading

from facility.cli import UserError
from facility.settings import Settings
from ingest.influx import InfluxClient, InfluxError
from predict.refresh import refresh_features, refresh_loop
from predict.service import ForecastService


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features",
        help="stored live features: `features refresh` computes each hour's for every asset",
        description="Window features of live telemetry, kept in InfluxDB so forecasts need not read the raw "
        "window (docs/predict.md, 'Stored features').",
    )
    fsub = p.add_subparsers(dest="features_command", metavar="ACTION", required=True)
    r = fsub.add_parser(
        "refresh",
        help="compute and store the features of the last full hour (--loop: every hour)",
        description="Compute and store the window features at the last full feature step (one hour by "
        "default, FACILITY_FEATURE_STEP_S) for every fleet asset whose kind has a telemetry model; prints "
        "one JSON object per round.",
    )
    r.add_argument("--at", type=dt.datetime.fromisoformat, help="a past time instead of now (ISO 8601)")
    r.add_argument("--loop", action="store_true", help="keep running: refresh after every step boundary")
    r.add_argument(
        "--lag", type=float, default=60.0, help="--loop: seconds to wait after a step boundary (default 60)"
    )
    r.set_defaults(func=_refresh)


def _refresh(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.loop and args.at is not None:
        raise UserError("--at and --loop do not go together: --loop always refreshes the current hour")
    if args.lag < 0:
        raise UserError(f"--lag must be zero or more seconds, but was {args.lag}")
    at = args.at
    if at is not None and at.tzinfo is None:
        raise UserError(f"--at {at.isoformat()} has no time zone: add one, e.g. {at.isoformat()}+00:00")
    with InfluxClient.from_settings(settings) as client:
        service = ForecastService(settings, client)
        try:
            if args.loop:
                logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
                stop = threading.Event()
                signal.signal(signal.SIGTERM, lambda *_: stop.set())
                with contextlib.suppress(KeyboardInterrupt):
                    refresh_loop(service, stop, args.lag)
                return 0
            try:
                result = refresh_features(service, at or dt.datetime.now(dt.UTC))
            except InfluxError as exc:
                raise UserError(f"cannot refresh features: {exc}") from None
        finally:
            service.close()
    print(
        json.dumps(
            {
                "at": result.at.isoformat(),
                "rows": result.rows,
                "skipped": result.skipped,
                "seconds": round(result.seconds, 2),
            }
        )
    )
    return 0
