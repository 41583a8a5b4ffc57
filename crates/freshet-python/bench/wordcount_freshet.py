"""Streaming word count throughput of Freshet's Python API.

The same job as ``wordcount_pyspark.py`` and ``wordcount_bytewax.py``, over the same files, in
the forms a Python user writes (``--forms``):

* ``textbook``: ``flat_map(lambda l: l.split()).map(lambda w: (w, 1))
  .reduce_by_key(lambda a, b: a + b)``: every function is Python's.
* ``builtins``: ``flat_map(str.split).map(lambda w: (w, 1)).reduce_by_key(operator.add)``:
  the split and the sum are recognized and run in Rust; the map is Python's.
* ``native``: ``flat_map(str.split).count_by_value()``: no Python function runs per record.

Each runs ``text_file_stream(DIR, include_existing=True, max_files_per_batch=N)`` available-now
(so the batches hold the files' lines, ``--files-per-batch`` files per batch), with
``foreach_batch`` summing the counts (the total must equal the number of words). The time is
the wall time of ``run_available_now()``, which includes starting the run (a few ms).
"""

import argparse
import operator
import statistics
import time

import freshet
from rates import fmt_rate


def build(form, lines):
    if form == "textbook":
        return (
            lines.flat_map(lambda l: l.split())
            .map(lambda w: (w, 1))
            .reduce_by_key(lambda a, b: a + b)
        )
    if form == "builtins":
        return lines.flat_map(str.split).map(lambda w: (w, 1)).reduce_by_key(operator.add)
    if form == "native":
        return lines.flat_map(str.split).count_by_value()
    raise ValueError(f"unknown form {form}")


def run_once(args, form):
    ssc = freshet.StreamingContext(1.0, workers=args.workers)
    lines = ssc.text_file_stream(
        args.dir, include_existing=True, max_files_per_batch=args.files_per_batch
    )
    total = [0]

    def add(_time, counts):
        total[0] += sum(n for _, n in counts)

    build(form, lines).foreach_batch(add)
    start = time.perf_counter()
    ssc.run_available_now()
    return total[0], time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--files-per-batch", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--forms", default="textbook,builtins,native")
    p.add_argument("--expect-words", type=int)
    args = p.parse_args()
    for form in args.forms.split(","):
        rates = []
        for rep in range(1, args.reps + 1):
            words, seconds = run_once(args, form)
            if args.expect_words is not None and words != args.expect_words:
                raise SystemExit(f"{form}: counted {words} words, expected {args.expect_words}")
            rates.append(words / seconds)
            print(
                f"freshet-python form={form} workers={args.workers} rep={rep} words={words} "
                f"seconds={seconds:.3f} words_per_s={fmt_rate(words / seconds)}",
                flush=True,
            )
        print(
            f"freshet-python form={form} workers={args.workers} best={fmt_rate(max(rates))} "
            f"median={fmt_rate(statistics.median(rates))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
