"""Loss accounting per device from its sequence numbers (pure logic, no I/O).

Every device counts ``seq`` 0, 1, 2, ... over its telemetry and events; a reboot starts again at 0.
For each device we count

* ``gaps``: sequence numbers never received (lost between the device and us). A number is declared lost
  only once it falls more than ``window`` below the highest number seen, so late or reordered deliveries
  inside the window are not miscounted;
* ``duplicates``: a number received again (a QoS 1 redelivery; harmless, the point overwrites itself);
* ``resets``: the counter went back to 0 (or far below the window): the device restarted; also a jump
  *ahead* by more than ``max_jump`` (a million): no device loses that many messages between two it delivers,
  so it is a new stream (a corrupted or re-provisioned counter), not a million gaps.

With N workers on a shared subscription each worker sees only part of a device's stream, so gaps are only
meaningful for a single worker; duplicates and resets remain per worker. See docs/ingest.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_WINDOW = 1024
DEFAULT_MAX_JUMP = 1 << 20


@dataclass
class DeviceSeq:
    #: first number of the current stream (since we started watching, or since the last reset)
    start: int = 0
    high: int = -1
    #: bit i set = seq (high - i) received, for i < window
    seen: int = 0
    received: int = 0
    gaps: int = 0
    duplicates: int = 0
    resets: int = 0


@dataclass
class SeqTracker:
    window: int = DEFAULT_WINDOW
    devices: dict[str, DeviceSeq] = field(default_factory=dict)
    max_jump: int = DEFAULT_MAX_JUMP

    def observe(self, device: str, seq: int) -> None:
        d = self.devices.get(device)
        if d is None:
            d = self.devices[device] = DeviceSeq()
        d.received += 1
        w = self.window
        if d.high < 0:
            d.start, d.high, d.seen = seq, seq, 1
            return
        if seq - d.high > self.max_jump:
            # not a loss of a million messages: a new stream (close the old one as at a restart)
            d.resets += 1
            d.gaps += self._missing(d, d.high - w + 1, d.high)
            d.start, d.high, d.seen = seq, seq, 1
            return
        if seq > d.high:
            shift = seq - d.high
            if shift >= w:
                d.gaps += self._missing(d, d.high - w + 1, d.high) + max(0, seq - w - d.high)
                d.seen = 1
            else:
                d.gaps += self._missing(d, d.high - w + 1, d.high - w + shift)
                d.seen = ((d.seen << shift) | 1) & ((1 << w) - 1)
            d.high = seq
            return
        back = d.high - seq
        in_window = back < w and seq >= d.start
        if in_window and d.seen >> back & 1:
            d.duplicates += 1
        elif seq == 0 or back >= w:
            # the device restarted its counter: close the old stream, start a new one
            d.resets += 1
            d.gaps += self._missing(d, d.high - w + 1, d.high)
            d.start, d.high, d.seen = seq, seq, 1
        else:
            # a late (reordered) number inside the window, or one from before we started watching
            d.start = min(d.start, seq)
            d.seen |= 1 << back

    @staticmethod
    def _missing(d: DeviceSeq, lo: int, hi: int) -> int:
        """Numbers in [lo, hi] (inside the window, not before the stream's start) never received."""
        lo = max(lo, d.start)
        if hi < lo:
            return 0
        i_lo, width = d.high - hi, hi - lo + 1
        return width - ((d.seen >> i_lo) & ((1 << width) - 1)).bit_count()

    def pending_gaps(self, device: str) -> int:
        """Numbers missing inside the window now (not yet declared lost)."""
        d = self.devices.get(device)
        if d is None or d.high < 0:
            return 0
        return self._missing(d, d.high - self.window + 1, d.high)

    def totals(self) -> dict[str, int]:
        """Sums over devices; ``pending`` = numbers missing inside the windows now (may still arrive)."""
        return {
            "pending": sum(self.pending_gaps(dev) for dev in self.devices),
            "received": sum(d.received for d in self.devices.values()),
            "gaps": sum(d.gaps for d in self.devices.values()),
            "duplicates": sum(d.duplicates for d in self.devices.values()),
            "resets": sum(d.resets for d in self.devices.values()),
        }
