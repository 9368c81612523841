"""Per-device rate of dead letters: beyond it a device's letters are counted, not stored (pure logic).

A token bucket per device (``burst`` letters, refilled at ``rate_per_min``): a device that keeps sending
what we refuse cannot fill the store, yet every letter it causes is still counted per reason and per
device (``dead_letter_floods``), and :meth:`Floodgate.flooding` names the devices over the rate now (a
metric and ``GET /api/v1/ingest/stats`` show them, for an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: devices remembered at most (the least recently seen go first), so a flood of bogus topics cannot grow it
MAX_DEVICES = 100_000
#: a device stays "flooding" this long after its last suppressed letter
FLOODING_FOR_MS = 60_000


@dataclass
class Floodgate:
    rate_per_min: float
    burst: int
    #: device -> (tokens, time of last refill in ms)
    buckets: dict[str, tuple[float, int]] = field(default_factory=dict)
    #: device -> time of its last suppressed letter (ms)
    suppressed_at: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate_per_min < 0 or self.burst < 0:
            raise ValueError(
                f"dead-letter rate and burst must be 0 or positive, but were {self.rate_per_min!r}/min and "
                f"{self.burst!r}: set FACILITY_DEAD_LETTER_DEVICE_RATE_PER_MIN and _BURST"
            )

    @property
    def enabled(self) -> bool:
        return self.burst > 0

    def admit(self, device: str, now_ms: int) -> bool:
        """True: store this device's letter; False: count it only. Always True when the burst is 0 (off)."""
        if not self.enabled:
            return True
        tokens, at = self.buckets.pop(device, (float(self.burst), now_ms))
        tokens = min(float(self.burst), tokens + max(0, now_ms - at) * self.rate_per_min / 60_000)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        else:
            self.suppressed_at[device] = now_ms
        if len(self.buckets) >= MAX_DEVICES:
            del self.buckets[next(iter(self.buckets))]
        self.buckets[device] = (tokens, now_ms)  # re-inserted: the dict stays in least-recently-seen order
        return ok

    def flooding(self, now_ms: int) -> list[str]:
        """Devices whose letters were suppressed within the last minute (sorted)."""
        for d in [d for d, t in self.suppressed_at.items() if now_ms - t > FLOODING_FOR_MS]:
            del self.suppressed_at[d]
        return sorted(self.suppressed_at)
