"""Running a fleet simulation against a clock: real time (speed 1) or accelerated."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from facility.contract import Message
from simulators.fleetsim import FleetSimulator
from simulators.truth import TruthRecord


@dataclass(frozen=True)
class SimClock:
    """Simulated time = ``start_sim_ms`` + ``speed`` × (wall time since ``start_wall_s``)."""

    start_sim_ms: int
    start_wall_s: float
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, but was {self.speed!r}")

    def sim_ms(self, wall_s: float) -> int:
        return int(self.start_sim_ms + (wall_s - self.start_wall_s) * 1000.0 * self.speed)

    @classmethod
    def ending_now(cls, wall_s: float, speed: float, duration_s: float) -> SimClock:
        """An accelerated clock whose simulated run of ``duration_s`` ends at the wall time it finishes.

        Simulated timestamps then never run ahead of real time (ingest refuses future timestamps).
        """
        start = wall_s - duration_s * (1.0 - 1.0 / speed)
        return cls(int(start * 1000), wall_s, speed)


@dataclass
class RunStats:
    messages: int = 0
    failures: int = 0
    sim_end_ms: int = 0


def run_live(
    fleet_sim: FleetSimulator,
    sink: Callable[[list[Message]], object],
    clock: SimClock,
    *,
    step_s: float,
    end_sim_ms: int | None = None,
    truth_sink: Callable[[list[TruthRecord]], object] | None = None,
    stop: threading.Event | None = None,
    tick_s: float = 0.5,
    wall: Callable[[], float] = time.time,
) -> RunStats:
    """Advance the fleet to the clock's time every ``tick_s`` and hand the messages to ``sink``.

    Stops at ``end_sim_ms`` (when given) or when ``stop`` is set.
    """
    stop = stop or threading.Event()
    stats = RunStats()
    while True:
        now = clock.sim_ms(wall())
        done = end_sim_ms is not None and now >= end_sim_ms
        if done and end_sim_ms is not None:
            now = end_sim_ms
        msgs = fleet_sim.advance(now, step_s)
        if msgs:
            sink(msgs)
            stats.messages += len(msgs)
        truth = fleet_sim.drain_truth()
        stats.failures += sum(1 for r in truth if r.type == "failure")
        if truth_sink is not None and truth:
            truth_sink(truth)
        stats.sim_end_ms = fleet_sim.t_ms
        if done or stop.wait(tick_s):
            return stats
