"""The ingester: MQTT → validate → line protocol → InfluxDB (or the spool), then acknowledge.

Threads: paho's network thread only enqueues (ingest.mqtt); one writer thread drains the queue in batches,
validates, stores dead letters, writes to InfluxDB — or, when InfluxDB is unreachable, to the local spool —
and only then acknowledges each message. While the spool holds anything, new batches are appended behind it
so points reach InfluxDB in the order they were received.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from facility.settings import Settings
from ingest.accounting import SeqTracker
from ingest.deadletters import DAY_MS, DeadLetter, DeadLetterStore, Retention, device_of
from ingest.floodgate import Floodgate
from ingest.influx import InfluxClient, InfluxError, InfluxRejected, InfluxUnavailable
from ingest.metrics import Metrics
from ingest.mqtt import ingest_consumer
from ingest.pipeline import Prepared, Received, prepare
from ingest.refusals import Refusals, write_checked
from ingest.spool import Source, Spool

log = logging.getLogger(__name__)

#: wait this long for more messages before writing a partial batch (the broker's window may be full)
IDLE_GAP_S = 0.002
RETRY_MIN_S, RETRY_MAX_S = 0.25, 5.0
LOUD_EVERY_S = 5.0
#: lines per InfluxDB request. A batch of 4,000 list messages is 600,000 lines (112 MB): one request took
#: 9.1 s at load 4.5 on 2 cores, against the 10 s timeout, and a request that times out is spooled and
#: replayed whole with the same timeout. 20,000 lines are about 4 MB, well under a second.
WRITE_CHUNK_LINES = 20_000
#: how long ``start()`` waits for the broker to grant the subscription (the session that queues readings)
READY_TIMEOUT_S = 15.0


def ingest_dir(settings: Settings) -> Path:
    return settings.var_dir / "ingest"


def dead_letter_retention(settings: Settings) -> Retention:
    return Retention(
        max_rows=settings.dead_letter_max_rows,
        max_age_ms=round(settings.dead_letter_max_age_days * DAY_MS),
    )


def dead_letter_store(settings: Settings, **kwargs: Any) -> DeadLetterStore:
    """The dead letters in the relational store (``settings.sqlalchemy_url``, migrated on open)."""
    return DeadLetterStore.open(
        settings.sqlalchemy_url,
        dead_letter_retention(settings),
        payload_max_bytes=settings.dead_letter_payload_max_bytes,
        **kwargs,
    )


def field_types_in(influx: InfluxClient) -> Callable[[str], dict[str, str]]:
    """``measurement -> {field: type}`` as InfluxDB holds them (fields with one type across its shards)."""

    def lookup(measurement: str) -> dict[str, str]:
        name = measurement.replace("\\", "\\\\").replace('"', '\\"')
        types: dict[str, set[str]] = {}
        for r in influx.records(f'SHOW FIELD KEYS FROM "{name}"'):
            types.setdefault(str(r["fieldKey"]), set()).add(str(r["fieldType"]))
        return {f: next(iter(t)) for f, t in types.items() if len(t) == 1}

    return lookup


def spool_path(settings: Settings, client_id: str) -> Path:
    return ingest_dir(settings) / f"spool-{re.sub(r'[^A-Za-z0-9_.-]', '_', client_id)}.db"


def influx_client(settings: Settings) -> InfluxClient:
    return InfluxClient.from_settings(settings)


class DatabaseEnsuringWriter:
    """Writes through ``client``; a missing database (InfluxDB restarted empty) is created and the write
    reported as *unavailable* so it is retried — never turned into dead letters."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def write(self, lines: list[str], precision: str = "ms") -> None:
        try:
            self.client.write(lines, precision)
        except InfluxRejected as exc:
            if exc.status != 404 and "database not found" not in exc.body:
                raise
            log.warning("InfluxDB has no database %r: creating it", self.client.database)
            try:
                self.client.create_database()
            except InfluxError as again:
                raise InfluxUnavailable(f"cannot create database: {again}") from exc
            raise InfluxUnavailable("database was missing; created, retrying") from exc


class Ingester:
    """One ingest worker. ``start()`` returns at once (threads); ``stop()`` finishes the current batch."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str | None = None,
        share_group: str | None = None,
        metrics_port: int | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id or settings.ingest_client_id
        group = share_group if share_group is not None else settings.ingest_share_group
        self.influx = influx_client(settings)
        self._writer = DatabaseEnsuringWriter(self.influx)
        self.metrics = Metrics(self.client_id)
        self.dead_letters = dead_letter_store(settings, on_prune=self.metrics.add_pruned)
        self.floodgate = Floodgate(
            settings.dead_letter_device_rate_per_min, settings.dead_letter_device_burst
        )
        self.refusals = Refusals(lookup=field_types_in(self.influx))
        self.spool = Spool(spool_path(settings, self.client_id), settings.spool_max_rows)
        self.tracker = SeqTracker()
        self._changed_devices: set[str] = set()
        self.mqtt = ingest_consumer(
            settings, self.client_id, group or None, on_state=lambda up: self.metrics.connected.set(int(up))
        )
        self.queue = self.mqtt.buffer
        self._metrics_port = settings.metrics_port if metrics_port is None else metrics_port
        self._metrics_server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._retry_s = RETRY_MIN_S
        self._last_loud = 0.0
        self._next_stats = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Start the threads and wait until the broker granted our subscription (True), at most
        ``ready_timeout_s``; False at once if the broker is down or refused us (we keep trying).

        Waiting matters: until the first grant the broker has no session for this client id, so what devices
        publish meanwhile is queued for no one and lost without a trace (their PUBACK says success as soon as
        any other subscriber, e.g. the retain guard, matches). Returning earlier raced a burst of 120 devices.
        """
        try:
            self.influx.create_database()
            self.metrics.influx_up.set(1)
        except InfluxError as exc:
            log.warning("InfluxDB not ready at start (%s); readings will be spooled until it is", exc)
        if self._metrics_port:
            from prometheus_client import start_http_server

            self._metrics_server, _ = start_http_server(
                self._metrics_port, addr="127.0.0.1", registry=self.metrics.registry
            )
        self.metrics.set_depths(self.spool.depth, 0)
        self._thread = threading.Thread(target=self._run, name=f"ingest-writer-{self.client_id}", daemon=True)
        self._thread.start()
        self.mqtt.start()
        if self.mqtt.wait_subscribed(ready_timeout_s):
            return True
        log.error(
            "NOT SUBSCRIBED: the broker at %s:%d has not granted %s its subscription (%s); if it holds no session "
            "for this client id yet, readings published meanwhile are kept for no one. Check the broker and the "
            "ingest account; retrying.",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            self.client_id,
            self.mqtt.refused or "no answer",
        )
        return False

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.mqtt.stop()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        self.dead_letters.close()
        self.spool.close()
        self.influx.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        pending: list[Received] = []
        while not self._stop.is_set():
            batch = pending
            try:
                if self.spool.depth:
                    self._drain_spool(budget_s=0.5)
                batch = batch or self._collect()
                if batch:
                    self._handle(batch)
            except Exception:
                # The batch is neither stored nor acknowledged: retry it (the broker will not resend it
                # on this connection, and acknowledging it unstored is what we never do). Dead letters
                # already committed are not doubled (same topic and payload).
                log.exception("ingest writer failed on a batch of %d messages; retrying it", len(batch))
                pending = batch
                self._stop.wait(0.5)
                continue
            pending = []
            try:
                self._periodic()
            except Exception:
                log.exception("ingest statistics failed")

    def _collect(self) -> list[Received]:
        buf, size = self.queue, self.settings.batch_size
        batch = buf.take(size, 0.1)
        if not batch:
            return []
        deadline = time.monotonic() + self.settings.batch_interval_s
        while len(batch) < size:
            more = buf.take(size - len(batch), 0)
            if not more:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                more = buf.take(size - len(batch), min(remaining, IDLE_GAP_S))
                if not more:
                    break
            batch += more
        return batch

    def _handle(self, batch: list[Received]) -> None:
        prep = prepare(batch)
        self._dead(prep.dead)
        while not self._store(prep, batch):
            if self._stop.wait(0.5):
                return  # shutting down: not acked, the broker will deliver these again
            self._drain_spool(budget_s=0.5)
            self._periodic()
        self.metrics.add_received(len(batch))
        self.metrics.add_cleared(prep.cleared)
        acked = self.mqtt.ack_many(batch)
        self.metrics.add_acked(acked)
        self._account(prep)
        self.metrics.set_depths(self.spool.depth, len(self.queue))

    def _dead(self, letters: list[DeadLetter]) -> None:
        """Store dead letters (committed on return); a flooding device's are counted, not stored."""
        if not letters:
            return
        keep: list[DeadLetter] = []
        by_reason: Counter[str] = Counter()
        by_device: Counter[str] = Counter()
        gate = self.floodgate
        for d in letters:
            self.metrics.add_dead(d.reason)
            device = device_of(d.topic)
            if gate.admit(device, d.received_at_ms):
                keep.append(d)
            else:
                by_reason[d.reason] += 1
                by_device[device] += 1
        self.dead_letters.add_many(keep)
        if by_reason:
            self.dead_letters.add_suppressed(by_reason, by_device, int(time.time() * 1000))
            self.metrics.add_suppressed(by_reason)

    def _store(self, prep: Prepared, batch: list[Received]) -> bool:
        """True once the batch's lines are durable (InfluxDB or spool)."""
        lines = prep.lines
        if not lines:
            return True
        if self.spool.depth == 0 and time.monotonic() >= self._retry_at:
            try:
                rejected = self._write_checked(lines)
            except InfluxUnavailable as exc:
                self._influx_down(exc)
            else:
                self._influx_ok()
                sources = [batch[prep.owners[i]] for i, _ in rejected]
                self._reject(rejected, [(s.topic, s.payload) for s in sources])
                self.metrics.add_stored(len(lines) - len(rejected))
                self._observe_lag(prep)
                return True
        if self.spool.has_room(len(lines)):
            self.spool.append(lines, [(batch[o].topic, batch[o].payload) for o in prep.owners])
            self.metrics.add_stored(len(lines))
            return True
        now = time.monotonic()
        if now - self._last_loud >= LOUD_EVERY_S:
            self._last_loud = now
            log.error(
                "SPOOL FULL (%d of %d points) and InfluxDB unavailable: NOT acknowledging; the broker keeps "
                "the backlog. Start InfluxDB or raise FACILITY_SPOOL_MAX_ROWS.",
                self.spool.depth,
                self.spool.max_rows,
            )
        return False

    def _write_checked(self, lines: list[str]) -> list[tuple[int, str]]:
        """:func:`write_checked` in requests of at most ``WRITE_CHUNK_LINES``; (index, why) of refused lines.
        If InfluxDB becomes unavailable midway the whole batch is retried: rewriting a point is harmless."""
        rejected: list[tuple[int, str]] = []
        for start in range(0, len(lines), WRITE_CHUNK_LINES):
            part = write_checked(self._writer, lines[start : start + WRITE_CHUNK_LINES], self.refusals)
            rejected += [(start + i, why) for i, why in part]
        return rejected

    def _reject(self, rejected: list[tuple[int, str]], sources: list[Source]) -> None:
        """Lines InfluxDB refused become dead letters (one per source message)."""
        if not rejected:
            return
        now_ms = int(time.time() * 1000)
        seen: set[tuple[str, bytes]] = set()
        letters = []
        for (_, why), src in zip(rejected, sources, strict=True):
            if src in seen:
                continue
            seen.add(src)
            letters.append(DeadLetter(src[0], src[1], "rejected_by_store", why, now_ms))
        self._dead(letters)
        log.warning("InfluxDB refused %d line(s); kept as dead letters: %s", len(rejected), rejected[0][1])

    def _drain_spool(self, budget_s: float) -> None:
        end = time.monotonic() + budget_s
        while self.spool.depth and time.monotonic() < end and time.monotonic() >= self._retry_at:
            head = self.spool.head()
            if head is None:
                return
            batch_id, lines, sources = head
            try:
                rejected = self._write_checked(lines)
            except InfluxUnavailable as exc:
                self._influx_down(exc)
                return
            self._influx_ok()
            # a batch spooled before sources were kept: the line itself is all we have
            src = sources or [("(spool)", line.encode()) for line in lines]
            self._reject(rejected, [src[i] for i, _ in rejected])
            self.spool.pop(batch_id)
            self.metrics.set_depths(self.spool.depth, len(self.queue))
            if not self.spool.depth:
                log.info("spool replayed into InfluxDB")

    def _influx_down(self, exc: Exception) -> None:
        if self._retry_s == RETRY_MIN_S:
            log.warning("InfluxDB unavailable (%s): spooling to %s", exc, self.spool.path)
        self.metrics.influx_up.set(0)
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(RETRY_MAX_S, self._retry_s * 2)

    def _influx_ok(self) -> None:
        self._retry_s = RETRY_MIN_S
        self._retry_at = 0.0
        self.metrics.influx_up.set(1)

    def _observe_lag(self, prep: Prepared) -> None:
        if not prep.seqs:
            return
        now_ms = time.time() * 1000
        newest = max(ts for _, _, ts in prep.seqs)
        oldest = min(ts for _, _, ts in prep.seqs)
        self.metrics.last_lag_ms = now_ms - newest
        self.metrics.lag.observe(max(0.0, (now_ms - oldest) / 1000))

    def _account(self, prep: Prepared) -> None:
        observe, changed = self.tracker.observe, self._changed_devices
        for device, seq, _ in prep.seqs:
            if seq is not None:
                observe(device, seq)
                changed.add(device)

    def _periodic(self) -> None:
        now = time.monotonic()
        if now < self._next_stats:
            return
        self._next_stats = now + self.settings.stats_interval_s
        self.metrics.set_depths(self.spool.depth, len(self.queue))
        changed, self._changed_devices = self._changed_devices, set()
        self.metrics.update_seq(self.tracker, changed)
        self.metrics.update_rate(now)
        self.metrics.flooding.set(len(self.floodgate.flooding(int(time.time() * 1000))))
        try:
            self.dead_letters.prune()  # the age limit, even while no new dead letter arrives
        except sa.exc.SQLAlchemyError as exc:
            log.warning("dead-letter retention not applied this round: %s", exc)
        if self.spool.depth or time.monotonic() < self._retry_at:
            return
        try:
            self.influx.write(self.metrics.stats_lines(self.tracker, changed, int(time.time() * 1000)))
        except InfluxError as exc:  # statistics are best effort, readings are not
            log.warning("could not write ingest_stats: %s", exc)

    # ------------------------------------------------------------------ for tests and the API
    def snapshot(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "worker": self.client_id,
            "received": m.n_received,
            "stored": m.n_stored,
            "acked": m.n_acked,
            "dead_letters": dict(m.n_dead),
            "retained_deletes": m.n_cleared,
            "spool_depth": self.spool.depth,
            "queue_depth": len(self.queue),
            "connected": self.mqtt.connected,
            **{f"seq_{k}": v for k, v in self.tracker.totals().items()},
        }
