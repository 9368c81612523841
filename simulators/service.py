"""The imperative shell: simulated history into InfluxDB and live simulation onto the broker, from Settings."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from facility.fleet import Fleet
from facility.settings import Settings
from simulators.fleetsim import FleetSimulator
from simulators.history import History, generate_history, write_history
from simulators.live import RunStats, SimClock, run_live
from simulators.publisher import BrokerConfig, Credentials, MqttPublisher
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

#: steps a live run may use, seconds
_STEPS = (10, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400)
DAY_S = 86_400.0


def default_step_s(n_assets: int, speed: float, max_msgs_per_s: float = 3000.0) -> float:
    """The finest step that keeps the publish rate (assets × speed / step) under ``max_msgs_per_s``."""
    need = n_assets * speed / max_msgs_per_s
    return float(next((s for s in _STEPS if s >= need), _STEPS[-1]))


def broker_config(settings: Settings) -> BrokerConfig:
    return BrokerConfig(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_username,
        settings.mqtt_password,
        settings.mqtt_tls,
        settings.mqtt_ca_file,
    )


def load_history(
    settings: Settings,
    fleet: Fleet,
    *,
    days: float,
    step_s: float,
    seed: int,
    end_ms: int | None = None,
    truth_path: Path | None = None,
    preventive_every_days: float | None = None,
    repair_after_s: float = 24 * 3600.0,
) -> History:
    """Generate the fleet's history up to ``end_ms`` (default: now) and write it to InfluxDB in bulk."""
    from ingest.lineprotocol import to_line
    from ingest.service import influx_client

    end = int(time.time() * 1000) if end_ms is None else end_ms
    history = generate_history(
        fleet,
        seed=seed,
        end_ms=end,
        days=days,
        step_s=step_s,
        preventive_every_days=preventive_every_days,
        repair_after_s=repair_after_s,
    )
    with influx_client(settings) as influx:
        influx.create_database()
        n = write_history(
            history.messages(), lambda lines: influx.write(lines, precision="ms"), to_line, 10_000
        )
    if truth_path is not None:
        with TruthWriter(truth_path) as writer:
            writer.write(history.truth)
    log.info("history: %d points over %.0f days, %d failures", n, days, len(history.failures()))
    return history


def simulate(
    settings: Settings,
    fleet: Fleet,
    *,
    seed: int,
    speed: float = 1.0,
    step_s: float | None = None,
    duration_s: float | None = None,
    truth_path: Path | None = None,
    auto_repair_after_s: float | None = 8 * 3600.0,
    history: History | None = None,
    credentials: Credentials | None = None,
    per_device: bool = True,
    stop: threading.Event | None = None,
) -> RunStats:
    """Publish the fleet live until ``duration_s`` of simulated time has passed or ``stop`` is set.

    Accelerated runs (speed > 1) cover the ``duration_s`` (default a year) *before now*, so that device
    timestamps never run ahead of the real clock. Given a ``history``, its simulators carry on from where
    it ended (same hidden health), in real time only.
    """
    wall = time.time()
    if speed > 1:
        duration_s = duration_s or 365 * DAY_S
        clock = SimClock.ending_now(wall, speed, duration_s)
    else:
        clock = SimClock(int(wall * 1000), wall, speed)
    end = clock.start_sim_ms + int(duration_s * 1000) if duration_s else None
    step = step_s or default_step_s(len(fleet.assets), speed)
    if history is not None and speed <= 1:
        fleet_sim = FleetSimulator(
            fleet,
            seed,
            history.end_ms,
            auto_repair_after_s=auto_repair_after_s,
            simulators=history.simulators(),
        )
    else:
        fleet_sim = FleetSimulator(fleet, seed, clock.start_sim_ms, auto_repair_after_s=auto_repair_after_s)
    refs = [spec.ref for spec in fleet.assets]
    writer = TruthWriter(truth_path) if truth_path else None
    publisher = MqttPublisher(broker_config(settings), refs, credentials=credentials, per_device=per_device)
    publisher.start()
    try:
        return run_live(
            fleet_sim,
            publisher.publish_many,
            clock,
            step_s=step,
            end_sim_ms=end,
            truth_sink=writer.write if writer else None,
            stop=stop,
            tick_s=min(1.0, max(0.2, step / speed / 4)),
        )
    finally:
        publisher.close()
        if writer:
            writer.close()
