"""Dead letters: every message refused (by the ingester or the maintenance listener), in the relational store.

Tables in :mod:`ingest.store_models` (Alembic revision 0007): SQLite by default, PostgreSQL in a deployment,
so the API (another process) serves them and they outlive the container that wrote them. A message is
acknowledged to the broker only after its dead letter is committed. A redelivered message (same source,
topic and payload) is stored once and its ``deliveries`` counted, so counts are per message.

What is kept of a message: its topic, the first ``payload_max_bytes`` of its payload, the payload's length
and SHA-256 (so a letter cut short can still be matched with what a device sent), reason, message, time.

Retention (:class:`Retention`): at most ``max_rows`` letters and none older than ``max_age_ms`` (by the time
first received); the oldest go first. It is enforced in the transaction that inserts, at a cost that does not
grow with the table: the row count is kept in ``dead_letter_meta`` (no ``COUNT(*)``), the excess is found by
walking the primary key from the oldest end, and old letters through an index on ``received_at_ms``. Letters
pruned are counted per reason (``dead_letter_tallies``, kind ``pruned``), as are letters of a flooding device
that were counted but never stored (kind ``suppressed``), so :meth:`DeadLetterStore.counts` counts every
letter ever refused. Writers take the ``rows`` meta row first, which serialises them on both databases.
"""

from __future__ import annotations

import builtins
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from ingest.store_models import DeadLetterFlood, DeadLetterMeta, DeadLetterRow, DeadLetterTally

DAY_MS = 86_400_000
#: how much of a refused payload is kept by default (its length and SHA-256 are always kept)
PAYLOAD_MAX_BYTES = 4096
PRUNED, SUPPRESSED = "pruned", "suppressed"
MIGRATE_TRIES = 5
_IN_CHUNK = 500

_letters = cast(sa.Table, DeadLetterRow.__table__)
_tallies = cast(sa.Table, DeadLetterTally.__table__)
_meta = cast(sa.Table, DeadLetterMeta.__table__)
_floods = cast(sa.Table, DeadLetterFlood.__table__)


@dataclass(frozen=True)
class Retention:
    """How many dead letters to keep and for how long (0 = no limit)."""

    max_rows: int = 0
    max_age_ms: int = 0

    def __post_init__(self) -> None:
        if self.max_rows < 0:
            raise ValueError(
                f"dead-letter max_rows must be 0 (no limit) or positive, but was {self.max_rows!r}:"
                " set FACILITY_DEAD_LETTER_MAX_ROWS"
            )
        if self.max_age_ms < 0:
            raise ValueError(
                f"dead-letter max age must be 0 (no limit) or positive, but was {self.max_age_ms!r} ms:"
                " set FACILITY_DEAD_LETTER_MAX_AGE_DAYS"
            )

    @property
    def bounded(self) -> bool:
        return bool(self.max_rows or self.max_age_ms)


@dataclass(frozen=True)
class DeadLetter:
    """A refused message. ``payload`` is what is kept (maybe cut short); ``payload_bytes`` / ``payload_sha256``
    describe the whole payload (computed from ``payload`` when not given)."""

    topic: str
    payload: bytes
    reason: str
    message: str
    received_at_ms: int
    id: int | None = None
    source: str = "ingest"
    payload_bytes: int | None = None
    payload_sha256: bytes | None = None
    deliveries: int = 1

    @property
    def size(self) -> int:
        return len(self.payload) if self.payload_bytes is None else self.payload_bytes

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.payload).digest() if self.payload_sha256 is None else self.payload_sha256


def device_of(topic: str) -> str:
    """The device a topic belongs to: its first five levels (``facility/e/b/kind/asset``)."""
    return "/".join(topic.split("/", 5)[:5])


class DeadLetterStore:
    """The dead-letter tables through ``engine``. ``retention`` None (the API's readers) never prunes;
    ``clock`` gives unix seconds for the age limit; ``on_prune`` hears ``{reason: letters}`` after each prune
    that removed some."""

    def __init__(
        self,
        engine: sa.Engine,
        retention: Retention | None = None,
        clock: Callable[[], float] = time.time,
        on_prune: Callable[[dict[str, int]], None] | None = None,
        payload_max_bytes: int = PAYLOAD_MAX_BYTES,
        owns_engine: bool = False,
    ) -> None:
        if payload_max_bytes < 0:
            raise ValueError(
                f"payload_max_bytes must be 0 or positive, but was {payload_max_bytes!r}:"
                " set FACILITY_DEAD_LETTER_PAYLOAD_MAX_BYTES"
            )
        self.engine = engine
        self.retention = retention or Retention()
        self.clock = clock
        self.on_prune = on_prune
        self.payload_max_bytes = payload_max_bytes
        self._owns_engine = owns_engine
        self._ensure_meta()

    @classmethod
    def open(cls, url: str, retention: Retention | None = None, **kwargs: Any) -> DeadLetterStore:
        """Migrate the store at ``url`` (idempotent) and open it; :meth:`close` disposes of the engine."""
        from maintenance.db import make_engine, migrate

        for attempt in range(1, MIGRATE_TRIES + 1):
            try:
                migrate(url)
                break
            except sa.exc.OperationalError:
                # on SQLite two processes starting together may both try to create the tables ("already
                # exists"): the other one finished the work, so the next attempt finds it done
                if attempt == MIGRATE_TRIES:
                    raise
                time.sleep(0.5 * attempt)
        return cls(make_engine(url), retention, owns_engine=True, **kwargs)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # ------------------------------------------------------------------ writing
    def add_many(self, letters: Iterable[DeadLetter]) -> int:
        """Store letters in one transaction (committed on return), pruning in it; returns how many."""
        keep = self.payload_max_bytes
        rows: dict[bytes, dict[str, Any]] = {}
        again: Counter[bytes] = Counter()
        n = 0
        for d in letters:
            n += 1
            digest = d.sha256
            ident = hashlib.sha256(b"%s\0%s\0%s" % (d.source.encode(), d.topic.encode(), digest)).digest()
            if ident in rows:
                again[ident] += 1
                continue
            rows[ident] = {
                "source": d.source,
                "topic": d.topic,
                "payload": d.payload[:keep],
                "payload_bytes": d.size,
                "payload_sha256": digest,
                "identity": ident,
                "reason": d.reason,
                "message": d.message,
                "received_at_ms": d.received_at_ms,
                "deliveries": 1,
            }
        if not rows:
            return 0
        now_ms = self._now_ms()
        with self.engine.begin() as c:
            count = self._lock(c)
            idents = list(rows)
            for i in range(0, len(idents), _IN_CHUNK):
                chunk = idents[i : i + _IN_CHUNK]
                for (ident,) in c.execute(
                    sa.select(_letters.c.identity).where(_letters.c.identity.in_(chunk))
                ):
                    again[bytes(ident)] += 1
                    del rows[bytes(ident)]
            if rows:
                c.execute(sa.insert(_letters), list(rows.values()))
            if again:
                c.execute(
                    sa.update(_letters)
                    .where(_letters.c.identity == sa.bindparam("ident"))
                    .values(deliveries=_letters.c.deliveries + sa.bindparam("more")),
                    [{"ident": k, "more": v} for k, v in again.items()],
                )
            pruned = self._prune(c, now_ms, count + len(rows))
        self._report(pruned)
        return n

    def add_suppressed(self, by_reason: Mapping[str, int], by_device: Mapping[str, int], now_ms: int) -> None:
        """Count letters of flooding devices that were not stored: per reason, and per device (with times)."""
        if not by_reason and not by_device:
            return
        with self.engine.begin() as c:
            self._lock(c)
            self._tally(c, SUPPRESSED, by_reason)
            for device, n in by_device.items():
                done = c.execute(
                    sa.update(_floods)
                    .where(_floods.c.device == device)
                    .values(last_ms=now_ms, suppressed=_floods.c.suppressed + n)
                ).rowcount
                if not done:
                    c.execute(
                        sa.insert(_floods).values(
                            device=device, first_ms=now_ms, last_ms=now_ms, suppressed=n
                        )
                    )

    def prune(self, now_ms: int | None = None) -> dict[str, int]:
        """Apply the retention now (also done by every insert); returns ``{reason: letters removed}``."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        with self.engine.connect() as c:
            due = self._due(c, now_ms)
        if not due:
            return {}
        with self.engine.begin() as c:
            pruned = self._prune(c, now_ms, self._lock(c))
        self._report(pruned)
        return pruned

    # ------------------------------------------------------------------ reading
    def list(
        self, reason: str | None = None, limit: int = 100, source: str | None = None
    ) -> list[DeadLetter]:
        """Newest first, optionally only one reason and/or one source."""
        t = _letters
        q = sa.select(
            t.c.topic,
            t.c.payload,
            t.c.reason,
            t.c.message,
            t.c.received_at_ms,
            t.c.id,
            t.c.source,
            t.c.payload_bytes,
            t.c.payload_sha256,
            t.c.deliveries,
        )
        if reason:
            q = q.where(t.c.reason == reason)
        if source:
            q = q.where(t.c.source == source)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(t.c.id.desc()).limit(limit)).all()
        return [
            DeadLetter(r[0], bytes(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], bytes(r[8]), r[9]) for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Dead letters per reason, ever refused: those kept, those retention removed, those suppressed."""
        total = Counter(self.kept_counts())
        total.update(self.pruned_counts())
        total.update(self.suppressed_counts())
        return dict(total)

    def kept_counts(self) -> dict[str, int]:
        """Dead letters per reason still in the table (what :meth:`list` can show)."""
        q = sa.select(_letters.c.reason, sa.func.count()).group_by(_letters.c.reason)
        with self.engine.connect() as c:
            return {r: int(n) for r, n in c.execute(q)}

    def pruned_counts(self) -> dict[str, int]:
        """Dead letters per reason removed by retention."""
        return self._tallies(PRUNED)

    def suppressed_counts(self) -> dict[str, int]:
        """Dead letters per reason of flooding devices, counted but never stored."""
        return self._tallies(SUPPRESSED)

    def floods(self) -> builtins.list[dict[str, Any]]:
        """Devices whose letters were suppressed: device, first_ms, last_ms, suppressed (newest first)."""
        q = sa.select(_floods).order_by(_floods.c.last_ms.desc()).limit(1000)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def kept(self) -> int:
        """How many dead letters the table holds."""
        with self.engine.connect() as c:
            return int(c.execute(sa.select(_meta.c.value).where(_meta.c.key == "rows")).scalar_one())

    # ------------------------------------------------------------------ inside a transaction
    def _ensure_meta(self) -> None:
        """The ``rows`` meta row (the migration makes it; a table emptied or filled by hand is recounted)."""
        with self.engine.connect() as c:
            if c.execute(sa.select(_meta.c.value).where(_meta.c.key == "rows")).first() is not None:
                return
        try:
            with self.engine.begin() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(_letters)).scalar_one()
                c.execute(sa.insert(_meta).values(key="rows", value=n))
        except sa.exc.IntegrityError:
            pass  # another process made it first

    def _lock(self, c: sa.Connection) -> int:
        """Take the writers' lock (the ``rows`` meta row) and return the number of letters kept."""
        c.execute(sa.update(_meta).where(_meta.c.key == "rows").values(value=_meta.c.value))
        return int(c.execute(sa.select(_meta.c.value).where(_meta.c.key == "rows")).scalar_one())

    def _tallies(self, kind: str) -> dict[str, int]:
        q = sa.select(_tallies.c.reason, _tallies.c.letters).where(_tallies.c.kind == kind)
        with self.engine.connect() as c:
            return {r: int(n) for r, n in c.execute(q)}

    def _tally(self, c: sa.Connection, kind: str, by_reason: Mapping[str, int]) -> None:
        for reason, n in sorted(by_reason.items()):
            done = c.execute(
                sa.update(_tallies)
                .where(_tallies.c.reason == reason, _tallies.c.kind == kind)
                .values(letters=_tallies.c.letters + n)
            ).rowcount
            if not done:
                c.execute(sa.insert(_tallies).values(reason=reason, kind=kind, letters=n))

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _due(self, c: sa.Connection, now_ms: int) -> bool:
        """Whether :meth:`_prune` would remove anything (two index probes, no write lock)."""
        keep = self.retention
        if keep.max_rows:
            rows = c.execute(sa.select(_meta.c.value).where(_meta.c.key == "rows")).scalar_one()
            if rows > keep.max_rows:
                return True
        return bool(keep.max_age_ms and self._oldest_before(c, now_ms - keep.max_age_ms))

    @staticmethod
    def _oldest_before(c: sa.Connection, cutoff: int) -> bool:
        """Whether any letter is older than ``cutoff``: ``min()`` over the index (a ``WHERE ... LIMIT 1``
        lets PostgreSQL's planner scan the whole table when nothing matches)."""
        oldest = c.execute(sa.select(sa.func.min(_letters.c.received_at_ms))).scalar()
        return oldest is not None and int(oldest) < cutoff

    def _prune(self, c: sa.Connection, now_ms: int, rows: int) -> dict[str, int]:
        t, keep = _letters, self.retention
        removed: Counter[str] = Counter()
        if keep.max_age_ms and self._oldest_before(c, now_ms - keep.max_age_ms):
            cutoff = now_ms - keep.max_age_ms
            old = c.execute(sa.select(t.c.reason).where(t.c.received_at_ms < cutoff)).all()
            if old:
                c.execute(sa.delete(t).where(t.c.received_at_ms < cutoff))
                removed.update(r for (r,) in old)
        rows -= removed.total()
        if keep.max_rows and rows > keep.max_rows:
            oldest = c.execute(
                sa.select(t.c.id, t.c.reason).order_by(t.c.id).limit(rows - keep.max_rows)
            ).all()
            c.execute(sa.delete(t).where(t.c.id <= oldest[-1][0]))
            removed.update(r for _, r in oldest)
            rows = keep.max_rows
        c.execute(sa.update(_meta).where(_meta.c.key == "rows").values(value=rows))
        self._tally(c, PRUNED, removed)
        return dict(removed)

    def _report(self, pruned: dict[str, int]) -> None:
        if pruned and self.on_prune is not None:
            self.on_prune(pruned)
