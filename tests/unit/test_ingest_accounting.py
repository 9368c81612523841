from __future__ import annotations

import numpy as np

from ingest.accounting import SeqTracker


def feed(seqs: list[int], window: int = 16) -> SeqTracker:
    t = SeqTracker(window=window)
    for s in seqs:
        t.observe("dev", s)
    return t


def test_in_order_stream_has_no_loss() -> None:
    t = feed(list(range(100)))
    d = t.devices["dev"]
    assert (d.received, d.gaps, d.duplicates, d.resets) == (100, 0, 0, 0)


def test_gaps_are_declared_once_out_of_window() -> None:
    seqs = [s for s in range(100) if s not in (10, 11, 50)]
    t = feed(seqs)
    assert t.devices["dev"].gaps == 3
    t2 = feed([0, 1, 2, 3, 4, 7])
    assert t2.devices["dev"].gaps == 0 and t2.pending_gaps("dev") == 2


def test_big_jump_counts_every_missing_number() -> None:
    t = feed([0, 1, 2, 100, 101])  # 3..99 lost = 97 numbers
    assert t.devices["dev"].gaps + t.pending_gaps("dev") == 97


def test_duplicates_and_reordering() -> None:
    t = feed([0, 1, 3, 2, 2, 1, 4, 5])
    d = t.devices["dev"]
    assert (d.gaps, d.duplicates, t.pending_gaps("dev")) == (0, 2, 0)


def test_reset_to_zero_closes_the_old_stream() -> None:
    t = feed([s for s in range(40) if s != 30] + [0, 1, 2])
    d = t.devices["dev"]
    assert (d.resets, d.gaps, d.duplicates, d.received) == (1, 1, 0, 42)


def test_reset_from_a_stream_whose_zero_we_never_saw() -> None:
    d = feed([5, 6, 7, 0, 1]).devices["dev"]
    assert (d.resets, d.gaps, d.duplicates) == (1, 0, 0)


def test_redelivery_of_first_message_is_a_duplicate_not_a_reset() -> None:
    d = feed([0, 1, 2, 0]).devices["dev"]
    assert (d.resets, d.duplicates) == (0, 1)


def test_random_loss_with_duplicates_and_local_reordering_is_counted_exactly() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    kept = [s for s in range(n) if rng.random() > 0.03]
    lost = n - len(kept)
    # local shuffles (within 4) and 2% redeliveries
    order = sorted(range(len(kept)), key=lambda i: i + rng.uniform(0, 4))
    stream: list[int] = []
    dups = 0
    for i in order:
        stream.append(kept[i])
        if rng.random() < 0.02:
            stream.append(kept[i])
            dups += 1
    t = feed(stream, window=64)
    assert t.devices["dev"].gaps + t.pending_gaps("dev") == lost - (n - 1 - max(kept))
    assert t.devices["dev"].duplicates == dups


def test_a_jump_ahead_beyond_a_million_is_a_new_stream_not_a_million_gaps() -> None:
    t = SeqTracker(window=16)
    for s in [0, 1, 2, 4, *range(4_000_000_000, 4_000_000_040)]:
        t.observe("dev", s)
    d = t.devices["dev"]
    assert (d.received, d.gaps, d.resets, d.duplicates) == (44, 1, 1, 0)  # 3 was lost, then a new stream
    t.observe("dev", 4_000_000_000 + 1_048_576 + 39)  # exactly max_jump ahead: still counted as gaps
    d = t.devices["dev"]
    assert (d.gaps + t.pending_gaps("dev"), d.resets) == (1 + 1_048_575, 1)
