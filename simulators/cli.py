"""`facility simulate` (live onto the broker) and `facility history` (bulk into InfluxDB)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import signal
import threading
import time
from pathlib import Path

from facility.cli import UserError
from facility.fleet import Fleet, FleetError, load_fleet
from facility.settings import Settings

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``12h``, ``30d``, ``2w``, ``1y`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 12h, 30d or 1y")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _end(text: str) -> int:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-23T08:00:00+00:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _fleet(path: Path | None, settings: Settings | None = None) -> Fleet:
    """The fleet YAML given with --fleet, else the registry in the store (the one asset list)."""
    from maintenance.registry import store_fleet  # the CLI shell reads the registry; the simulators do not

    try:
        fleet = load_fleet(path) if path is not None else store_fleet(settings or Settings())
        if not fleet.assets:
            raise UserError("the registry has no assets: run 'facility registry import FILE' or pass --fleet")
        return fleet
    except FleetError as exc:
        raise UserError(str(exc)) from None


def _simulate(args: argparse.Namespace) -> int:
    from simulators.publisher import PublishError
    from simulators.service import default_step_s, simulate

    settings = Settings()
    fleet = _fleet(args.fleet, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    step = args.step or default_step_s(len(fleet.assets), args.speed)
    print(
        f"simulating {len(fleet.assets)} assets at speed {args.speed:g}, one reading per {step:g} s of simulated "
        f"time, to MQTT {settings.mqtt_host}:{settings.mqtt_port}; Ctrl-C stops"
    )
    started = time.monotonic()
    try:
        stats = simulate(
            settings,
            fleet,
            seed=args.seed,
            speed=args.speed,
            step_s=step,
            duration_s=args.duration,
            truth_path=args.truth,
            auto_repair_after_s=args.auto_repair_hours * 3600 if args.auto_repair_hours > 0 else None,
            per_device=not args.single_client,
            stop=stop,
        )
    except PublishError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        return 130
    print(
        f"published {stats.messages} messages ({stats.failures} failures) in {time.monotonic() - started:.1f} s; "
        f"simulated time reached {dt.datetime.fromtimestamp(stats.sim_end_ms / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    return 0


def _history(args: argparse.Namespace) -> int:
    from ingest.influx import InfluxError
    from simulators.service import load_history

    settings = Settings()
    fleet = _fleet(args.fleet, settings)
    started = time.monotonic()
    try:
        history = load_history(
            settings,
            fleet,
            days=args.days,
            step_s=args.step_min * 60,
            seed=args.seed,
            end_ms=args.end,
            truth_path=args.truth,
            preventive_every_days=args.preventive_days or None,
        )
    except InfluxError as exc:
        raise UserError(f"{exc}; start InfluxDB (`facility services`) or set FACILITY_INFLUX_URL") from None
    print(
        f"history: {history.reading_count} readings, {len(history.failures())} failures, "
        f"{len(history.repairs())} repairs over {args.days:g} days written to {settings.influx_url} "
        f"database {settings.influx_db} in {time.monotonic() - started:.1f} s"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate the fleet's devices live onto the MQTT broker")
    p.add_argument("--fleet", type=Path, help="fleet YAML (default: the registry in the store)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (525600: a year/min)"
    )
    p.add_argument("--step", type=parse_duration, help="simulated time between readings (default: by speed)")
    p.add_argument(
        "--duration",
        type=parse_duration,
        help="simulated time to run (default: until Ctrl-C; 1y when accelerated)",
    )
    p.add_argument(
        "--truth", type=Path, help="write ground truth (failures, repairs, health) to this JSONL file"
    )
    p.add_argument(
        "--auto-repair-hours",
        type=float,
        default=8.0,
        help="failed assets come back after about this long (0: never)",
    )
    p.add_argument(
        "--single-client", action="store_true", help="one MQTT client for the fleet (no per-device LWT)"
    )
    p.set_defaults(func=_simulate)

    p = sub.add_parser("history", help="write simulated history for the fleet into InfluxDB")
    p.add_argument("--fleet", type=Path, help="fleet YAML (default: the registry in the store)")
    p.add_argument("--days", type=float, default=180.0)
    p.add_argument("--step-min", type=float, default=15.0, help="minutes between readings")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end", type=_end, help="end of the history, ISO time (default: now)")
    p.add_argument(
        "--truth", type=Path, help="write ground truth (failures, repairs, health) to this JSONL file"
    )
    p.add_argument(
        "--preventive-days", type=float, default=0.0, help="past preventive visits every N days (0: none)"
    )
    p.set_defaults(func=_history)
