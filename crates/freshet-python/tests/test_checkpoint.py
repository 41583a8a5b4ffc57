"""Recovery from checkpoints: a stopped run resumes, and a run killed with SIGKILL many times
ends with the same result as an uninterrupted one."""

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import freshet

PIPELINE = Path(__file__).parent / "pipelines" / "running_counts.py"


def write_inputs(directory: Path, first: int, count: int, seed: int = 7, words_per_file: int = 300):
    """Files ``first`` .. ``first + count - 1`` of deterministic words; returns their counts."""
    rng = random.Random(seed + first)
    totals = collections.Counter()
    for i in range(first, first + count):
        words = [f"w{rng.randrange(40)}" for _ in range(words_per_file)]
        totals.update(words)
        lines = "\n".join(" ".join(words[j : j + 10]) for j in range(0, len(words), 10))
        (directory / f"part-{i:04}.txt").write_text(lines + "\n")
    return totals


def final_counts(out: Path):
    files = sorted(out.glob("*.json"), key=lambda p: int(p.stem))
    return json.loads(files[-1].read_text()) if files else {}


def distinct_states(out: Path):
    files = sorted(out.glob("*.json"), key=lambda p: int(p.stem))
    states = []
    for f in files:
        state = json.loads(f.read_text())
        if not states or states[-1] != state:
            states.append(state)
    return states


def run_pipeline(*dirs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(PIPELINE), *map(str, dirs)], env=env)


def test_a_resumed_run_continues_the_state(tmp_path):
    inputs, checkpoint, out = tmp_path / "in", tmp_path / "ckpt", tmp_path / "out"
    for d in (inputs, out):
        d.mkdir()
    expected = write_inputs(inputs, 0, 3)
    assert run_pipeline(inputs, checkpoint, out).wait(timeout=120) == 0
    assert final_counts(out) == dict(expected)
    # New files arrive while the job is down; the resumed job adds them to the state it kept.
    expected += write_inputs(inputs, 3, 2)
    assert run_pipeline(inputs, checkpoint, out).wait(timeout=120) == 0
    assert final_counts(out) == dict(expected)


def test_a_changed_pipeline_is_refused_on_recovery(tmp_path):
    inputs, checkpoint = tmp_path / "in", tmp_path / "ckpt"
    inputs.mkdir()
    write_inputs(inputs, 0, 1)

    def build(with_window):
        def setup():
            ssc = freshet.StreamingContext(0.05)
            pairs = ssc.text_file_stream(str(inputs), include_existing=True).map(lambda l: (l, 1))
            if with_window:
                # A new engine operator changes the pipeline; a change inside a chain of
                # per-record steps does not (as a changed function body does not).
                pairs = pairs.window(0.1)
            pairs.update_state_by_key(lambda n, s: (s or 0) + len(n)).collect_batches()
            return ssc

        return freshet.StreamingContext.get_or_create(str(checkpoint), setup)

    build(False).run_available_now()
    with pytest.raises(freshet.FreshetError, match="(?i)pipeline|fingerprint|changed"):
        build(True).run_available_now()


def test_sigkill_many_times_loses_and_repeats_nothing(tmp_path):
    inputs, checkpoint, out = tmp_path / "in", tmp_path / "ckpt", tmp_path / "out"
    reference_out = tmp_path / "reference-out"
    for d in (inputs, out, reference_out):
        d.mkdir()
    expected = write_inputs(inputs, 0, 300, words_per_file=3000)

    # The uninterrupted run.
    assert run_pipeline(inputs, tmp_path / "reference-ckpt", reference_out).wait(timeout=300) == 0
    reference = final_counts(reference_out)
    assert reference == dict(expected)

    rng = random.Random(11)
    kills = 0
    for _ in range(200):
        proc = run_pipeline(inputs, checkpoint, out)
        try:
            proc.wait(timeout=rng.uniform(0.15, 0.6))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0
        break
    else:
        pytest.fail("the pipeline never finished between kills")
    assert kills >= 10, f"only {kills} kills: the test did not exercise recovery"
    assert final_counts(out) == reference
    print(f"{kills} kills")
    # The states the batches went through, in batch order, are the uninterrupted run's: each
    # file was counted once, in the same order (empty batches repeat a state; replayed batches
    # rewrite their own file).
    assert distinct_states(out) == distinct_states(reference_out)
