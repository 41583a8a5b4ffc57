//! SQL over datasets (batch jobs) agreeing with the same query over a stream, joins with
//! static tables, EXPLAIN, and the errors of queries that cannot run on a stream.

use freshet::{Dataset, StreamingConfig, StreamingContext};
use freshet_sql::{SqlContext, SqlError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    amount: i64,
    ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Customer {
    customer: String,
    country: String,
}

fn orders() -> Vec<Vec<Order>> {
    let mut batches = Vec::new();
    let names = ["ann", "bob", "cid", "dan", "eve"];
    let mut id = 0;
    for b in 0..6u64 {
        let mut batch = Vec::new();
        for i in 0..(7 + b * 3) {
            id += 1;
            batch.push(Order {
                id,
                customer: names[(id as usize * 7 + i as usize) % names.len()].into(),
                amount: ((id * 37) % 101) as i64 - 20,
                ms: b * 1_000 + i * 50,
            });
        }
        batches.push(batch);
    }
    batches
}

fn customers() -> Vec<Customer> {
    [("ann", "fr"), ("bob", "de"), ("cid", "fr"), ("dan", "it")]
        .into_iter()
        .map(|(c, k)| Customer {
            customer: c.into(),
            country: k.into(),
        })
        .collect()
}

fn context(workers: usize) -> StreamingContext {
    StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(workers))
        .expect("a valid configuration")
}

fn sql_with_tables() -> SqlContext {
    let sql = SqlContext::new();
    sql.register_table_records("customers", &customers())
        .expect("registered");
    sql
}

/// The final value of each group of a running aggregate: the last row each batch emitted.
fn stream_final<T: freshet::Data + Ord + std::fmt::Debug, K: Ord>(
    workers: usize,
    query: &str,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let ctx = context(workers);
    let sql = sql_with_tables();
    sql.register_stream("orders", &ctx.queue_stream(orders()))
        .expect("registered");
    let out = sql
        .sql_stream(query)
        .expect("plans")
        .records::<T>()
        .collect_batches();
    ctx.run_available_now().expect("runs");
    let mut last = std::collections::BTreeMap::new();
    for (_, batch) in out.batches() {
        for row in batch {
            last.insert(key(&row), row);
        }
    }
    last.into_values().collect()
}

fn dataset_rows<T: freshet::Data + Ord>(workers: usize, query: &str) -> Vec<T> {
    let sql = sql_with_tables();
    let all: Vec<Order> = orders().into_iter().flatten().collect();
    sql.register_dataset("orders", &Dataset::parallelize(all, workers))
        .expect("registered");
    let mut rows = sql
        .sql_dataset(query)
        .expect("plans")
        .collect_records::<T>()
        .expect("runs");
    rows.sort();
    rows
}

/// The same total per customer, computed by hand.
fn totals_by_hand() -> Vec<(String, i64, i64)> {
    let mut m = std::collections::BTreeMap::<String, (i64, i64)>::new();
    for o in orders().into_iter().flatten() {
        let e = m.entry(o.customer).or_default();
        e.0 += 1;
        e.1 += o.amount;
    }
    m.into_iter().map(|(c, (n, s))| (c, n, s)).collect()
}

#[test]
fn a_query_over_a_dataset_gives_what_the_stream_ends_with() {
    let query = "SELECT customer, count(*), sum(amount) FROM orders GROUP BY customer";
    let expected = totals_by_hand();
    for workers in [1, 2, 3] {
        assert_eq!(dataset_rows::<(String, i64, i64)>(workers, query), expected);
        assert_eq!(
            stream_final::<(String, i64, i64), _>(workers, query, |r| r.0.clone()),
            expected,
            "{workers} workers"
        );
    }
}

#[test]
fn windows_over_a_dataset_equal_the_windows_of_the_stream() {
    let query = "SELECT CAST(w['start'] AS BIGINT) AS s, customer, count(*), max(amount) FROM \
                 (SELECT tumble(ms, INTERVAL '2' SECOND) AS w, customer, amount FROM orders) \
                 GROUP BY w, customer";
    let batch = dataset_rows::<(i64, String, i64, i64)>(2, query);
    let stream = stream_final::<(i64, String, i64, i64), _>(2, query, |r| (r.0, r.1.clone()));
    assert_eq!(batch, stream);
    let mut by_hand = std::collections::BTreeMap::<(i64, String), (i64, i64)>::new();
    for o in orders().into_iter().flatten() {
        let e = by_hand
            .entry(((o.ms / 2_000 * 2_000) as i64, o.customer))
            .or_insert((0, i64::MIN));
        e.0 += 1;
        e.1 = e.1.max(o.amount);
    }
    let by_hand: Vec<_> = by_hand
        .into_iter()
        .map(|((w, c), (n, m))| (w, c, n, m))
        .collect();
    assert_eq!(batch, by_hand);
}

#[test]
fn a_stream_joins_a_static_table() {
    let query = "SELECT c.country, count(*) AS n, sum(o.amount) FROM orders o \
                 JOIN customers c ON o.customer = c.customer GROUP BY c.country";
    let mut expected = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let countries: std::collections::HashMap<_, _> = customers()
        .into_iter()
        .map(|c| (c.customer, c.country))
        .collect();
    for o in orders().into_iter().flatten() {
        if let Some(k) = countries.get(&o.customer) {
            let e = expected.entry(k.clone()).or_default();
            e.0 += 1;
            e.1 += o.amount;
        }
    }
    let expected: Vec<(String, i64, i64)> =
        expected.into_iter().map(|(k, (n, s))| (k, n, s)).collect();
    assert_eq!(dataset_rows::<(String, i64, i64)>(2, query), expected);
    assert_eq!(
        stream_final::<(String, i64, i64), _>(2, query, |r| r.0.clone()),
        expected
    );
    // A LEFT JOIN keeps the stream's rows without a match ("eve" is in no country).
    let left = "SELECT coalesce(c.country, '?') AS k, count(*) FROM orders o \
                LEFT JOIN customers c ON o.customer = c.customer GROUP BY coalesce(c.country, '?')";
    let rows = dataset_rows::<(String, i64)>(3, left);
    let total: i64 = rows.iter().map(|r| r.1).sum();
    assert_eq!(total as usize, orders().iter().map(Vec::len).sum::<usize>());
    assert!(rows.iter().any(|r| r.0 == "?"), "{rows:?}");
}

fn plan_error(query: &str) -> SqlError {
    let ctx = context(1);
    let sql = sql_with_tables();
    sql.register_stream("orders", &ctx.queue_stream(orders()))
        .expect("registered");
    sql.register_stream("more", &ctx.queue_stream(orders()))
        .expect("registered");
    match sql.sql_stream(query) {
        Ok(_) => panic!("`{query}` should be refused"),
        Err(e) => e,
    }
}

#[test]
fn what_cannot_run_on_a_stream_is_refused_when_planned_naming_it() {
    for (query, expected) in [
        ("SELECT * FROM orders ORDER BY amount", "ORDER BY"),
        ("SELECT * FROM orders LIMIT 3", "LIMIT"),
        (
            "SELECT customer, count(*) FROM orders GROUP BY customer ORDER BY 2",
            "ORDER BY",
        ),
        (
            "SELECT id, sum(amount) OVER (PARTITION BY customer) FROM orders",
            "OVER",
        ),
        ("SELECT count(DISTINCT customer) FROM orders", "DISTINCT"),
        ("SELECT median(amount) FROM orders", "median()"),
        (
            "SELECT * FROM customers c LEFT JOIN orders o ON o.customer = c.customer",
            "unmatched rows",
        ),
        (
            "SELECT * FROM orders o JOIN orders p ON o.id = p.id",
            "twice",
        ),
        ("SELECT * FROM customers", "reads no stream"),
        (
            "SELECT tumble(ms, INTERVAL '1' SECOND) AS w, id FROM orders",
            "outside GROUP BY",
        ),
        (
            "SELECT count(*) FROM orders GROUP BY tumble(ms, INTERVAL '1' MONTH)",
            "INTERVAL literal",
        ),
    ] {
        let e = plan_error(query).to_string();
        assert!(e.contains(expected), "`{query}`: {e}");
    }
}

#[test]
fn a_bad_query_fails_at_once_with_datafusion_pointing_at_the_error() {
    let e = plan_error("SELECT nosuch FROM orders").to_string();
    assert!(e.contains("nosuch"), "{e}");
    let e = plan_error("SELEC * FROM orders").to_string();
    assert!(e.contains("SELEC"), "{e}");
    let e = plan_error("SELECT * FROM nosuch").to_string();
    assert!(e.contains("nosuch") && e.contains("not found"), "{e}");
    let e = plan_error("INSERT INTO customers VALUES ('x', 'y')").to_string();
    assert!(
        e.to_lowercase().contains("insert") || e.contains("DML"),
        "{e}"
    );
}

#[test]
fn an_error_evaluating_a_batch_fails_the_job_with_datafusion_s_message() {
    let ctx = context(2);
    let sql = SqlContext::new();
    sql.register_stream("orders", &ctx.queue_stream(orders()))
        .expect("registered");
    let out = sql
        .sql_stream("SELECT CAST(customer AS INT) FROM orders")
        .expect("plans: the cast fails on the values")
        .rows()
        .collect_batches();
    let e = ctx
        .run_available_now()
        .expect_err("the cast fails")
        .to_string();
    assert!(e.contains("Cannot cast") || e.contains("cast"), "{e}");
    assert!(e.contains("batch"), "the error names the batch: {e}");
    drop(out);
}

#[test]
fn explain_shows_how_the_query_maps_onto_operators() {
    let ctx = context(1);
    let sql = sql_with_tables();
    sql.register_stream("orders", &ctx.queue_stream(orders()))
        .expect("registered");
    let text = sql
        .explain(
            "SELECT customer, count(*) FROM orders WHERE amount > 0 GROUP BY customer HAVING count(*) > 1",
        )
        .expect("explains");
    for part in [
        "stream `orders`",
        "combine_by_key",
        "map_with_state",
        "Filter: orders.amount > Int64(0)",
        "TableScan: orders",
        "Filter: count(Int64(1)) > Int64(1)",
    ] {
        assert!(text.contains(part), "{part} in:\n{text}");
    }
    let windowed = sql
        .explain("SELECT count(*) FROM orders GROUP BY session(ms, INTERVAL '5' SECOND)")
        .expect("explains");
    assert!(windowed.contains("Session"), "{windowed}");
    assert!(windowed.contains("watermark"), "{windowed}");
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Payment {
    order: u64,
    paid: i64,
}

/// Orders and their payments as two streams, joined within tumbling windows of 2 batches.
#[test]
fn two_streams_are_joined_within_a_window() {
    let orders = [
        vec![(1, "ann"), (2, "bob")],
        vec![(3, "ann")],
        vec![(4, "cid")],
        vec![(5, "bob")],
    ];
    let payments = [
        vec![(2, 20)],
        vec![(1, 10), (3, 30)],
        vec![(5, 50)],
        vec![(4, 40)],
    ];
    for workers in [1, 2, 3] {
        let ctx = context(workers);
        let as_orders = |b: &Vec<(u64, &str)>| {
            b.iter()
                .map(|(id, c)| Order {
                    id: *id,
                    customer: c.to_string(),
                    amount: 0,
                    ms: 0,
                })
                .collect::<Vec<_>>()
        };
        let as_payments = |b: &Vec<(u64, i64)>| {
            b.iter()
                .map(|(order, paid)| Payment {
                    order: *order,
                    paid: *paid,
                })
                .collect::<Vec<_>>()
        };
        let ms = Duration::from_millis;
        let window = freshet_sql::StreamOptions::new().window(ms(20), ms(20));
        let sql = SqlContext::new();
        sql.register_stream_with(
            "orders",
            &ctx.queue_stream(orders.iter().map(as_orders).collect()),
            window.clone(),
        )
        .expect("registered");
        sql.register_stream_with(
            "payments",
            &ctx.queue_stream(payments.iter().map(as_payments).collect()),
            window,
        )
        .expect("registered");
        let joined = sql
            .sql_stream(
                "SELECT o.customer, sum(p.paid) AS paid FROM orders o \
                 JOIN payments p ON o.id = p.order GROUP BY o.customer",
            )
            .expect("plans")
            .records::<(String, i64)>()
            .collect_batches();
        let full = sql
            .sql_stream(
                "SELECT o.id, p.order FROM orders o FULL JOIN payments p ON o.id = p.order \
                 WHERE o.id IS NULL OR p.order IS NULL",
            )
            .expect("plans")
            .records::<(Option<u64>, Option<u64>)>()
            .collect_batches();
        ctx.run_available_now().expect("runs");
        // Window 1 (batches 1-2): orders 1, 2, 3 with payments 2, 1, 3; window 2 (batches
        // 3-4): orders 4, 5 with payments 5, 4. Each window's sums per customer.
        let s = |x: &str| x.to_string();
        assert_eq!(
            joined.sorted_batches(),
            vec![
                vec![(s("ann"), 40), (s("bob"), 20)],
                vec![(s("bob"), 50), (s("cid"), 40)],
            ],
            "{workers} workers"
        );
        assert_eq!(
            full.sorted_batches(),
            vec![Vec::<(Option<u64>, Option<u64>)>::new(), vec![]],
            "every order met its payment within its window"
        );
    }
}

#[test]
fn an_aggregate_without_group_by_over_a_dataset_has_one_row_even_over_no_rows() {
    let none: Vec<(i64, Option<i64>)> = dataset_rows(
        2,
        "SELECT count(*), sum(amount) FROM orders WHERE amount > 1000000",
    );
    assert_eq!(none, vec![(0, None)]);
    let all: Vec<(i64, Option<i64>)> = dataset_rows(3, "SELECT count(*), sum(amount) FROM orders");
    let orders: Vec<Order> = orders().into_iter().flatten().collect();
    assert_eq!(
        all,
        vec![(
            orders.len() as i64,
            Some(orders.iter().map(|o| o.amount).sum::<i64>())
        )]
    );
}
