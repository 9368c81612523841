"""``facility ingest [--workers N]`` and ``facility devices add|list|revoke``."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from facility.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="run the MQTT → InfluxDB ingester (Ctrl-C stops it)")
    p.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the stream (MQTT 5 $share)"
    )
    p.set_defaults(func=run_ingest)
    from ingest.devices_cli import register as register_devices

    register_devices(sub)


def _worker_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ingest", description="one ingest worker")
    p.add_argument("--client-id", default=None, help="MQTT client id (default: settings.ingest_client_id)")
    p.add_argument("--share-group", default=None, help="MQTT 5 shared-subscription group")
    p.add_argument("--metrics-port", type=int, default=None, help="Prometheus port (0 = off)")
    return p.parse_args(argv)


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Run one worker until SIGTERM/SIGINT."""
    from ingest.service import Ingester

    args = _worker_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ingester = Ingester(
        Settings(), client_id=args.client_id, share_group=args.share_group, metrics_port=args.metrics_port
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        ingester.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ingester.run_forever()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_ingest(args: argparse.Namespace) -> int:
    from facility.cli import UserError

    settings = Settings()
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, but was {args.workers}")
    if args.workers == 1:
        return worker_main([])
    group = settings.ingest_share_group or "ingest"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingest",
                "--client-id",
                f"{settings.ingest_client_id}-{i}",
                "--share-group",
                group,
                "--metrics-port",
                str(settings.metrics_port + i if settings.metrics_port else 0),
            ]
        )
        for i in range(args.workers)
    ]
    # SIGTERM (docker stop: this launcher is the container's PID 1) stops the workers cleanly too
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait(30)
    return max((p.returncode or 0) for p in procs)
