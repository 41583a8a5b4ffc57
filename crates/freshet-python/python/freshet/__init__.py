"""Freshet: stream processing with a ``pyspark.streaming``-like API on Freshet's Rust engine.

A live stream is cut into micro-batches at a fixed interval; every batch is a partitioned
dataset, and one set of operators serves streams (:class:`DStream`) and batch jobs
(:class:`Dataset`)::

    import freshet

    ssc = freshet.StreamingContext(batch_interval=1.0)
    lines = ssc.text_file_stream("logs/")
    counts = (lines.flat_map(str.split)
                   .map(lambda w: (w, 1))
                   .reduce_by_key(lambda a, b: a + b))
    counts.pprint()
    ssc.start()
    ssc.await_termination()

See ``docs/python.md`` for the whole API and how it differs from ``pyspark.streaming``.
"""

from ._native import FreshetError, UserFunctionError
from .context import StreamingContext
from .dataset import Dataset, parallelize, text_file
from .dstream import DStream
from .results import to_arrow, to_pandas
from .sql import SqlContext, SqlDataset, SqlStream

__all__ = [
    "Dataset",
    "DStream",
    "FreshetError",
    "SqlContext",
    "SqlDataset",
    "SqlStream",
    "StreamingContext",
    "UserFunctionError",
    "parallelize",
    "text_file",
    "to_arrow",
    "to_pandas",
]
