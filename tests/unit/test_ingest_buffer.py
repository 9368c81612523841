from __future__ import annotations

import threading

from ingest.buffer import BoundedBuffer


def test_take_returns_items_in_order_in_chunks() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(10)
    for i in range(7):
        buf.put(i)
    assert buf.take(5, 0) == [0, 1, 2, 3, 4]
    assert buf.take(5, 0) == [5, 6]
    assert buf.take(5, 0.01) == []


def test_put_blocks_while_full_and_nothing_is_dropped() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(3)
    done = threading.Event()

    def producer() -> None:
        for i in range(10):
            buf.put(i)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.1)  # stuck at the bound
    assert len(buf) == 3
    got: list[int] = []
    while len(got) < 10:
        got += buf.take(2, 1.0)
    t.join(2)
    assert done.is_set() and got == list(range(10))


def test_consumer_wakes_when_an_item_arrives() -> None:
    buf: BoundedBuffer[str] = BoundedBuffer(3)
    threading.Timer(0.05, buf.put, args=("x",)).start()
    assert buf.take(3, 5.0) == ["x"]
