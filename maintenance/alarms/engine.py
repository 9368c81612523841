"""The thin I/O shell around the pure evaluation: rule state in memory, signals applied to the store.

:class:`AlarmEngine` takes decoded messages (from its own MQTT subscription, see :class:`AlarmConsumer`,
or a history backfill) and clock ticks; everything it decides comes from maintenance.alarms.evaluate.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa

from facility.contract import ContractError, Message, Reading, decode, subscription
from maintenance.alarms.evaluate import IDLE, RuleState, Signal, on_message, on_tick
from maintenance.alarms.rules import Rule, RuleType, effective
from maintenance.alarms.store import Batch, apply_signal, record_change, stored_rules
from maintenance.db import Database
from maintenance.models import Asset

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
_TELEMETRY_TYPES = (RuleType.THRESHOLD, RuleType.RATE, RuleType.OFFLINE)
_EVENT_TYPES = (RuleType.EVENT, RuleType.REPETITION, RuleType.OFFLINE)
#: the live stream hears which assets sent readings at most this often
FRESHNESS_EVERY_MS = 30_000


@dataclass(frozen=True)
class _AssetRules:
    kind: str
    estate: str
    rules: tuple[Rule, ...]
    telemetry: tuple[Rule, ...]
    events: tuple[Rule, ...]


class AlarmEngine:
    """Evaluates every rule of each message's asset; one transaction per batch that raised or cleared."""

    def __init__(
        self,
        db: Database,
        rules_ttl_s: float = 10.0,
        on_notify: Callable[[], None] | None = None,
        notify: bool = True,
    ) -> None:
        self.db, self.rules_ttl_s, self.on_notify, self.notify = db, rules_ttl_s, on_notify, notify
        self.states: dict[tuple[str, str], RuleState] = {}
        self.last_seen: dict[str, int] = {}
        self._fresh: dict[str, int] = {}
        self._fresh_sent_ms = 0
        self._rules: dict[str, _AssetRules | None] = {}
        self._loaded_at = -1e9
        self.lock = threading.Lock()

    def _load(self) -> None:
        with self.db.transaction() as s:
            stored = stored_rules(s)
            assets = s.execute(sa.select(Asset.id, Asset.kind, Asset.estate_id)).all()
        from facility.contract import AssetKind

        table: dict[str, _AssetRules | None] = {}
        for asset_id, kind, estate in assets:
            rules = tuple(effective(AssetKind(kind), estate, asset_id, stored))
            table[asset_id] = _AssetRules(
                kind,
                estate,
                rules,
                tuple(r for r in rules if r.type in _TELEMETRY_TYPES),
                tuple(r for r in rules if r.type in _EVENT_TYPES),
            )
        self._rules, self._loaded_at = table, time.monotonic()

    def rules(self, asset_id: str) -> _AssetRules | None:
        if time.monotonic() - self._loaded_at > self.rules_ttl_s:
            self._load()
        return self._rules.get(asset_id)

    def reload(self) -> None:
        self._loaded_at = -1e9

    def evaluate(self, messages: Iterable[Message]) -> list[tuple[Rule, Signal]]:
        """Run the pure rules over ``messages`` (in order); returns the signals, the store untouched."""
        out: list[tuple[Rule, Signal]] = []
        for m in messages:
            asset = m.ref.asset
            ar = self.rules(asset)
            if ar is None:
                continue
            if m.ts_ms > self.last_seen.get(asset, 0):
                self.last_seen[asset] = self._fresh[asset] = m.ts_ms
            for rule in ar.telemetry if isinstance(m, Reading) else ar.events:
                key = (asset, rule.key)
                state = self.states.get(key, IDLE)
                new, sig = on_message(rule, state, m)
                if new is not state:
                    self.states[key] = new
                if sig is not None:
                    out.append((rule, sig))
        return out

    def apply(self, signals: Sequence[tuple[Rule, Signal]]) -> int:
        if not signals:
            return 0
        with self.db.transaction() as s:
            batch = Batch(s)
            assets = batch.preload({sig.asset for _, sig in signals})
            for rule, sig in signals:
                asset = assets.get(sig.asset)
                if asset is not None:
                    apply_signal(s, rule, sig, asset, self.notify, batch)
            batch.finish()
        if self.on_notify is not None:
            self.on_notify()
        return len(signals)

    def handle(self, messages: Iterable[Message]) -> int:
        """Evaluate and store; returns the number of signals applied."""
        with self.lock:
            return self.apply(self.evaluate(messages))

    def tick(self, now: dt.datetime) -> int:
        """Offline rules at ``now``, and the readings' freshness for the live stream."""
        now_ms = int(now.timestamp() * 1000)
        with self.lock:
            signals: list[tuple[Rule, Signal]] = []
            for asset, last in self.last_seen.items():
                ar = self.rules(asset)
                if ar is None:
                    continue
                for rule in ar.rules:
                    if rule.type is not RuleType.OFFLINE:
                        continue
                    key = (asset, rule.key)
                    state = self.states.get(key, IDLE)
                    if state.last_ms is None:
                        state = replace(state, last_ms=last)  # keeps ``active``: its clear must still come
                    new, sig = on_tick(rule, state, asset, now_ms)
                    self.states[key] = new
                    if sig is not None:
                        signals.append((rule, sig))
            fresh = {}
            if now_ms - self._fresh_sent_ms >= FRESHNESS_EVERY_MS:
                fresh, self._fresh, self._fresh_sent_ms = self._fresh, {}, now_ms
        n = self.apply(signals)
        if fresh:
            with self.db.transaction() as s:
                record_change(s, "freshness", {"assets": fresh}, now)
        return n


def backfill_alarms(db: Database, messages: Iterable[Message]) -> int:
    """Raise the alarms that history's messages (in time order) would have raised, and the orders their
    rules open, without notifying anyone; returns the signals applied."""
    engine = AlarmEngine(db, rules_ttl_s=1e9, notify=False)
    ordered = sorted(messages, key=lambda m: m.ts_ms)
    total = 0
    for i in range(0, len(ordered), 5000):
        total += engine.handle(ordered[i : i + 5000])
    return total


class AlarmConsumer:
    """Its own (non-shared) persistent MQTT subscription to every device topic, feeding an AlarmEngine.

    Messages are acknowledged once the batch is stored; while the store is down the batch is retried.
    """

    def __init__(self, engine: AlarmEngine, config: object, client_id: str, clock: Clock) -> None:
        from facility.mqtt import AckingConsumer, BrokerConfig

        assert isinstance(config, BrokerConfig)
        self.engine, self.clock = engine, clock
        self.consumer = AckingConsumer(config, client_id, [subscription(None)])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarm-engine", daemon=True)

    @property
    def subscribed(self) -> threading.Event:
        return self.consumer.subscribed

    def _decode(self, batch: Iterable[object]) -> list[Message]:
        now_ms = int(self.clock().timestamp() * 1000)
        out: list[Message] = []
        for edge in batch:
            try:
                out.extend(decode(edge.topic, edge.payload, now_ms))  # type: ignore[attr-defined]
            except ContractError:
                continue  # ingest dead-letters it; an alarm cannot come from it
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.consumer.take(1000, 0.5)
            if not batch:
                continue
            messages = self._decode(batch)
            delay = 0.5
            while not self._stop.is_set():
                try:
                    self.engine.handle(messages)
                    break
                except Exception:
                    log.exception("alarm evaluation failed; retrying in %.1f s", delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, 30.0)
            self.consumer.ack_many(batch)

    def start(self) -> None:
        self.consumer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.consumer.stop()
        self._thread.join(timeout=10)
