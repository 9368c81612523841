"""A bounded hand-off from paho's network thread to the writer, cheaper than ``queue.Queue``.

``put`` appends to a deque (atomic under the GIL) and blocks — polling, 1 ms — only while the buffer is
full; that stalls paho's network loop, which is the backpressure we want (see ingest.mqtt). ``take``
returns up to ``n`` items at once and waits on an Event only when the buffer is empty.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedBuffer(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize <= 0:
            raise ValueError(f"maxsize must be positive, but was {maxsize!r}")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._ready = threading.Event()
        #: True while the consumer may be asleep on ``_ready`` (so producers set it only then)
        self._waiting = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        items = self._items
        while len(items) >= self.maxsize and not self.closed:
            time.sleep(0.001)
        items.append(item)
        if self._waiting:
            self._ready.set()

    def take(self, n: int, timeout_s: float) -> list[T]:
        """Up to ``n`` items, oldest first; waits up to ``timeout_s`` for the first one."""
        items = self._items
        if not items:
            self._waiting = True
            self._ready.clear()
            try:
                if not items and not self._ready.wait(timeout_s):
                    return []
            finally:
                self._waiting = False
        popleft = items.popleft
        out = []
        for _ in range(min(n, len(items))):
            out.append(popleft())
        return out

    def close(self) -> None:
        """Unblock producers (at shutdown: what they add is never acknowledged, so it comes again)."""
        self.closed = True
