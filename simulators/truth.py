"""Ground truth: what really happened inside the simulators (failures, repairs, hidden health).

One JSON object per line, in the order things happened per asset:

    {"ts": 1767225600000, "asset": "lvyuan-b1-el1", "kind": "elevator", "type": "failure",
     "code": "door_fault", "health": 0.31, "hazard_per_h": 0.0031}

``type`` is ``failure`` (the fault event's time), ``repair`` (``preventive`` true/false; ``was_down`` says
whether it ended a failure), ``health`` (a periodic sample of the hidden state) or ``false_alarm``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import orjson


@dataclass(frozen=True)
class TruthRecord:
    ts: int  # epoch ms
    asset: str
    kind: str
    type: str  # failure | repair | health | false_alarm
    health: float
    hazard_per_h: float
    code: str = ""
    preventive: bool | None = None
    was_down: bool | None = None

    def to_json(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None and v != ""}
        return orjson.dumps(body)


class TruthWriter:
    """Appends truth records to a JSONL file (flushes after each batch)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[bytes] = path.open("ab")

    def write(self, records: Iterable[TruthRecord]) -> None:
        for r in records:
            self._fh.write(r.to_json() + b"\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> TruthWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_truth(path: Path) -> Iterator[TruthRecord]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield TruthRecord(**orjson.loads(line))
