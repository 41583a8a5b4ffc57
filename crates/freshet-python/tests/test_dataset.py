"""Batch datasets: the same operators, run once; results as lists, dicts, Arrow and pandas."""

import operator

import pytest

import freshet


def test_word_count_over_a_file(tmp_path):
    (tmp_path / "a.txt").write_text("x y x\nz\n")
    (tmp_path / "b.txt").write_text("y\n")
    counts = (
        freshet.text_file(str(tmp_path))
        .flat_map(str.split)
        .map(lambda w: (w, 1))
        .reduce_by_key(operator.add)
        .collect_as_map()
    )
    assert counts == {"x": 2, "y": 2, "z": 1}


def test_actions():
    d = freshet.parallelize(range(10), 3)
    assert d.count() == 10
    assert sorted(d.collect()) == list(range(10))
    assert d.reduce(lambda a, b: a + b) == 45
    assert len(d.take(3)) == 3
    assert d.filter(lambda x: x > 100).count() == 0
    with pytest.raises(ValueError, match="empty"):
        d.filter(lambda x: x > 100).reduce(operator.add)


def test_keyed_operators_match_on_datasets():
    a = freshet.parallelize([("k", 1), ("k", 2), ("m", 3)])
    b = freshet.parallelize([("k", "x")])
    assert sorted(a.join(b).collect()) == [("k", (1, "x")), ("k", (2, "x"))]
    assert sorted(a.group_by_key().map_values(sorted).collect()) == [("k", [1, 2]), ("m", [3])]
    assert a.sort_by_key(ascending=False).collect()[0][0] == "m"
    assert a.map(lambda kv: kv[1]).sort_by(lambda x: -x).collect() == [3, 2, 1]


def test_one_function_serves_streams_and_datasets():
    def errors(lines):
        return lines.filter(lambda l: "ERROR" in l).map(str.lower)

    assert errors(freshet.parallelize(["ok", "ERROR disk"])).collect() == ["error disk"]
    ssc = freshet.StreamingContext(1.0)
    out = ssc.queue_stream([["ERROR a", "fine"]]).transform(errors).collect_batches()
    ssc.run_available_now()
    assert out.batches()[0][1] == ["error a"]


def test_results_as_arrow_and_pandas():
    import pyarrow as pa
    pairs = freshet.parallelize([("a", 1), ("b", 2)], 1)
    table = pairs.to_arrow(columns=["word", "count"])
    assert isinstance(table, pa.Table)
    assert table.column("count").to_pylist() == [1, 2]
    frame = freshet.parallelize([{"x": 1, "y": "p"}, {"x": 2}], 1).to_pandas()
    assert list(frame.columns) == ["x", "y"] and frame["x"].tolist() == [1, 2]
    assert freshet.to_pandas([1, 2])["value"].tolist() == [1, 2]


def test_stream_batches_as_pandas():
    frames = []
    ssc = freshet.StreamingContext(1.0)
    ssc.queue_stream([[("a", 1)], [("b", 2), ("c", 3)]]).foreach_batch_pandas(
        lambda t, df: frames.append(df), columns=["k", "v"]
    )
    ssc.run_available_now()
    assert [len(f) for f in frames[:2]] == [1, 2]
    assert frames[1]["v"].sum() == 5
