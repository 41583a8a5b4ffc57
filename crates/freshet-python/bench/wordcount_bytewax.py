"""Streaming word count throughput in Bytewax 0.21.

Dataflow (the idiomatic Bytewax word count)::

    lines  = op.input("read", flow, DirSource(DIR, glob_pat="[!._]*"))
    words  = op.flat_map("split", lines, str.split)
    counts = op.count_final("count", words, lambda w: w)
    op.output("total", counts, <sink summing the per-word counts>)

Input: every regular file in ``--dir`` whose name does not start with
``.`` or ``_`` (the same set the PySpark script reads). ``DirSource`` makes
each file a partition; a worker reads its files line by line,
``--batch-lines`` lines per poll, and interleaves them, so files are not
processed strictly in name order. ``--files-per-batch`` is accepted for
command-line parity with the PySpark script and has no effect here
(Bytewax has no micro-batches of files).

What is measured: the wall time of the dataflow run itself, excluding
interpreter start-up, imports and building the dataflow:

* ``--workers 1``: time around ``bytewax.testing.run_main(flow)``.
* ``--workers N --mode processes`` (default for N > 1): the script starts N
  copies of itself, each running ``bytewax.testing.cluster_main(flow,
  addresses, proc_id)`` with one worker per process on loopback ports --
  the same execution as ``python -m bytewax.testing -p N``. ``cluster_main``
  first connects the processes to each other (Timely retries a refused
  connection after 1 s, so that phase is noisy and is not counted), then
  each worker builds the dataflow and runs it. Each process records the
  wall-clock time at which its worker built the output sink (i.e. after
  the cluster connected) and the time ``cluster_main`` returned; the run
  time is ``max(end) - min(build)``. Interpreter start-up of the children
  is not counted.
* ``--workers N --mode threads``: ``cluster_main(flow, [], 0,
  worker_count_per_proc=N)`` in this process, timed around the call (the
  same as ``python -m bytewax.run -w N``). Worker threads share the GIL,
  so this mostly shows Bytewax's threading overhead.

words/s = total words (the sum of all final counts) / run time. Words are
whitespace-separated tokens (``str.split()``); for ASCII text the total
equals ``wc -w``. Pass ``--expect-words`` (e.g. the output of ``cat DIR/* |
wc -w``) to have every repetition checked.

Output, one line per repetition and a summary::

    bytewax workers=1 rep=1 words=586046 seconds=1.23 words_per_s=476.46k
    bytewax workers=1 best=... median=...
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from rates import fmt_rate

GLOB = "[!._]*"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--dir", required=True, help="directory of text files")
    p.add_argument(
        "--files-per-batch",
        type=int,
        default=2,
        help="accepted for parity with the PySpark script; unused",
    )
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--mode",
        choices=["processes", "threads"],
        default="processes",
        help="how to run --workers N > 1 (default: processes)",
    )
    p.add_argument("--reps", type=int, default=3)
    p.add_argument(
        "--batch-lines", type=int, default=1000, help="DirSource batch_size"
    )
    p.add_argument(
        "--expect-words",
        type=int,
        default=None,
        help="fail if a repetition's total differs (e.g. from wc -w)",
    )
    # Internal: set when this script runs as one process of a cluster.
    p.add_argument("--proc-id", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--addresses", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.workers < 1 or args.reps < 1 or args.batch_lines < 1:
        p.error("--workers, --reps and --batch-lines must be >= 1")
    return args


def check_dir(d):
    path = Path(d)
    files = [f for f in path.glob(GLOB)]
    if not files:
        sys.exit(f"no input files in {d}")
    bad = [str(f) for f in files if not f.is_file()]
    if bad:
        sys.exit(f"not regular files (DirSource would fail): {bad}")
    return path


class _Total:
    def __init__(self):
        self.lock = threading.Lock()
        self.words = 0
        self.built = None  # wall-clock time a worker here built the sink


TOTAL = _Total()


def build_flow(dir_path, batch_lines):
    import bytewax.operators as op
    from bytewax.connectors.files import DirSource
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition

    class _SumPartition(StatelessSinkPartition):
        def write_batch(self, items):
            n = 0
            for _word, count in items:
                n += count
            with TOTAL.lock:
                TOTAL.words += n

    class SumSink(DynamicSink):
        def build(self, step_id, worker_index, worker_count):
            now = time.time()
            with TOTAL.lock:
                if TOTAL.built is None or now < TOTAL.built:
                    TOTAL.built = now
            return _SumPartition()

    flow = Dataflow("wordcount")
    lines = op.input(
        "read", flow, DirSource(dir_path, glob_pat=GLOB, batch_size=batch_lines)
    )
    words = op.flat_map("split", lines, str.split)
    counts = op.count_final("count", words, lambda w: w)
    op.output("total", counts, SumSink())
    return flow


def reset_total():
    with TOTAL.lock:
        TOTAL.words = 0
        TOTAL.built = None


def run_in_process(args, dir_path):
    """Run with run_main (1 worker) or cluster_main threads; return (words, s)."""
    from bytewax.testing import cluster_main, run_main

    flow = build_flow(dir_path, args.batch_lines)
    reset_total()
    if args.workers == 1:
        t0 = time.perf_counter()
        run_main(flow)
        t1 = time.perf_counter()
    else:
        t0 = time.perf_counter()
        cluster_main(flow, [], 0, worker_count_per_proc=args.workers)
        t1 = time.perf_counter()
    return TOTAL.words, t1 - t0


def cluster_child(args, dir_path):
    """One process of a multi-process cluster; prints a JSON result line."""
    from bytewax.testing import cluster_main

    flow = build_flow(dir_path, args.batch_lines)
    addresses = args.addresses.split(";")
    cluster_main(flow, addresses, args.proc_id)
    end = time.time()
    # Timely may print connection retries to stdout; the result is the
    # last line.
    print(
        json.dumps({"words": TOTAL.words, "start": TOTAL.built, "end": end}),
        flush=True,
    )


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_processes(args):
    """Start N cluster processes; return (words, seconds)."""
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(args.workers))
    base = [
        sys.executable,
        os.path.abspath(__file__),
        "--dir",
        args.dir,
        "--batch-lines",
        str(args.batch_lines),
        "--addresses",
        addresses,
    ]
    procs = [
        subprocess.Popen(base + ["--proc-id", str(i)], stdout=subprocess.PIPE, text=True)
        for i in range(args.workers)
    ]
    results = []
    failed = False
    for i, p in enumerate(procs):
        out, _ = p.communicate()
        if p.returncode != 0:
            failed = True
            print(f"cluster process {i} exited with {p.returncode}", file=sys.stderr)
            continue
        results.append(json.loads(out.strip().splitlines()[-1]))
    if failed:
        sys.exit(1)
    words = sum(r["words"] for r in results)
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    return words, seconds


def main():
    args = parse_args()
    dir_path = check_dir(args.dir)
    if args.proc_id is not None:
        cluster_child(args, dir_path)
        return

    rates = []
    for rep in range(1, args.reps + 1):
        if args.workers > 1 and args.mode == "processes":
            words, seconds = run_processes(args)
        else:
            words, seconds = run_in_process(args, dir_path)
        rate = words / seconds if seconds > 0 else float("nan")
        rates.append(rate)
        mode = f" mode={args.mode}" if args.workers > 1 else ""
        print(
            f"bytewax workers={args.workers}{mode} rep={rep} words={words} "
            f"seconds={seconds:.3f} words_per_s={fmt_rate(rate)}",
            flush=True,
        )
        if args.expect_words is not None and words != args.expect_words:
            sys.exit(f"word total mismatch: got {words}, expected {args.expect_words}")

    print(
        f"bytewax workers={args.workers} best={fmt_rate(max(rates))} "
        f"median={fmt_rate(statistics.median(rates))}",
        flush=True,
    )


if __name__ == "__main__":
    main()
