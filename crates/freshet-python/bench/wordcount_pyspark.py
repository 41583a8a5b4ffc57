"""Streaming word count throughput in PySpark Streaming (DStream API).

Pipeline (the textbook DStream word count)::

    lines.flatMap(lambda l: l.split())
         .map(lambda w: (w, 1))
         .reduceByKey(lambda a, b: a + b)
         .foreachRDD(sum of the per-word counts)

Input: every regular file in ``--dir`` (names starting with ``.`` or ``_``
are skipped, as Hadoop input formats skip them), in name order, grouped
``--files-per-batch`` files at a time. Each group becomes one RDD made by
``sc.textFile(",".join(group))`` and the RDDs are fed through
``ssc.queueStream(rdds, oneAtATime=True)``, so each micro-batch carries
exactly one group. (``textFileStream`` only picks up files created after
the stream starts, so it is not usable for a fixed input set.)

What is measured: a ``StreamingListener`` records every completed batch,
and the processing time of a repetition is the **sum of
``processingDelay`` (ms) over the batches that carried data** (the
batches whose word sum is non-zero). That is the time Spark spent running
the batches' jobs -- reading the files, splitting, shuffling for
``reduceByKey`` and the ``foreachRDD`` sum -- and it excludes the idle wait
between batch-interval ticks and scheduling delay. The wall span from the
first data batch's processing start to the last data batch's processing
end is printed as well (``span_seconds``) for comparison.

words/s = total words (the sum of all counts) / processing time.

The SparkContext (and so the JVM and the Python workers) is created once
before the repetitions; each repetition uses a fresh StreamingContext on
it and fresh, uncached RDDs. JVM start-up is never counted. The first
repetition still pays JIT warm-up; use ``--reps`` > 1 and look at
best/median.

Words are whitespace-separated tokens (``str.split()``); for ASCII text
the total equals ``wc -w``. Pass ``--expect-words`` (e.g. the output of
``cat DIR/* | wc -w``) to have every repetition checked.

Expected log noise: a FutureWarning that DStream is deprecated (since
Spark 3.4), a WARN that local mode wants ``local[n]``, n > 1 when there are
receivers (queueStream has none), and possibly an ``ERROR Executor ...
Python worker exited unexpectedly`` when a repetition stops: once the data
batches are done the StreamingContext is stopped non-gracefully, which
cancels an empty trailing batch that may be running.

Output, one line per repetition and a summary::

    pyspark workers=1 rep=1 words=586046 seconds=1.23 words_per_s=476.46k batches=2 span_seconds=1.25
    pyspark workers=1 best=... median=...
"""

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import datetime

from rates import fmt_rate


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--dir", required=True, help="directory of text files")
    p.add_argument("--files-per-batch", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="master local[N]")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument(
        "--batch-interval", type=float, default=0.5, help="seconds (default 0.5)"
    )
    p.add_argument("--driver-memory", default="2g")
    p.add_argument(
        "--expect-words",
        type=int,
        default=None,
        help="fail if a repetition's total differs (e.g. from wc -w)",
    )
    p.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per repetition"
    )
    args = p.parse_args()
    if args.files_per_batch < 1 or args.workers < 1 or args.reps < 1:
        p.error("--files-per-batch, --workers and --reps must be >= 1")
    return args


def list_files(d):
    names = sorted(
        n
        for n in os.listdir(d)
        if not n.startswith((".", "_")) and os.path.isfile(os.path.join(d, n))
    )
    if not names:
        sys.exit(f"no input files in {d}")
    return [os.path.abspath(os.path.join(d, n)) for n in names]


def main():
    args = parse_args()
    files = list_files(args.dir)
    batches = [
        files[i : i + args.files_per_batch]
        for i in range(0, len(files), args.files_per_batch)
    ]

    # Python workers must run the interpreter that has pyspark installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Everything stays on this machine: bind the driver to loopback.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    from pyspark import SparkConf, SparkContext
    from pyspark.streaming import StreamingContext
    from pyspark.streaming.listener import StreamingListener

    class BatchRecorder(StreamingListener):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()
            self.completed = {}  # batch time (ms) -> (start ms, end ms, delay ms)
            self.changed = threading.Condition(self.lock)

        def onBatchCompleted(self, batchCompleted):
            info = batchCompleted.batchInfo()
            rec = (
                info.processingStartTime(),
                info.processingEndTime(),
                info.processingDelay(),
            )
            with self.changed:
                self.completed[info.batchTime().milliseconds()] = rec
                self.changed.notify_all()

    conf = (
        SparkConf()
        .setMaster(f"local[{args.workers}]")
        .setAppName("wordcount-pyspark-bench")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.memory", args.driver_memory)
        .set("spark.ui.showConsoleProgress", "false")
    )
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")

    rates = []
    try:
        for rep in range(1, args.reps + 1):
            ssc = StreamingContext(sc, args.batch_interval)
            recorder = BatchRecorder()
            ssc.addStreamingListener(recorder)

            rdds = [sc.textFile(",".join(group)) for group in batches]
            lines = ssc.queueStream(rdds, oneAtATime=True)
            counts = (
                lines.flatMap(lambda l: l.split())
                .map(lambda w: (w, 1))
                .reduceByKey(lambda a, b: a + b)
            )

            words_by_batch = {}  # batch datetime -> words

            def on_rdd(t, rdd):
                words_by_batch[t] = rdd.values().sum()

            counts.foreachRDD(on_rdd)

            ssc.start()
            deadline = time.monotonic() + args.timeout
            with recorder.changed:
                # One queued RDD per batch: the first len(batches) batches
                # carry the data; wait until they have all completed.
                while len(recorder.completed) < len(batches):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"rep {rep}: only {len(recorder.completed)} of "
                            f"{len(batches)} batches completed"
                        )
                    recorder.changed.wait(min(left, 1.0))
                completed = dict(recorder.completed)
            # Not graceful: the batches still queued are empty ones (the
            # queue is drained); a graceful stop would wait for all of them.
            ssc.stop(stopSparkContext=False, stopGraceFully=False)

            data = []  # (start, end, delay, words) of batches that carried data
            for bt_ms, (start, end, delay) in sorted(completed.items()):
                # Same conversion PySpark applies before calling on_rdd.
                w = words_by_batch.get(datetime.fromtimestamp(bt_ms / 1000.0), 0)
                if w:
                    data.append((start, end, delay, w))
            total = sum(d[3] for d in data)
            seconds = sum(d[2] for d in data) / 1000.0
            span = (max(d[1] for d in data) - min(d[0] for d in data)) / 1000.0
            rate = total / seconds if seconds > 0 else float("nan")
            rates.append(rate)
            print(
                f"pyspark workers={args.workers} rep={rep} words={total} "
                f"seconds={seconds:.3f} words_per_s={fmt_rate(rate)} "
                f"batches={len(data)} span_seconds={span:.3f}",
                flush=True,
            )
            if args.expect_words is not None and total != args.expect_words:
                sys.exit(
                    f"word total mismatch: got {total}, expected {args.expect_words}"
                )
    finally:
        sc.stop()

    print(
        f"pyspark workers={args.workers} best={fmt_rate(max(rates))} "
        f"median={fmt_rate(statistics.median(rates))}",
        flush=True,
    )


if __name__ == "__main__":
    main()
