"""Windows over streams: plain, incremental with an inverse function, counts."""

import operator

import pytest

import freshet
from conftest import run_batches

# One record per batch: batch i holds ("k", i + 1) and ("j", 1).
BATCHES = [[("k", i + 1), ("j", 1)] for i in range(6)]


def window_sums(n):
    """The expected sums of k over windows of n batches sliding by one batch."""
    values = [i + 1 for i in range(6)]
    return [sum(values[max(0, i - n + 1) : i + 1]) for i in range(6)]


def test_window_holds_the_last_batches(workers):
    got = run_batches([[i] for i in range(5)], lambda s: s.window(3.0, 1.0), workers)
    assert got[:5] == [[0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]


@pytest.mark.parametrize("inverse", [False, True], ids=["recomputed", "with inverse"])
def test_reduce_by_key_and_window(workers, inverse):
    got = run_batches(
        BATCHES,
        lambda s: s.reduce_by_key_and_window(
            lambda a, b: a + b, (lambda a, b: a - b) if inverse else None, 3.0, 1.0
        ),
        workers,
    )
    k = [dict(batch).get("k") for batch in got[:6]]
    assert k == window_sums(3)
    assert [dict(batch).get("j") for batch in got[:6]] == [1, 2, 3, 3, 3, 3]


def test_reduce_by_key_and_window_with_builtin_inverse_and_filter(workers):
    # operator.add/sub run in Rust; the filter drops keys whose window count fell to 0.
    batches = [[("a", 1)], [("b", 1)], [], [], [("a", 1)]]
    got = run_batches(
        batches,
        lambda s: s.reduce_by_key_and_window(
            operator.add, operator.sub, 2.0, 1.0, filter_func=lambda kv: kv[1] > 0
        ),
        workers,
    )
    assert got[:5] == [[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)], [], [("a", 1)]]


def test_slide_of_two_batches(workers):
    got = run_batches(
        [[1], [2], [3], [4]],
        lambda s: s.reduce_by_window(lambda a, b: a + b, None, 2.0, 2.0),
        workers,
    )
    # Windows end every 2 batches; in between no window ends and no record is emitted.
    assert [b for b in got if b] == [[3], [7]]


def test_count_by_window_and_count_by_value_and_window(workers):
    counts = run_batches([[1, 1], [2], [3, 3, 3]], lambda s: s.count_by_window(2.0, 1.0), workers)
    assert counts[:3] == [[2], [3], [4]]
    by_value = run_batches(
        [["x"], ["x", "y"]], lambda s: s.count_by_value_and_window(2.0, 1.0), workers
    )
    assert by_value[:2] == [[("x", 1)], [("x", 2), ("y", 1)]]


def test_group_by_key_and_window(workers):
    got = run_batches(
        [[("a", 1)], [("a", 2), ("b", 3)]],
        lambda s: s.group_by_key_and_window(2.0, 1.0).map_values(sorted),
        workers,
    )
    assert got[:2] == [[("a", [1])], [("a", [1, 2]), ("b", [3])]]


def test_window_duration_must_be_a_multiple_of_the_interval():
    ssc = freshet.StreamingContext(1.0)
    with pytest.raises(freshet.FreshetError, match="multiple"):
        ssc.queue_stream([[1]]).window(1.5, 1.0).collect_batches()
        ssc.run_available_now()


def test_window_durations_are_checked():
    ssc = freshet.StreamingContext(1.0)
    s = ssc.queue_stream([[1]])
    with pytest.raises(ValueError, match="window_duration"):
        s.window(-1.0)
    with pytest.raises(ValueError, match="slide_duration"):
        s.window(2.0, float("nan"))
