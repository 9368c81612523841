"""What the ingester counts: a Prometheus registry (served on ``/metrics``) and ``ingest_stats`` points.

``ingest_stats`` (written to InfluxDB every ``stats_interval_s``, receiver clock, see docs/ingest.md):

    ingest_stats,worker=<id> received=..i,stored=..i,dead_letters=..i,spool_depth=..i,queue_depth=..i,
                             gaps=..i,pending_gaps=..i,duplicates=..i,resets=..i,lag_ms=..,rate=..
    ingest_stats,worker=<id>,estate=..,building=..,kind=..,asset=.. received=..i,gaps=..i,duplicates=..i,
                             resets=..i,pending_gaps=..i
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.accounting import SeqTracker
from ingest.lineprotocol import escape_tag

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class Metrics:
    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("ingest_messages_received", "MQTT messages received", registry=r)
        self.stored = Counter("ingest_points_stored", "points written to InfluxDB or the spool", registry=r)
        self.acked = Counter("ingest_messages_acked", "messages acknowledged to the broker", registry=r)
        self.dead = Counter("ingest_dead_letters", "messages refused, by reason", ["reason"], registry=r)
        self.cleared = Counter(
            "ingest_retained_deletes",
            "zero-length messages (a retained message's delete, e.g. by the retain guard): acknowledged, not stored",
            registry=r,
        )
        self.pruned = Counter(
            "ingest_dead_letters_pruned",
            "dead letters removed by retention (FACILITY_DEAD_LETTER_MAX_ROWS / _MAX_AGE_DAYS), by reason",
            ["reason"],
            registry=r,
        )
        self.suppressed = Counter(
            "ingest_dead_letters_suppressed",
            "dead letters of flooding devices counted but not stored (FACILITY_DEAD_LETTER_DEVICE_RATE_PER_MIN)",
            ["reason"],
            registry=r,
        )
        self.flooding = Gauge(
            "ingest_flooding_devices",
            "devices whose dead letters were suppressed in the last minute (alarm when > 0)",
            registry=r,
        )
        self.spool_depth = Gauge("ingest_spool_depth", "points waiting in the local spool", registry=r)
        self.queue_depth = Gauge("ingest_queue_depth", "messages received, not yet processed", registry=r)
        self.connected = Gauge("ingest_mqtt_connected", "1 while connected to the broker", registry=r)
        self.influx_up = Gauge("ingest_influx_up", "1 while InfluxDB accepts writes", registry=r)
        self.lag = Histogram(
            "ingest_lag_seconds", "device timestamp to stored in InfluxDB", buckets=LAG_BUCKETS, registry=r
        )
        self.gaps = Gauge("ingest_seq_gaps", "sequence numbers never received (all devices)", registry=r)
        self.duplicates = Gauge("ingest_seq_duplicates", "sequence numbers received again", registry=r)
        self.resets = Gauge("ingest_seq_resets", "device counter restarts", registry=r)
        self.pending = Gauge(
            "ingest_seq_pending", "numbers missing but still inside the reorder window", registry=r
        )
        self.rate = Gauge(
            "ingest_rate_msgs_per_s", "messages received per second (last interval)", registry=r
        )
        self.device_gaps = Gauge(
            "ingest_device_seq_gaps", "sequence numbers never received, per device", ["device"], registry=r
        )
        self.last_lag_ms = 0.0
        self.last_rate = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self.n_received = 0
        self.n_stored = 0
        self.n_acked = 0
        self.n_dead: dict[str, int] = {}
        self.n_cleared = 0
        self.n_spool = 0
        self.n_queue = 0

    def add_received(self, n: int) -> None:
        self.n_received += n
        self.received.inc(n)

    def add_stored(self, n: int) -> None:
        self.n_stored += n
        self.stored.inc(n)

    def add_acked(self, n: int) -> None:
        self.n_acked += n
        self.acked.inc(n)

    def add_dead(self, reason: str, n: int = 1) -> None:
        self.n_dead[reason] = self.n_dead.get(reason, 0) + n
        self.dead.labels(reason).inc(n)

    def add_cleared(self, n: int) -> None:
        if n:
            self.n_cleared += n
            self.cleared.inc(n)

    def add_pruned(self, by_reason: dict[str, int]) -> None:
        for reason, n in by_reason.items():
            self.pruned.labels(reason).inc(n)

    def add_suppressed(self, by_reason: dict[str, int]) -> None:
        for reason, n in by_reason.items():
            self.suppressed.labels(reason).inc(n)

    def set_depths(self, spool: int, queue: int) -> None:
        self.n_spool, self.n_queue = spool, queue
        self.spool_depth.set(spool)
        self.queue_depth.set(queue)

    def update_rate(self, now_s: float) -> None:
        if self._rate_mark is not None and now_s > self._rate_mark[0]:
            self.last_rate = (self.n_received - self._rate_mark[1]) / (now_s - self._rate_mark[0])
            self.rate.set(self.last_rate)
        self._rate_mark = (now_s, self.n_received)

    def update_seq(self, tracker: SeqTracker, devices: set[str]) -> None:
        t = tracker.totals()
        self.gaps.set(t["gaps"])
        self.duplicates.set(t["duplicates"])
        self.resets.set(t["resets"])
        self.pending.set(t["pending"])
        for dev in devices:
            self.device_gaps.labels(dev).set(tracker.devices[dev].gaps)

    def stats_lines(self, tracker: SeqTracker, devices: set[str], now_ms: int) -> list[str]:
        """``ingest_stats`` points: one for the worker, one per device whose counters moved."""
        w = escape_tag(self.worker)
        t = tracker.totals()
        lines = [
            f"ingest_stats,worker={w} received={self.n_received}i,"
            f"stored={self.n_stored}i,dead_letters={sum(self.n_dead.values())}i,"
            f"spool_depth={self.n_spool}i,queue_depth={self.n_queue}i,"
            f"gaps={t['gaps']}i,pending_gaps={t['pending']}i,duplicates={t['duplicates']}i,resets={t['resets']}i,"
            f"lag_ms={float(self.last_lag_ms)!r},rate={float(self.last_rate)!r} {now_ms}"
        ]
        for dev in sorted(devices):
            parts = dev.split("/")
            if len(parts) != 5:
                continue
            _, estate, building, kind, asset = parts
            d = tracker.devices[dev]
            lines.append(
                f"ingest_stats,worker={w},estate={escape_tag(estate)},building={escape_tag(building)},"
                f"kind={escape_tag(kind)},asset={escape_tag(asset)} received={d.received}i,gaps={d.gaps}i,"
                f"duplicates={d.duplicates}i,resets={d.resets}i,pending_gaps={tracker.pending_gaps(dev)}i "
                f"{now_ms}"
            )
        return lines
