"""One simulated device: hidden health, failures and repairs, and the messages it sends.

Pure and deterministic: everything random comes from the `numpy.random.Generator` given at construction,
and time only enters through the timestamps passed to `step` / `advance` / `repair` (epoch milliseconds).
A *step* covers ``(end − dt, end]`` and produces one reading stamped ``end``, preceded by the faults and
recoveries that happened inside it and followed by the alarms its reading raised or cleared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facility.contract import AlarmOutcome, AssetKind, AssetRef, Event, EventType, Message, Reading
from facility.fleet import AssetSpec
from simulators.models import CONFIRMED_OUTCOMES, FAULT_DETAILS, MODELS, KindModel
from simulators.telemetry import TELEMETRY, Frame, RawEvent, Traits
from simulators.truth import TruthRecord
from simulators.usage import mean_usage, outdoor_temp_c, step_usage

DAY_MS = 86_400_000
YEAR_MS = 365.25 * DAY_MS
_SCALES = ("current", "vibration", "leveling", "loop", "flow", "battery")
_BEFORE_READING = (EventType.FAULT, EventType.RECOVERY)


@dataclass(frozen=True)
class Batch:
    """The outcome of one run over consecutive steps, before it is turned into messages."""

    ends: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[Any]]
    emit: npt.NDArray[np.bool_]
    events: list[RawEvent]  # sorted by time
    seq_start: int

    @property
    def count(self) -> int:
        return int(self.emit.sum()) + len(self.events)


def _date_ms(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)


class AssetSimulator:
    """A device of one kind. Read-only `health` and `hazard` are the hidden truth (for oracles and tests).

    ``auto_repair_after_s``: when set, a failed asset is repaired by itself after about that long
    (lognormal, sigma 0.5) — for the standalone demo and for history; otherwise it stays down until
    `repair` is called (the maintenance crew).
    """

    def __init__(
        self,
        spec: AssetSpec,
        rng: np.random.Generator,
        start_ms: int,
        *,
        floors: int = 18,
        auto_repair_after_s: float | None = None,
        health_every_s: float = 3600.0,
        initial_health: float | None = None,
        model: KindModel | None = None,
    ) -> None:
        self.spec = spec
        self.ref: AssetRef = spec.ref
        self.kind: AssetKind = spec.kind
        self._kind_name = spec.kind.value
        self.model = model or MODELS[self.kind]
        self.auto_repair_after_s = auto_repair_after_s
        self.health_every_ms = int(health_every_s * 1000)
        self._rng = rng
        installed = _date_ms(spec.installed)
        age_years = max(0.0, (start_ms - installed) / YEAR_MS)
        #: health ceiling: what a full repair restores; older installations never get back to as-new
        self.h_max = max(0.75, 1.0 - self.model.aging_per_year * age_years)
        #: this unit's wear-rate multiplier r (individual variation; older units wear faster)
        self.rate = float(rng.lognormal(0.0, self.model.rate_sigma)) * (1.0 + 0.02 * age_years)
        self._h = float(rng.uniform(0.4, self.h_max)) if initial_health is None else float(initial_health)
        self.traits = Traits(
            scale={k: float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3)) for k in _SCALES},
            size=float(np.clip(floors / 18.0, 0.5, 2.0)),
            detectors_total=int(floors * rng.uniform(8, 14)) + 10,
            setpoint_mpa=0.25 + 0.012 * floors,
            isolated=int(rng.integers(0, 3)),
            installed_ms=installed,
        )
        ubar = mean_usage(self.kind)
        self._carry: dict[str, float] = {
            "run_hours": round(age_years * 8766 * 0.55, 1),
            "fill": float(rng.uniform(0, 40)),
            "fill_rate": 50.0 / (ubar * 24.0) * float(np.clip(rng.normal(1.0, 0.12), 0.75, 1.25)),
        }
        self.t_ms = int(start_ms)
        self._down_code: str | None = None
        self._repair_due: int | None = None
        self._alarms: dict[str, bool] = {}
        self._outbox: list[RawEvent] = []
        self._truth: list[TruthRecord] = []
        self._seq = 0

    # ------------------------------------------------------------------ read-only truth

    @property
    def health(self) -> float:
        return self._h

    @property
    def hazard(self) -> float:
        """Failure hazard per hour at the current health (0 while down: it has already failed)."""
        return 0.0 if self.down else float(self.model.hazard(self._h))

    @property
    def mean_wear_per_h(self) -> float:
        """This unit's average health loss per hour while up (its wear rate r over the kind's life L)."""
        return self.rate / self.model.life_h

    def failure_probability(self, horizon_h: float) -> float:
        """P(failure within ``horizon_h`` hours) from the true state, assuming average wear from now on.

        With ``h(t) = h − c·t`` (c = `mean_wear_per_h`) the cumulative hazard is
        ``∫ λ0·exp(k(1 − h + c·t)) dt = λ(h) · (exp(k·c·T) − 1) / (k·c)``; for the oracle policy.
        Returns 1.0 for an asset that is down.
        """
        if self.down:
            return 1.0
        k, c = self.model.hazard_k, self.mean_wear_per_h
        growth = horizon_h if k * c == 0 else float(np.expm1(k * c * horizon_h) / (k * c))
        return float(-np.expm1(-self.hazard * growth))

    @property
    def down(self) -> bool:
        return self._down_code is not None

    @property
    def fault_code(self) -> str | None:
        return self._down_code

    @property
    def next_seq(self) -> int:
        return self._seq

    def set_auto_repair(self, after_s: float | None) -> None:
        """Change who repairs failures from now on: None = the crew (`repair`); a pending self-repair is dropped.

        A number: failed assets come back after about that long (a failure already waiting gets a new due
        time counted from now).
        """
        self.auto_repair_after_s = after_s
        if after_s is None:
            self._repair_due = None
        elif self.down and self._repair_due is None:
            self._repair_due = self.t_ms + max(1, int(after_s * float(self._rng.lognormal(0.0, 0.5)) * 1000))

    def drain_truth(self) -> list[TruthRecord]:
        """Ground-truth records since the last call (failures, repairs, health samples)."""
        out, self._truth = self._truth, []
        return out

    # ------------------------------------------------------------------ advancing time

    def step(self, now_ms: int, dt_s: float) -> list[Message]:
        """Advance over ``(now − dt, now]``: one reading stamped ``now`` plus the events in the step."""
        return list(self.messages(self.run(np.array([now_ms], dtype=np.int64), dt_s)))

    def advance(self, until_ms: int, step_s: float) -> list[Message]:
        """Advance in whole steps of ``step_s`` from the last time reached up to ``until_ms`` (inclusive)."""
        step_ms = round(step_s * 1000)
        n = (int(until_ms) - self.t_ms) // step_ms
        if n <= 0:
            return []
        ends = self.t_ms + step_ms * np.arange(1, n + 1, dtype=np.int64)
        return list(self.messages(self.run(ends, step_s)))

    def repair(self, now_ms: int, preventive: bool) -> bool:
        """A maintenance visit at ``now_ms``. Returns True when it ended a failure.

        Corrective (or any repair of a failed asset) restores health to the ceiling ``h_max`` and queues a
        ``recovery`` event, sent with the next step; preventive on a running asset restores
        ``h ← h + ρ (h_max − h)``.
        """
        events = self._restore(int(now_ms), preventive)
        self._outbox.extend(events)
        return bool(events)

    def run(self, ends: npt.NDArray[np.int64], dt_s: float) -> Batch:
        """Simulate consecutive steps ending at ``ends`` (spaced ``dt_s`` apart); vectorised over steps."""
        ends = np.asarray(ends, dtype=np.int64)
        n = len(ends)
        dt_ms = round(dt_s * 1000)
        dt_h = dt_s / 3600.0
        starts = ends - dt_ms
        rng, model = self._rng, self.model
        u = step_usage(self.kind, starts, ends)
        wear = model.wear(u, dt_h, self.rate, rng.standard_normal(n))
        draw, frac = rng.random(n), rng.random(n)
        health = np.empty(n)
        up = np.zeros(n, dtype=bool)
        down_code: list[str | None] = [None] * n
        events: list[RawEvent] = list(self._outbox)
        self._outbox.clear()
        j = 0
        while j < n:
            if self._down_code is not None:
                due = self._repair_due
                if due is None or due > ends[-1]:
                    health[j:] = self._h
                    down_code[j:] = [self._down_code] * (n - j)
                    break
                k = max(j, int(np.searchsorted(ends, due)))
                health[j:k] = self._h
                down_code[j:k] = [self._down_code] * (k - j)
                events.extend(self._restore(due, preventive=False))
                health[k], up[k] = self._h, True
                j = k + 1
                continue
            seg = wear[j:]
            h_after = np.maximum(self._h - np.cumsum(seg), 0.0)
            h_prev = np.concatenate(([self._h], h_after[:-1]))
            p_fail = 1.0 - np.exp(-model.hazard(h_prev) * dt_h)
            failed = np.flatnonzero(draw[j:] < p_fail)
            if failed.size == 0:
                health[j:], up[j:] = h_after, True
                self._h = float(h_after[-1])
                break
            f = j + int(failed[0])
            health[j:f], up[j:f] = h_after[: f - j], True
            self._h = max(0.0, float(h_prev[f - j] - frac[f] * seg[f - j]))
            ts = min(int(starts[f] + frac[f] * dt_ms), int(ends[f]) - 1)
            events.append(self._fail(ts))
            health[f], down_code[f] = self._h, self._down_code
            j = f + 1
        self.t_ms = int(ends[-1]) if n else self.t_ms
        self._sample_health(ends, starts, health, up)
        frame = Frame(ends, dt_s, health, up, down_code, u, outdoor_temp_c(ends))
        out = TELEMETRY[self.kind](frame, self.traits, rng, self._carry)
        for code, decisive in out.conditions.items():
            prev = self._alarms.get(code, False)
            last = np.maximum.accumulate(np.where(decisive >= 0, np.arange(n), -1))
            cond = np.where(last >= 0, decisive[np.maximum(last, 0)] == 1, prev)
            before = np.concatenate(([prev], cond[:-1]))
            for i in np.flatnonzero(cond & ~before):
                events.append((int(ends[i]), EventType.ALARM, code, ""))
            for i in np.flatnonzero(~cond & before):
                events.append((int(ends[i]), EventType.ALARM_CLEAR, code, ""))
            if n:
                self._alarms[code] = bool(cond[-1])
        for ts, etype, code, _ in out.events:
            if etype is EventType.ALARM:
                self._truth.append(self._record(ts, "false_alarm", code=code))
        events += out.events
        events.sort(key=lambda e: (e[0], 0 if e[1] in _BEFORE_READING else 1))
        batch = Batch(ends, out.values, out.emit, events, self._seq)
        self._seq += batch.count
        return batch

    def messages(self, batch: Batch) -> Iterator[Message]:
        """The batch as contract messages in time order, with this device's sequence numbers."""
        names = list(batch.values)
        rows = list(zip(*(batch.values[k].tolist() for k in names), strict=True)) if names else []
        ends, emit, events = batch.ends.tolist(), batch.emit.tolist(), batch.events
        seq, i, ref = batch.seq_start, 0, self.ref
        for j, end in enumerate(ends):
            while i < len(events) and (
                events[i][0] < end or (events[i][0] == end and events[i][1] in _BEFORE_READING)
            ):
                ts, etype, code, detail = events[i]
                yield Event(ref, ts, etype, code, seq, detail, _outcome(etype, code))
                seq, i = seq + 1, i + 1
            if emit[j]:
                yield Reading(ref, end, dict(zip(names, rows[j], strict=True)), seq)
                seq += 1
        for ts, etype, code, detail in events[i:]:
            yield Event(ref, ts, etype, code, seq, detail, _outcome(etype, code))
            seq += 1

    # ------------------------------------------------------------------ internals

    def _record(self, ts: int, type: str, **kw: Any) -> TruthRecord:
        return TruthRecord(
            ts,
            self.ref.asset,
            self.kind.value,
            type,
            round(self._h, 5),
            float(self.model.hazard(self._h)),
            **kw,
        )

    def _fail(self, ts: int) -> RawEvent:
        codes, p = self.model.fault_codes()
        code = codes[int(self._rng.choice(len(codes), p=p))]
        self._truth.append(self._record(ts, "failure", code=code))
        self._down_code = code
        self._repair_due = None
        if self.auto_repair_after_s is not None:
            delay_s = self.auto_repair_after_s * float(self._rng.lognormal(0.0, 0.5))
            self._repair_due = ts + max(1, int(delay_s * 1000))
        return (ts, EventType.FAULT, code, FAULT_DETAILS.get(code, ""))

    def _restore(self, ts: int, preventive: bool) -> list[RawEvent]:
        code, was_down = self._down_code, self._down_code is not None
        if was_down or not preventive:
            self._h = self.h_max
        else:
            self._h += self.model.preventive_restore * max(0.0, self.h_max - self._h)
        self._down_code, self._repair_due = None, None
        # a visit to a failed asset is a corrective repair, whatever was planned
        planned = preventive and not was_down
        self._truth.append(self._record(ts, "repair", code=code or "", preventive=planned, was_down=was_down))
        return [(ts, EventType.RECOVERY, code, "")] if code is not None else []

    def _sample_health(
        self,
        ends: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
        health: npt.NDArray[np.float64],
        up: npt.NDArray[np.bool_],
    ) -> None:
        every = self.health_every_ms
        if every <= 0:
            return
        idx = np.flatnonzero(ends // every != starts // every)
        if not idx.size:
            return
        h = health[idx]
        hz = np.where(up[idx], self.model.hazard(h), 0.0)
        asset, kind = self.ref.asset, self._kind_name
        self._truth.extend(
            TruthRecord(ts, asset, kind, "health", hv, zv)
            for ts, hv, zv in zip(ends[idx].tolist(), np.round(h, 5).tolist(), hz.tolist(), strict=True)
        )


def _outcome(etype: EventType, code: str) -> AlarmOutcome | None:
    """The confirmed outcome a simulated alarm is cleared with (simulators.models.CONFIRMED_OUTCOMES)."""
    return CONFIRMED_OUTCOMES.get(code) if etype is EventType.ALARM_CLEAR else None
