"""Exceptions in user functions fail the batch with the traceback, never the process; bad
arguments get clear errors."""

import pytest

import freshet
from conftest import run_batches


def explode(x):
    if x == 3:
        raise ZeroDivisionError("no threes here")
    return x


def explode_both(a, b):
    return explode(3)


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.map(explode),
        lambda s: s.filter(explode),
        lambda s: s.flat_map(lambda x: [explode(x)]),
        lambda s: s.map(lambda x: (x % 2, x)).reduce_by_key(explode_both),
        lambda s: s.map(lambda x: ("k", x)).update_state_by_key(lambda vs, st: [explode(v) for v in vs]),
        lambda s: s.map(lambda x: ("k", x)).reduce_by_key_and_window(explode_both, None, 2.0, 1.0),
        lambda s: s.reduce(explode_both),
    ],
    ids=["map", "filter", "flat_map", "reduce_by_key", "update_state_by_key", "window", "reduce"],
)
def test_exception_fails_the_run_with_the_traceback(workers, build):
    with pytest.raises(freshet.UserFunctionError) as failure:
        run_batches([[1, 2, 3, 4, 5, 6]], build, workers)
    message = str(failure.value)
    assert "ZeroDivisionError: no threes here" in message
    assert "Traceback (most recent call last)" in message
    assert "explode" in message


def test_exception_in_foreach_batch():
    ssc = freshet.StreamingContext(1.0)

    def sink(t, records):
        raise RuntimeError(f"cannot write {records}")

    ssc.queue_stream([[1]]).foreach_batch(sink)
    with pytest.raises(freshet.UserFunctionError, match=r"RuntimeError: cannot write \[1\]"):
        ssc.run_available_now()


def test_the_process_goes_on_after_a_failed_run():
    with pytest.raises(freshet.UserFunctionError):
        run_batches([[1]], lambda s: s.map(lambda x: 1 / 0))
    assert run_batches([[1]], lambda s: s.map(lambda x: x + 1)) == [[2]]


def test_keyed_operator_on_records_that_are_not_pairs():
    with pytest.raises(freshet.UserFunctionError, match=r"reduce_by_key expects \(key, value\) pairs; got a str: 'abc'"):
        run_batches([["abc"]], lambda s: s.reduce_by_key(lambda a, b: a))


def test_builtin_applied_to_the_wrong_type():
    with pytest.raises(freshet.UserFunctionError, match="str.split cannot be applied to a record of type int"):
        run_batches([[1]], lambda s: s.flat_map(str.split))


def test_unpicklable_record():
    import threading

    with pytest.raises(freshet.UserFunctionError, match="cannot be kept"):
        run_batches([[1]], lambda s: s.map(lambda x: threading.Lock()))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: freshet.StreamingContext(0), "batch_interval"),
        (lambda: freshet.StreamingContext(float("inf")), "batch_interval"),
        (lambda: freshet.StreamingContext(1.0, workers=0), "workers must be between 1 and 1024"),
        (lambda: freshet.StreamingContext(1.0, checkpoint_interval=0), "checkpoint_interval"),
        (lambda: freshet.StreamingContext(1.0).text_file_stream("x", max_files_per_batch=0), "max_files_per_batch"),
        (lambda: freshet.StreamingContext(1.0).queue_stream([[1]]).repartition(0), "num_partitions"),
        (lambda: freshet.StreamingContext(1.0).queue_stream([[1]]).pprint(0), "num"),
        (lambda: freshet.StreamingContext(1.0).generator_stream(str, rate=0), "rate"),
        (lambda: freshet.parallelize([1], 0), "num_slices"),
    ],
)
def test_numbers_out_of_range_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_not_a_function():
    ssc = freshet.StreamingContext(1.0)
    with pytest.raises(TypeError, match="expected a function"):
        ssc.queue_stream([[1]]).map(42)


def test_actions_inside_transform_are_refused():
    ssc = freshet.StreamingContext(1.0)
    with pytest.raises(freshet.FreshetError, match="actions such as collect"):
        ssc.queue_stream([[1]]).window(1.0).transform(lambda rdd: rdd.collect())


def test_a_context_starts_once():
    ssc = freshet.StreamingContext(1.0)
    ssc.queue_stream([[1]]).collect_batches()
    ssc.run_available_now()
    with pytest.raises(freshet.FreshetError, match="only once"):
        ssc.start()
