"""SQL over streams and datasets of Python records, results as Arrow tables."""

import pyarrow as pa
import pytest

import freshet

CLICKS = [
    [{"page": "a", "ms": 10}, {"page": "b", "ms": 20}, {"page": "a", "ms": 30}],
    [{"page": "b", "ms": 5}],
]


def run_query(query, batches, workers=1, table=None):
    ssc = freshet.StreamingContext(1.0, workers=workers)
    sql = freshet.SqlContext()
    sql.register("clicks", ssc.queue_stream(batches), sample=batches[0])
    if table is not None:
        sql.register_table("pages", table)
    tables = []
    sql.sql_stream(query).foreach_batch_arrow(lambda t, tbl: tables.append(tbl))
    ssc.run_available_now()
    return tables


def test_stateless_query_gives_arrow_tables(workers):
    tables = run_query("SELECT page, ms * 2 AS ms2 FROM clicks WHERE ms > 10", CLICKS, workers)
    assert all(isinstance(t, pa.Table) for t in tables)
    rows = sorted((r["page"], r["ms2"]) for r in tables[0].to_pylist())
    assert rows == [("a", 60), ("b", 40)]
    assert tables[1].num_rows == 0


def test_running_aggregate(workers):
    tables = run_query(
        "SELECT page, count(*) AS n, sum(ms) AS total FROM clicks GROUP BY page", CLICKS, workers
    )
    first = {r["page"]: (r["n"], r["total"]) for r in tables[0].to_pylist()}
    second = {r["page"]: (r["n"], r["total"]) for r in tables[1].to_pylist()}
    assert first == {"a": (2, 40), "b": (1, 20)}
    # Each batch emits the groups it updated, with their running totals.
    assert second == {"b": (2, 25)}


def test_join_with_a_static_table():
    names = pa.table({"page": ["a", "b"], "title": ["Home", "Blog"]})
    tables = run_query(
        "SELECT c.page, p.title FROM clicks c JOIN pages p ON c.page = p.page", CLICKS, table=names
    )
    assert sorted(r["title"] for r in tables[0].to_pylist()) == ["Blog", "Home", "Home"]


def test_json_lines_and_records_as_dicts():
    ssc = freshet.StreamingContext(1.0)
    lines = ssc.queue_stream([['{"x": 1, "y": "p"}', '{"x": 5, "y": "q"}']])
    sql = freshet.SqlContext()
    sql.register("t", lines, sample=['{"x": 0, "y": ""}'])
    out = sql.sql_stream("SELECT y, x + 1 AS x1 FROM t WHERE x > 2").records().collect_batches()
    ssc.run_available_now()
    assert out.batches()[0][1] == [{"y": "q", "x1": 6}]


def test_query_over_a_dataset():
    sql = freshet.SqlContext()
    sql.register("t", freshet.parallelize([{"k": "a", "v": 1}, {"k": "a", "v": 2}, {"k": "b", "v": 3}]),
                 sample=[{"k": "", "v": 0}])
    result = sql.sql_dataset("SELECT k, sum(v) AS s FROM t GROUP BY k")
    table = result.to_arrow()
    assert isinstance(table, pa.Table)
    assert sorted(zip(table.column("k").to_pylist(), table.column("s").to_pylist())) == [("a", 3), ("b", 3)]
    assert sorted(r["s"] for r in result.collect()) == [3, 3]


def test_bad_queries_are_refused_when_planned():
    ssc = freshet.StreamingContext(1.0)
    sql = freshet.SqlContext()
    sql.register("clicks", ssc.queue_stream(CLICKS), sample=CLICKS[0])
    with pytest.raises(freshet.FreshetError, match="pag"):
        sql.sql_stream("SELECT pag FROM clicks")
    with pytest.raises(freshet.FreshetError, match="(?i)order by|not supported"):
        sql.sql_stream("SELECT page FROM clicks ORDER BY page")
    with pytest.raises(ValueError, match="schema= .* or sample="):
        sql.register("other", ssc.queue_stream(CLICKS))
    assert "clicks" in sql.explain("SELECT page, count(*) FROM clicks GROUP BY page").lower()


def test_records_that_do_not_decode_fail_the_run():
    ssc = freshet.StreamingContext(1.0)
    sql = freshet.SqlContext()
    sql.register("t", ssc.queue_stream([[3]]), sample=[{"x": 1}])
    sql.sql_stream("SELECT x FROM t").records().collect_batches()
    with pytest.raises(freshet.UserFunctionError, match="must be dicts or JSON lines"):
        ssc.run_available_now()
