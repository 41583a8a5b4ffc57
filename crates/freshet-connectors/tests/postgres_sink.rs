//! The PostgreSQL sink against the local server (127.0.0.1:5432, database `test`, user
//! `postgres`), started when it is down. Every test writes its own tables, so they run in
//! parallel.
#![cfg(feature = "postgres")]

mod services;

use freshet::sink::{Sink, SinkContext, SinkWriter};
use freshet::source::generator::GeneratorOptions;
use freshet::testing::laws::{check_retryable, check_sink_idempotent, closed_port};
use freshet::{
    BatchTime, Clock, ErrorDomain, ManualClock, SinkError, StreamingConfig, StreamingContext,
};
use freshet_connectors::postgres::{PostgresSink, RejectedRow, SettingsError, WriteMethod};
use serde::{Deserialize, Serialize};
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

mod pg_client;

use pg_client::{Db, CONN};

impl Db {
    /// A fresh table name for test `name`, its table and markers from earlier runs removed.
    fn fresh(&self, name: &str) -> String {
        let table = format!("pg_sink_{name}_{}", std::process::id());
        self.drop_table(&table);
        table
    }

    /// The visits in `table`, by id.
    fn visits(&self, table: &str) -> Vec<Visit> {
        self.query(&format!(
            "SELECT id, page, ms FROM {table} ORDER BY id, page, ms"
        ))
        .iter()
        .map(|r| Visit {
            id: r.get(0),
            page: r.get(1),
            ms: r.get(2),
        })
        .collect()
    }

    fn count(&self, sql: &str) -> i64 {
        self.query(sql)[0].get(0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Visit {
    id: i64,
    page: String,
    ms: Option<i32>,
}

fn visit(id: i64) -> Visit {
    Visit {
        id,
        page: format!("/p{}", id % 3),
        ms: (id % 4 != 0).then_some(id as i32 * 10),
    }
}

fn visits_table(db: &Db, table: &str) {
    db.exec(&format!(
        "CREATE TABLE {table} (id bigint NOT NULL, page text NOT NULL, ms integer)"
    ));
}

fn ctx(partition: usize, partitions: usize) -> SinkContext {
    SinkContext {
        output_id: "visits".into(),
        partition,
        partitions,
    }
}

/// Three batches over two partitions, 25 visits in all, one partition empty in batch 2.
fn batches() -> Vec<(BatchTime, Vec<Vec<Visit>>)> {
    let ids = |r: std::ops::Range<i64>| r.map(visit).collect::<Vec<_>>();
    vec![
        (BatchTime(1_000), vec![ids(0..5), ids(5..9)]),
        (BatchTime(2_000), vec![ids(9..15), vec![]]),
        (BatchTime(3_000), vec![ids(15..20), ids(20..25)]),
    ]
}

fn write_batches<S: Sink<Visit>>(sink: &S, batches: &[(BatchTime, Vec<Vec<Visit>>)]) {
    for p in 0..2 {
        let mut w = sink.open(&ctx(p, 2)).unwrap();
        for (t, parts) in batches {
            w.write(*t, &parts[p]).unwrap();
            w.commit(*t).unwrap();
        }
    }
}

#[test]
fn appends_by_copy_and_by_insert_write_every_record_once() {
    let db = Db::connect();
    for method in [WriteMethod::Copy, WriteMethod::Insert] {
        let table = db.fresh(&format!("append_{method:?}").to_lowercase());
        visits_table(&db, &table);
        let sink = PostgresSink::new(CONN, &table)
            .method(method)
            .rows_per_statement(4);
        write_batches(&sink, &batches());
        let expected: Vec<Visit> = (0..25).map(visit).collect();
        assert_eq!(db.visits(&table), expected, "{method:?}");
        let markers = db.count(&format!(
            "SELECT count(*) FROM freshet_sink_batches WHERE target = '\"{table}\"'"
        ));
        assert_eq!(markers, 5, "one marker per non-empty batch and partition");
    }
}

#[test]
fn a_database_without_the_marker_table_gets_one() {
    let db = Db::connect();
    let table = db.fresh("first_sink");
    visits_table(&db, &table);
    let markers = format!("{table}_markers");
    db.exec(&format!("DROP TABLE IF EXISTS {markers}"));
    let sink = PostgresSink::new(CONN, &table).marker_table(markers.clone());
    write_batches(&sink, &batches());
    assert_eq!(db.visits(&table).len(), 25);
    assert_eq!(db.count(&format!("SELECT count(*) FROM {markers}")), 5);
    db.exec(&format!("DROP TABLE {markers}"));
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PageViews {
    page: String,
    views: i64,
}

#[test]
fn upsert_keeps_the_newest_value_of_each_key() {
    let db = Db::connect();
    for method in [WriteMethod::Copy, WriteMethod::Insert] {
        let table = db.fresh(&format!("upsert_{method:?}").to_lowercase());
        db.exec(&format!(
            "CREATE TABLE {table} (page text PRIMARY KEY, views bigint NOT NULL, \
             updated timestamptz NOT NULL DEFAULT now())"
        ));
        let sink = PostgresSink::new(CONN, &table)
            .upsert(["page"])
            .method(method);
        let mut w = Sink::<PageViews>::open(&sink, &ctx(0, 1)).unwrap();
        let pv = |page: &str, views| PageViews {
            page: page.into(),
            views,
        };
        let b1 = [pv("/a", 1), pv("/b", 2), pv("/a", 3)];
        w.write(BatchTime(100), &b1).unwrap();
        w.commit(BatchTime(100)).unwrap();
        let b2 = [pv("/b", 7), pv("/c", 1)];
        w.write(BatchTime(200), &b2).unwrap();
        w.commit(BatchTime(200)).unwrap();
        let rows: Vec<(String, i64)> = db
            .query(&format!("SELECT page, views FROM {table} ORDER BY page"))
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let expected = [("/a", 3), ("/b", 7), ("/c", 1)].map(|(p, v)| (p.to_string(), v));
        assert_eq!(rows, expected, "{method:?}");
    }
}

#[test]
fn every_character_and_null_arrive_as_written_by_copy_and_by_insert() {
    let db = Db::connect();
    let pages = [
        "tab\there",
        "line\nbreak",
        "carriage\rreturn\r\n",
        "back\\slash\\",
        "\\N",
        "\\.",
        "",
        " spaces ",
        "quote ' \" , ;",
        "é ✓ 😀",
        "\\t\\n literally",
    ];
    let records: Vec<Visit> = pages
        .iter()
        .enumerate()
        .map(|(i, page)| Visit {
            id: i as i64,
            page: page.to_string(),
            ms: (i % 2 == 0).then_some(i as i32),
        })
        .collect();
    for upsert in [false, true] {
        for method in [WriteMethod::Copy, WriteMethod::Insert] {
            let name = format!("chars_{method:?}_{upsert}").to_lowercase();
            let table = db.fresh(&name);
            let key = if upsert { " PRIMARY KEY" } else { "" };
            db.exec(&format!(
                "CREATE TABLE {table} (id bigint NOT NULL{key}, page text NOT NULL, ms integer)"
            ));
            let mut sink = PostgresSink::new(CONN, &table).method(method);
            if upsert {
                sink = sink.upsert(["id"]);
            }
            let mut w = Sink::<Visit>::open(&sink, &ctx(0, 1)).unwrap();
            w.write(BatchTime(1), &records).unwrap();
            w.commit(BatchTime(1)).unwrap();
            assert_eq!(db.visits(&table), records, "{method:?}, upsert {upsert}");
        }
    }
}

#[test]
fn a_replayed_batch_writes_nothing_twice() {
    let db = Db::connect();
    for method in [WriteMethod::Copy, WriteMethod::Insert] {
        let table = db.fresh(&format!("replay_{method:?}").to_lowercase());
        visits_table(&db, &table);
        let sink = PostgresSink::new(CONN, &table).method(method);
        check_sink_idempotent(&sink, "visits", &batches(), || db.visits(&table)).unwrap();
        assert_eq!(db.visits(&table).len(), 25);
    }
    // An upsert of running counts, replayed after newer batches moved the counts on, must
    // not move them back.
    let table = db.fresh("replay_upsert");
    let sink = PostgresSink::new(CONN, &table)
        .upsert(["page"])
        .create_table(true);
    let pv = |views| {
        vec![vec![PageViews {
            page: "/a".into(),
            views,
        }]]
    };
    let batches = vec![(BatchTime(10), pv(1)), (BatchTime(20), pv(2))];
    let read = || db.count(&format!("SELECT views FROM {table}"));
    check_sink_idempotent(&sink, "views", &batches, read).unwrap();
    assert_eq!(read(), 2);
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    value: String,
}

/// The cause of `error`, of type `E`.
fn cause<E: std::error::Error + 'static>(error: &SinkError) -> Option<&E> {
    error.source()?.downcast_ref::<E>()
}

fn rejected(error: &SinkError) -> &RejectedRow {
    cause::<RejectedRow>(error).unwrap_or_else(|| panic!("not a rejected row: {error}"))
}

#[test]
fn a_rejected_row_fails_the_batch_naming_the_row_and_the_databases_reason() {
    let db = Db::connect();
    for method in [WriteMethod::Copy, WriteMethod::Insert] {
        let table = db.fresh(&format!("rejected_{method:?}").to_lowercase());
        db.exec(&format!(
            "CREATE TABLE {table} (sensor text NOT NULL, value integer NOT NULL \
             CHECK (value >= 0))"
        ));
        let sink = PostgresSink::new(CONN, &table).method(method);
        let mut w = Sink::<Reading>::open(&sink, &ctx(0, 1)).unwrap();
        let r = |sensor: &str, value: &str| Reading {
            sensor: sensor.into(),
            value: value.into(),
        };
        // A value its column's type cannot hold.
        let batch = [r("a", "1"), r("b", "2"), r("c", "twelve"), r("d", "4")];
        w.write(BatchTime(100), &batch).unwrap();
        let e = w.commit(BatchTime(100)).unwrap_err();
        assert_eq!(e.domain(), ErrorDomain::User, "{e}");
        assert!(!e.is_retryable());
        let row = rejected(&e);
        assert_eq!((row.row, row.sqlstate.as_str()), (2, "22P02"), "{e}");
        assert!(row.values.contains("\"twelve\""), "{e}");
        assert!(
            e.to_string()
                .contains("invalid input syntax for type integer"),
            "{e}"
        );
        // A constraint.
        let batch = [r("a", "1"), r("b", "-5")];
        w.write(BatchTime(200), &batch).unwrap();
        let e = w.commit(BatchTime(200)).unwrap_err();
        let row = rejected(&e);
        assert_eq!((row.row, row.sqlstate.as_str()), (1, "23514"), "{e}");
        assert!(row.reason.contains("check constraint"), "{e}");
        // Nothing of either batch was written, and no marker: the corrected batch is.
        assert_eq!(db.count(&format!("SELECT count(*) FROM {table}")), 0);
        let batch = [r("a", "1"), r("b", "5")];
        w.write(BatchTime(200), &batch).unwrap();
        w.commit(BatchTime(200)).unwrap();
        assert_eq!(db.count(&format!("SELECT count(*) FROM {table}")), 2);
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    small: i16,
    paid: bool,
    note: Option<String>,
    items: Vec<String>,
    attrs: std::collections::BTreeMap<String, i32>,
    placed_at: String,
}

#[test]
fn the_table_is_created_from_the_record_type() {
    let db = Db::connect();
    let table = db.fresh("created");
    let sink = PostgresSink::new(CONN, &table)
        .upsert(["id"])
        .create_table(true);
    let mut w = Sink::<Order>::open(&sink, &ctx(0, 1)).unwrap();
    let columns: Vec<(String, String, String)> = db
        .query(&format!(
            "SELECT column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position"
        ))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("id", "bigint", "NO"),
        ("customer", "text", "NO"),
        ("amount", "double precision", "NO"),
        ("small", "smallint", "NO"),
        ("paid", "boolean", "NO"),
        ("note", "text", "YES"),
        ("items", "jsonb", "NO"),
        ("attrs", "jsonb", "NO"),
        ("placed_at", "text", "NO"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(columns, expected);
    let order = Order {
        id: 7,
        customer: "Zoë \"Q\"\t\\".into(),
        amount: 12.5,
        small: -3,
        paid: true,
        note: None,
        items: vec!["a".into(), "b".into()],
        attrs: [("x".to_string(), 1)].into_iter().collect(),
        placed_at: "2024-05-01T10:00:00Z".into(),
    };
    w.write(BatchTime(100), std::slice::from_ref(&order))
        .unwrap();
    w.commit(BatchTime(100)).unwrap();
    let row = &db.query(&format!(
        "SELECT customer, amount, small, paid, note, items->>1, (attrs->>'x')::int FROM {table}"
    ))[0];
    assert_eq!(row.get::<_, String>(0), order.customer);
    assert_eq!(row.get::<_, f64>(1), 12.5);
    assert_eq!(row.get::<_, i16>(2), -3);
    assert!(row.get::<_, bool>(3));
    assert_eq!(row.get::<_, Option<String>>(4), None);
    assert_eq!(row.get::<_, String>(5), "b");
    assert_eq!(row.get::<_, i32>(6), 1);
    // A record that is not a struct cannot make a table.
    let tuples = PostgresSink::new(CONN, db.fresh("created_tuple")).create_table(true);
    let e = Sink::<(String, u64)>::open(&tuples, &ctx(0, 1))
        .err()
        .unwrap();
    assert!(e.to_string().contains("not a struct"), "{e}");
}

fn settings_error(e: &SinkError) -> &SettingsError {
    cause::<SettingsError>(e).unwrap_or_else(|| panic!("not a settings error: {e}"))
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let db = Db::connect();
    let table = db.fresh("settings");
    visits_table(&db, &table);
    let base = || PostgresSink::new(CONN, &table);
    let cases: Vec<(PostgresSink, &str)> = vec![
        (base().rows_per_statement(0), "rows_per_statement"),
        (base().rows_per_statement(20_000), "rows_per_statement"),
        (base().max_retries(1_000), "max_retries"),
        (base().retry_backoff(Duration::ZERO), "retry_backoff"),
        (
            base().connect_timeout(Duration::from_secs(3_600)),
            "connect_timeout",
        ),
        (
            base().batch_timeout(Duration::from_millis(5)),
            "batch_timeout",
        ),
        (
            base().marker_retention(Duration::from_secs(1)),
            "marker_retention",
        ),
        (base().pipeline(""), "pipeline"),
        (base().marker_table("a.b.c"), "marker_table"),
        (base().upsert(Vec::<String>::new()), "key"),
        (
            PostgresSink::new("host=127.0.0.1 port=x user=u", &table),
            "connection",
        ),
        (PostgresSink::new(CONN, ""), "table"),
    ];
    for (sink, setting) in cases {
        assert_eq!(sink.validate().unwrap_err().setting(), setting);
        let e = Sink::<Visit>::open(&sink, &ctx(0, 1)).err().unwrap();
        assert_eq!(e.domain(), ErrorDomain::User, "{e}");
        assert_eq!(settings_error(&e).setting(), setting, "{e}");
        assert!(e.to_string().contains(setting), "{e}");
    }
    // A missing table, a key that is not a column, a field that is not a column.
    let missing = PostgresSink::new(CONN, db.fresh("settings_missing"));
    let e = Sink::<Visit>::open(&missing, &ctx(0, 1)).err().unwrap();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(e.domain(), ErrorDomain::User);
    let e = Sink::<Visit>::open(&base().upsert(["nope"]), &ctx(0, 1))
        .err()
        .unwrap();
    assert!(e.to_string().contains("\"nope\""), "{e}");
    let mut w = Sink::<PageViews>::open(&base(), &ctx(0, 1)).unwrap();
    let e = w
        .write(
            BatchTime(1),
            &[PageViews {
                page: "/".into(),
                views: 1,
            }],
        )
        .unwrap_err();
    assert!(e.to_string().contains("`views`"), "{e}");
}

#[test]
fn a_refused_connection_is_retryable_and_a_lost_one_is_reopened() {
    let db = Db::connect();
    let refused = PostgresSink::new(
        format!("host=127.0.0.1 port={} user=postgres dbname=test", {
            let addr = closed_port();
            addr.rsplit_once(':').unwrap().1.to_string()
        }),
        "t",
    );
    let e = Sink::<Visit>::open(&refused, &ctx(0, 1)).err().unwrap();
    assert_eq!(e.domain(), ErrorDomain::External, "{e}");
    check_retryable(&e).unwrap();

    // The server ends the writer's session between two batches: the next batch reconnects.
    let table = db.fresh("lost");
    visits_table(&db, &table);
    let app = format!("freshet-lost-{}", std::process::id());
    let sink = PostgresSink::new(format!("{CONN} application_name={app}"), &table)
        .retry_backoff(Duration::from_millis(10));
    let mut w = Sink::<Visit>::open(&sink, &ctx(0, 1)).unwrap();
    w.write(BatchTime(1), &[visit(1)]).unwrap();
    w.commit(BatchTime(1)).unwrap();
    let ended = db.count(&format!(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{app}') AS t"
    ));
    assert_eq!(ended, 1);
    w.write(BatchTime(2), &[visit(2)]).unwrap();
    w.commit(BatchTime(2)).unwrap();
    assert_eq!(db.visits(&table), vec![visit(1), visit(2)]);
}

/// A checkpointed pipeline on `clock`: generated visits (10 a batch), appended by 2 workers.
fn visits_pipeline(
    clock: &ManualClock,
    dir: &std::path::Path,
    table: &str,
) -> (StreamingContext, freshet::CollectedBatches<Visit>) {
    let config = StreamingConfig::new(Duration::from_millis(100))
        .workers(2)
        .checkpoint_interval(2)
        .stop_on_ctrl_c(false);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(config.clone(), Arc::new(clock.clone()))?;
        let visits = ctx
            .generator_stream(GeneratorOptions::rate(100), |seq| visit(seq as i64))
            .uid("visits");
        visits
            .sink(PostgresSink::new(CONN, table).create_table(true))
            .uid("visits-to-pg");
        out = Some(visits.collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, out.unwrap())
}

fn step(ctx: &StreamingContext, clock: &ManualClock) {
    clock.advance(Duration::from_millis(100));
    ctx.await_batch(clock.now(), Duration::from_secs(30))
        .unwrap();
}

#[test]
fn a_restarted_pipeline_replays_its_last_batch_without_writing_it_twice() {
    let db = Db::connect();
    let table = db.fresh("restart");
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    // Five batches; checkpoints after 200 and 400: batch 500 is only in the batch log.
    let (ctx, _) = visits_pipeline(&clock, dir.path(), &table);
    ctx.start().unwrap();
    for _ in 0..5 {
        step(&ctx, &clock);
    }
    ctx.stop(false).unwrap();
    assert_eq!(db.visits(&table), (0..50).map(visit).collect::<Vec<_>>());

    let (ctx, second) = visits_pipeline(&clock, dir.path(), &table);
    ctx.start().unwrap();
    ctx.await_batch(BatchTime(500), Duration::from_secs(30))
        .unwrap();
    for _ in 0..3 {
        step(&ctx, &clock);
    }
    ctx.stop(true).unwrap();
    assert_eq!(
        second.batch(BatchTime(500)).map(|b| b.len()),
        Some(10),
        "batch 500 was replayed"
    );
    assert_eq!(db.visits(&table), (0..80).map(visit).collect::<Vec<_>>());
    let markers = db.count(&format!(
        "SELECT count(*) FROM freshet_sink_batches WHERE target = '\"{table}\"' \
         AND output = 'visits-to-pg' AND batch_time = 500"
    ));
    assert_eq!(markers, 2, "one marker per worker for batch 500");
}
