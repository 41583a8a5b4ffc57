"""Keyed state across batches."""

import freshet
from conftest import run_batches


def running_count(new_values, last):
    return (last or 0) + sum(new_values)


def test_update_state_by_key_keeps_running_totals(workers):
    got = run_batches(
        [[("a", 1), ("b", 1)], [("a", 1)], [], [("b", 5)]],
        lambda s: s.update_state_by_key(running_count),
        workers,
    )
    assert got[:4] == [
        [("a", 1), ("b", 1)],
        [("a", 2), ("b", 1)],
        [("a", 2), ("b", 1)],
        [("a", 2), ("b", 6)],
    ]


def test_returning_none_removes_the_key(workers):
    def until_three(new_values, last):
        total = (last or 0) + len(new_values)
        return None if total >= 3 else total

    got = run_batches(
        [[("a", 0), ("b", 0)], [("a", 0), ("a", 0)], [("b", 0)]],
        lambda s: s.update_state_by_key(until_three),
        workers,
    )
    assert got[:3] == [[("a", 1), ("b", 1)], [("b", 1)], [("b", 2)]]


def test_state_can_be_any_value(workers):
    def seen(new_values, last):
        return sorted(set(last or []) | set(new_values))

    got = run_batches([[("k", "x")], [("k", "y"), ("k", "x")]], lambda s: s.update_state_by_key(seen), workers)
    assert got[:2] == [[("k", ["x"])], [("k", ["x", "y"])]]


def test_manual_clock_drives_batches():
    ssc = freshet.StreamingContext(1.0, manual_clock_start_ms=0)
    counts = ssc.queue_stream([[("a", 1)], [("a", 1)], [("a", 1)]]).update_state_by_key(running_count)
    collected = counts.collect_batches()
    ssc.start()
    for second in (1, 2, 3):
        ssc.advance_clock(1.0)
        ssc.await_batch(second * 1000, timeout=30)
    ssc.stop()
    values = [dict(records).get("a") for _, records in collected.batches()]
    assert values[:3] == [1, 2, 3]
