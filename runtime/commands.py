"""Core sub-commands: `facility setup`, `facility services`, `facility demo` and `facility worker`."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from facility.cli import UserError
from facility.services.packages import ensure
from facility.settings import Settings
from facility.stack import LocalStack, StackError


def _setup(args: argparse.Namespace) -> int:
    wanted = ["mosquitto", "mosquitto_passwd", "influxd"] + (["chromium", "cjk-font"] if args.browser else [])
    installed = ensure(wanted)
    settings = Settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    print(f"setup: OS packages ok{' (installed ' + ', '.join(installed) + ')' if installed else ''}")
    return 0


def _services(args: argparse.Namespace) -> int:
    settings = Settings()
    stack = LocalStack(settings)
    try:
        stack.start()
    except StackError as exc:
        raise UserError(str(exc)) from None
    from ingest.influx import InfluxClient

    with InfluxClient.from_settings(settings) as influx:  # the ground floor's stack leaves this to the app
        influx.create_database()
    print(f"mosquitto on {settings.mqtt_host}:{settings.mqtt_port}, InfluxDB on {settings.influx_url}")
    if stack.broker is not None:  # (B) never an open broker: the service accounts' passwords are in this file
        print(f"broker accounts: {stack.broker.secrets_file} (devices: `facility devices add|sync`)")
    print("Ctrl-C stops them.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from runtime.demo import run_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return run_demo(Settings(), history_days=args.history_days, seed=args.seed)


def _worker(args: argparse.Namespace) -> int:
    from runtime.bootstrap import bootstrap
    from runtime.jobs import by_name
    from runtime.worker import Worker, serve_metrics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        jobs = by_name([n for n in (args.jobs or "").split(",") if n])
    except ValueError as exc:
        raise UserError(str(exc)) from None
    app = bootstrap()
    worker = Worker(app, jobs, poll_s=args.poll)
    if args.once:
        try:
            failed = worker.run_due_now()
        finally:
            worker.close()
            app.close()
        return 1 if failed else 0
    if app.settings.worker_metrics_port:
        serve_metrics(app, app.settings.worker_metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        worker.run(stop)
    except KeyboardInterrupt:
        worker.close()
    finally:
        app.close()
    return 0


DEMO_EPILOG = """\
ports and places come from FACILITY_* environment variables (facility/settings.py), e.g. to run a second demo:
  FACILITY_API_PORT=8000             the API and pages
  FACILITY_MQTT_PORT=18830           the broker (mosquitto)
  FACILITY_INFLUX_URL=http://127.0.0.1:18086   InfluxDB (its port is taken from this URL)
  FACILITY_METRICS_PORT=9108         the ingester's /metrics
  FACILITY_WORKER_METRICS_PORT=9110  the worker's job metrics (/metrics; 0 turns it off)
  FACILITY_VAR_DIR=var               data, models, logs, demo tokens and passwords
  FACILITY_DATABASE_URL=...          the relational store (default: SQLite under FACILITY_VAR_DIR)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="install the OS packages the service needs (mosquitto, influxdb)")
    p.add_argument(
        "--browser", action="store_true", help="also install chromium and a CJK font for the browser tests"
    )
    p.set_defaults(func=_setup)
    p = sub.add_parser("services", help="run mosquitto and InfluxDB as child processes until Ctrl-C")
    p.set_defaults(func=_services)
    p = sub.add_parser(
        "demo",
        help="services, simulated history, live simulators, ingest and the API",
        description="Run the whole product on this machine with a simulated fleet (Ctrl-C stops everything).",
        epilog=DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--history-days", type=int, default=180, help="days of simulated history to load first")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_demo)
    p = sub.add_parser(
        "worker",
        help="run the scheduled jobs (features, retraining, forecast → plan, SLA, ratings, dashboards, outbox)",
    )
    p.add_argument("--jobs", help="comma-separated job names (default: all; see GET /api/v1/jobs)")
    p.add_argument(
        "--once", action="store_true", help="run the chosen jobs once now and exit (1 if one failed)"
    )
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks for due jobs")
    p.set_defaults(func=_worker)
