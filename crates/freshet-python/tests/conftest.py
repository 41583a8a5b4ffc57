"""Shared helpers of the Python package's tests."""

import pytest

import freshet


def run_batches(batches, build, workers=1, batch_interval=1.0):
    """Runs ``build(stream)`` over a queue stream of ``batches`` (available-now) and returns the
    records of every batch of the resulting stream, each batch sorted."""
    ssc = freshet.StreamingContext(batch_interval, workers=workers)
    out = build(ssc.queue_stream(batches))
    collected = out.collect_batches()
    ssc.run_available_now()
    return [sorted(records, key=repr) for _, records in collected.batches()]


@pytest.fixture(params=[1, 2], ids=["1 worker", "2 workers"])
def workers(request):
    """Runs a test with one worker and with two."""
    return request.param
