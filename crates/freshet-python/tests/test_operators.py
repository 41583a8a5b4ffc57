"""The per-record and keyed operators of streams, with one and two workers."""

import operator
from collections import namedtuple

import freshet
from conftest import run_batches

LINES = [["a b a", "c"], ["b b", ""], ["a"]]


def test_word_count_textbook(workers):
    got = run_batches(
        LINES,
        lambda s: s.flat_map(lambda l: l.split())
        .map(lambda w: (w, 1))
        .reduce_by_key(lambda a, b: a + b),
        workers,
    )
    assert got == [[("a", 2), ("b", 1), ("c", 1)], [("b", 2)], [("a", 1)]]


def test_word_count_builtins_run_in_rust(workers):
    # str.split and operator.add are recognized and run natively; count_by_value is native.
    native = run_batches(
        LINES,
        lambda s: s.flat_map(str.split).map(lambda w: (w, 1)).reduce_by_key(operator.add),
        workers,
    )
    counted = run_batches(LINES, lambda s: s.flat_map(str.split).count_by_value(), workers)
    assert native == counted == [[("a", 2), ("b", 1), ("c", 1)], [("b", 2)], [("a", 1)]]


def test_camel_case_names_are_the_same_operators():
    got = run_batches(
        LINES, lambda s: s.flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(operator.add)
    )
    assert got[0] == [("a", 2), ("b", 1), ("c", 1)]


def test_filter_map_values_flat_map_values(workers):
    got = run_batches(
        [[("x", 1), ("y", 2), ("z", 3)]],
        lambda s: s.filter(lambda kv: kv[1] != 2)
        .map_values(lambda v: v * 10)
        .flat_map_values(lambda v: [v, v + 1]),
        workers,
    )
    assert got == [[("x", 10), ("x", 11), ("z", 30), ("z", 31)]]


def test_filter_none_keeps_true_records():
    assert run_batches([[0, 1, "", "a", None, [], [0]]], lambda s: s.filter(None)) == [
        sorted([1, "a", [0]], key=repr)
    ]


Point = namedtuple("Point", "x y")


def test_values_round_trip_through_the_engine(workers):
    import datetime

    records = [
        None,
        True,
        2**70,
        -3,
        1.5,
        "é",
        b"\x00\xff",
        (1, "a"),
        [1, [2]],
        {"k": [1.0]},
        Point(1, 2),
        datetime.date(2026, 1, 2),
    ]
    got = run_batches([records], lambda s: s.map(lambda x: x), workers)
    assert sorted(got[0], key=repr) == sorted(records, key=repr)
    assert any(type(r) is Point for r in got[0])


def test_keys_equal_in_python_are_one_key():
    # 1, 1.0 and True are the same dict key in Python; so they are here.
    got = run_batches([[(1, "a"), (1.0, "b"), (True, "c")]], lambda s: s.group_by_key())
    assert len(got[0]) == 1 and sorted(got[0][0][1]) == ["a", "b", "c"]


def test_count_and_reduce_per_batch(workers):
    counts = run_batches([[1, 2, 3], [], [4]], lambda s: s.count(), workers)
    assert counts == [[3], [0], [1]]
    sums = run_batches([[1, 2, 3], [4]], lambda s: s.reduce(lambda a, b: a + b), workers)
    assert sums == [[6], [4]]


def test_joins_and_cogroup(workers):
    def build(s):
        left = s.filter(lambda kv: kv[0] == "L").map(lambda kv: kv[1])
        right = s.filter(lambda kv: kv[0] == "R").map(lambda kv: kv[1])
        return (
            left.join(right)
            .map(lambda r: ("join",) + r)
            .union(left.left_outer_join(right).map(lambda r: ("left",) + r))
            .union(left.right_outer_join(right).map(lambda r: ("right",) + r))
            .union(left.full_outer_join(right).map(lambda r: ("full",) + r))
            .union(left.cogroup(right).map(lambda r: ("cogroup", r[0], (sorted(r[1][0]), sorted(r[1][1])))))
        )

    batch = [("L", ("k", 1)), ("L", ("m", 2)), ("R", ("k", "x")), ("R", ("n", "y"))]
    got = run_batches([batch], build, workers)[0]
    assert ("join", "k", (1, "x")) in got
    assert ("left", "m", (2, None)) in got and ("left", "k", (1, "x")) in got
    assert ("right", "n", (None, "y")) in got
    assert {r for r in got if r[0] == "full"} == {
        ("full", "k", (1, "x")),
        ("full", "m", (2, None)),
        ("full", "n", (None, "y")),
    }
    assert ("cogroup", "k", ([1], ["x"])) in got and ("cogroup", "n", ([], ["y"])) in got


def test_map_partitions_and_glom(workers):
    got = run_batches([[1, 2, 3, 4]], lambda s: s.map_partitions(lambda part: [sum(part)]), workers)
    assert sum(got[0]) == 10 and len(got[0]) == workers
    glommed = run_batches([[1, 2, 3, 4]], lambda s: s.glom(), workers)
    assert sorted(x for part in glommed[0] for x in part) == [1, 2, 3, 4]


def test_transform_applies_dataset_operators(workers):
    got = run_batches(
        [["b", "a"], ["c"]],
        lambda s: s.transform(lambda rdd: rdd.map(str.upper).map(lambda x: (x, len(x)))),
        workers,
    )
    assert got == [[("A", 1), ("B", 1)], [("C", 1)]]


def test_combine_by_key_averages(workers):
    got = run_batches(
        [[("a", 1), ("a", 3), ("b", 5)]],
        lambda s: s.combine_by_key(
            lambda v: (v, 1),
            lambda c, v: (c[0] + v, c[1] + 1),
            lambda c1, c2: (c1[0] + c2[0], c1[1] + c2[1]),
        ).map_values(lambda c: c[0] / c[1]),
        workers,
    )
    assert got == [[("a", 2.0), ("b", 5.0)]]


def test_sort_by_key_within_a_batch():
    ssc = freshet.StreamingContext(1.0)
    out = ssc.queue_stream([[("b", 1), ("a", 2), ("c", 0)]]).sort_by_key().collect_batches()
    ssc.run_available_now()
    assert out.batches()[0][1] == [("a", 2), ("b", 1), ("c", 0)]


def test_foreach_batch_sees_time_and_records_in_order():
    import datetime

    seen = []
    ssc = freshet.StreamingContext(0.5)
    ssc.queue_stream([[1, 2], [3]]).map(lambda x: x * 2).foreach_batch(
        lambda t, records: seen.append((t, sorted(records)))
    )
    ssc.run_available_now()
    assert [r for _, r in seen][:2] == [[2, 4], [6]]
    assert all(isinstance(t, datetime.datetime) for t, _ in seen)
    assert (seen[1][0] - seen[0][0]).total_seconds() == 0.5


def test_pprint_prints_each_batch(capfd):
    ssc = freshet.StreamingContext(1.0)
    ssc.queue_stream([["x", "y"]]).pprint(1)
    ssc.run_available_now()
    out = capfd.readouterr().out
    assert "'x'" in out or "'y'" in out
    assert "Time:" in out


def test_union_of_streams_from_the_context():
    ssc = freshet.StreamingContext(1.0)
    a, b = ssc.queue_stream([[1]]), ssc.queue_stream([[2]])
    out = ssc.union(a, b).collect_batches()
    ssc.run_available_now()
    assert sorted(out.batches()[0][1]) == [1, 2]


def test_sums_beyond_64_bits_stay_exact(workers):
    # Combined in Python (after a Python step) and merged by the engine, which hands the
    # operands it cannot add in 64 bits back to Python.
    fused = run_batches(
        [[1, 2, 3, 4]], lambda s: s.map(lambda x: ("k", 2**62)).reduce_by_key(operator.add), workers
    )
    plain = run_batches([[("k", 2**62)] * 4], lambda s: s.reduce_by_key(operator.add), workers)
    assert fused == plain == [[("k", 2**64)]]
