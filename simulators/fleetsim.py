"""One simulator per asset of a fleet, seeded from one fleet seed, advanced together by a clock passed in."""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from facility.contract import Message
from facility.fleet import AssetSpec, Fleet
from simulators.asset import AssetSimulator
from simulators.truth import TruthRecord


def asset_rng(fleet_seed: int, asset_id: str) -> np.random.Generator:
    """The asset's own generator: depends on the fleet seed and the asset id only (not on fleet order)."""
    return np.random.default_rng(np.random.SeedSequence([int(fleet_seed), zlib.crc32(asset_id.encode())]))


def floors_of(fleet: Fleet) -> dict[tuple[str, str], int]:
    return {(e.id, b.id): b.floors for e in fleet.estates for b in e.buildings}


def build_simulator(
    spec: AssetSpec, fleet_seed: int, start_ms: int, floors: int = 18, **kw: float | None
) -> AssetSimulator:
    return AssetSimulator(spec, asset_rng(fleet_seed, spec.id), start_ms, floors=floors, **kw)  # type: ignore[arg-type]


def merge_in_time(streams: Iterable[Iterable[Message]]) -> Iterator[Message]:
    """Merge per-device streams (each already in time order) into one stream in time order."""
    return heapq.merge(*streams, key=lambda m: m.ts_ms)


class FleetSimulator:
    """Every asset of ``fleet`` from ``start_ms`` on; `advance` moves them all to a time given by the caller.

    Per-asset access (``sim.assets[asset_id]``) gives `health`, `hazard`, `down` and `repair` for
    maintenance policies and oracles.
    """

    assets: dict[str, AssetSimulator]

    def __init__(
        self,
        fleet: Fleet,
        seed: int,
        start_ms: int,
        *,
        auto_repair_after_s: float | None = None,
        health_every_s: float = 3600.0,
        simulators: Mapping[str, AssetSimulator] | None = None,
    ) -> None:
        """``simulators``: continue existing simulators (e.g. `History.simulators()`) instead of new ones."""
        self.fleet = fleet
        self.seed = seed
        if simulators is not None:
            self.assets = {spec.id: simulators[spec.id] for spec in fleet.assets}
            for sim in self.assets.values():
                sim.set_auto_repair(auto_repair_after_s)
                sim.health_every_ms = int(health_every_s * 1000)
            self.t_ms = max(sim.t_ms for sim in self.assets.values())
            return
        floors = floors_of(fleet)
        self.assets = {
            spec.id: build_simulator(
                spec,
                seed,
                start_ms,
                floors.get((spec.ref.estate, spec.ref.building), 18),
                auto_repair_after_s=auto_repair_after_s,
                health_every_s=health_every_s,
            )
            for spec in fleet.assets
        }
        self.t_ms = int(start_ms)

    def advance(self, until_ms: int, step_s: float) -> list[Message]:
        """Advance every asset in whole steps up to ``until_ms``; messages of all assets in time order."""
        streams = [sim.advance(until_ms, step_s) for sim in self.assets.values()]
        self.t_ms = max([self.t_ms, *(sim.t_ms for sim in self.assets.values())])
        return list(merge_in_time(streams))

    def repair(self, asset_id: str, now_ms: int, preventive: bool) -> bool:
        """A maintenance visit; see `AssetSimulator.repair`. Raises KeyError for an unknown asset id."""
        return self.assets[asset_id].repair(now_ms, preventive)

    def drain_truth(self) -> list[TruthRecord]:
        """Ground truth of every asset since the last call, in time order."""
        records = [r for sim in self.assets.values() for r in sim.drain_truth()]
        records.sort(key=lambda r: r.ts)
        return records
