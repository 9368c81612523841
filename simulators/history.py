"""Months of past data from the same models at a coarse step, for bulk loading before going live.

The assets' past maintenance is part of the history: a failed asset is repaired after about
``repair_after_s`` (lognormal spread) and, when ``preventive_every_days`` is set, every asset gets a
preventive visit at that interval (phase-shifted per asset). The ground truth (`History.truth`) lists every
failure and repair, so work orders and lifetimes can be loaded from it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from facility.contract import Message
from facility.fleet import Fleet
from simulators.asset import DAY_MS, AssetSimulator, Batch
from simulators.fleetsim import build_simulator, floors_of, merge_in_time
from simulators.truth import TruthRecord


@dataclass
class History:
    start_ms: int
    end_ms: int
    step_s: float
    truth: list[TruthRecord]  # failures, repairs and health samples, in time order
    _streams: list[tuple[AssetSimulator, list[Batch]]] = field(repr=False)

    def messages(self) -> Iterator[Message]:
        """Every reading and event of every asset in time order (lazy; may be iterated more than once)."""
        return merge_in_time(self._asset_messages(sim, batches) for sim, batches in self._streams)

    @staticmethod
    def _asset_messages(sim: AssetSimulator, batches: list[Batch]) -> Iterator[Message]:
        for batch in batches:
            yield from sim.messages(batch)

    def simulators(self) -> dict[str, AssetSimulator]:
        """The asset simulators in their state at ``end_ms``: hand them to `FleetSimulator` to go on live."""
        return {sim.ref.asset: sim for sim, _ in self._streams}

    def failures(self) -> list[TruthRecord]:
        return [r for r in self.truth if r.type == "failure"]

    def repairs(self) -> list[TruthRecord]:
        return [r for r in self.truth if r.type == "repair"]

    @property
    def reading_count(self) -> int:
        return sum(int(b.emit.sum()) for _, batches in self._streams for b in batches)


def generate_history(
    fleet: Fleet,
    *,
    seed: int,
    end_ms: int,
    days: float,
    step_s: float = 900.0,
    repair_after_s: float = 24 * 3600.0,
    preventive_every_days: float | None = None,
    health_every_s: float = 6 * 3600.0,
) -> History:
    """Simulate ``days`` ending at ``end_ms`` (steps end on a multiple of ``step_s`` before ``end_ms``)."""
    if days <= 0 or step_s <= 0:
        raise ValueError(f"days and step_s must be positive, but were {days!r} and {step_s!r}")
    step_ms = round(step_s * 1000)
    n = int(days * DAY_MS) // step_ms
    last = int(end_ms) // step_ms * step_ms
    start = last - n * step_ms
    ends = start + step_ms * np.arange(1, n + 1, dtype=np.int64)
    floors = floors_of(fleet)
    streams: list[tuple[AssetSimulator, list[Batch]]] = []
    truth: list[TruthRecord] = []
    for spec in fleet.assets:
        sim = build_simulator(
            spec,
            seed,
            start,
            floors.get((spec.ref.estate, spec.ref.building), 18),
            auto_repair_after_s=repair_after_s,
            health_every_s=health_every_s,
        )
        streams.append((sim, list(_run_asset(sim, ends, step_s, preventive_every_days))))
        truth += sim.drain_truth()
    truth.sort(key=lambda r: r.ts)
    return History(start, last, step_s, truth, streams)


def _run_asset(
    sim: AssetSimulator, ends: np.ndarray, step_s: float, preventive_every_days: float | None
) -> Iterator[Batch]:
    if not preventive_every_days:
        yield sim.run(ends, step_s)
        return
    period = int(preventive_every_days * DAY_MS)
    phase = zlib.crc32(sim.ref.asset.encode()) % period  # spread the visits over the period
    visits = np.arange(int(ends[0]) + phase, int(ends[-1]), period)
    cuts = np.searchsorted(ends, visits, side="right")
    lo = 0
    for visit, cut in zip(visits.tolist(), cuts.tolist(), strict=True):
        if cut > lo:
            yield sim.run(ends[lo:cut], step_s)
            lo = cut
        if not sim.down:  # a failed asset waits for its corrective repair
            sim.repair(visit, preventive=True)
    if lo < len(ends):
        yield sim.run(ends[lo:], step_s)


def write_history(
    messages: Iterable[Message],
    write: Callable[[list[str]], None],
    to_line: Callable[[Message], str],
    batch_size: int = 5000,
) -> int:
    """Write messages in batches of line-protocol lines: ``write`` and ``to_line`` come from ingest."""
    lines: list[str] = []
    count = 0
    for msg in messages:
        lines.append(to_line(msg))
        if len(lines) >= batch_size:
            write(lines)
            count += len(lines)
            lines = []
    if lines:
        write(lines)
        count += len(lines)
    return count
