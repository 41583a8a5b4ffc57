//! `freshet sql` as a user runs it: a query over a directory of JSON lines with
//! `--available-now`, EXPLAIN, a join with a static table, results written to files, and the
//! errors of a bad query or source.

use std::path::Path;
use std::process::Command;

fn freshet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Two files of page views: 10 lines, pages /p0 (2), /p1 (4), /p2 (4).
fn logs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in 1..=2 {
        let lines: Vec<String> = (1..=5)
            .map(|j| {
                format!(
                    r#"{{"page":"/p{}","user":"u{j}","ms":{},"bytes":{}}}"#,
                    j % 3,
                    f * 1000 + j * 100,
                    j * 10
                )
            })
            .collect();
        std::fs::write(dir.join(format!("f{f}.json")), lines.join("\n") + "\n").unwrap();
    }
}

/// A directory of [`logs`] and the `--source` naming it `events`.
fn events() -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    logs(&dir);
    let source = format!("events=json:{}", dir.display());
    (root, source)
}

#[test]
fn a_query_over_json_files_prints_each_page_s_count() {
    let (_logs, source) = events();
    let (code, out, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "--available-now",
        "--ui-addr",
        "off",
        "SELECT page, count(*) AS n, sum(bytes) AS b FROM events GROUP BY page",
    ]);
    assert_eq!(code, 0, "{err}");
    for row in [
        "| /p0  | 2 | 60  |",
        "| /p1  | 4 | 100 |",
        "| /p2  | 4 | 140 |",
    ] {
        assert!(out.contains(row), "{row} in:\n{out}");
    }
}

#[test]
fn explain_prints_the_operators_and_runs_nothing() {
    let (_logs, source) = events();
    let (code, out, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "explain SELECT count(*) FROM events GROUP BY tumble(ms, INTERVAL '1' SECOND)",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("event-time window Tumble"), "{out}");
    assert!(out.contains("TableScan: events"), "{out}");
}

#[test]
fn a_join_with_a_static_table_writes_its_results_to_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    logs(&dir);
    let pages = root.path().join("pages.csv");
    std::fs::write(&pages, "page,section\n/p0,home\n/p1,shop\n").unwrap();
    let out_dir = root.path().join("out");
    let (source, table, sink) = (
        format!("events=json:{}", dir.display()),
        format!("pages=csv:{}", pages.display()),
        format!("json:{}", out_dir.display()),
    );
    let (code, _, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "--table",
        &table,
        "--sink",
        &sink,
        "--workers",
        "2",
        "--available-now",
        "--ui-addr",
        "off",
        "SELECT p.section, count(*) AS n FROM events e JOIN pages p ON e.page = p.page GROUP BY p.section",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut rows = Vec::new();
    for batch in std::fs::read_dir(&out_dir).unwrap() {
        for part in std::fs::read_dir(batch.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(part.unwrap().path()).unwrap();
            rows.extend(text.lines().map(str::to_owned));
        }
    }
    rows.sort();
    assert_eq!(
        rows,
        vec![
            r#"{"section":"home","n":2}"#.to_string(),
            r#"{"section":"shop","n":4}"#.to_string()
        ]
    );
}

#[test]
fn a_bad_query_or_source_fails_at_once_naming_the_problem() {
    let (root, source) = events();
    let (code, _, err) = freshet(&["sql", "--source", &source, "SELECT pag FROM events"]);
    assert_eq!(code, 1);
    assert!(err.contains("pag") && err.contains("events.page"), "{err}");
    let (code, _, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "SELECT * FROM events ORDER BY ms",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not supported in streaming SQL: ORDER BY"),
        "{err}"
    );
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let source = format!("events=json:{}", empty.display());
    let (code, _, err) = freshet(&["sql", "--source", &source, "SELECT * FROM events"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--source events=json:") && err.contains("holds no file"),
        "{err}"
    );
    let (code, _, err) = freshet(&["sql", "--source", "events=kafka", "SELECT 1"]);
    assert_eq!(code, 1);
    assert!(err.contains("SPEC must be"), "{err}");
    let (code, _, err) = freshet(&[
        "sql",
        "--source",
        "c=demo",
        "--available-now",
        "SELECT * FROM c",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("never does"), "{err}");
}

#[test]
fn two_streams_join_within_a_window() {
    let root = tempfile::tempdir().unwrap();
    let (orders, payments) = (root.path().join("orders"), root.path().join("payments"));
    std::fs::create_dir_all(&orders).unwrap();
    std::fs::create_dir_all(&payments).unwrap();
    std::fs::write(
        orders.join("a.json"),
        "{\"id\":1,\"who\":\"ann\"}\n{\"id\":2,\"who\":\"bob\"}\n{\"id\":3,\"who\":\"ann\"}\n",
    )
    .unwrap();
    std::fs::write(
        payments.join("a.json"),
        "{\"order\":1,\"paid\":10}\n{\"order\":3,\"paid\":30}\n",
    )
    .unwrap();
    let (o, p) = (
        format!("orders=json:{}", orders.display()),
        format!("payments=json:{}", payments.display()),
    );
    let query = "SELECT o.who, sum(p.paid) AS paid FROM orders o \
                 JOIN payments p ON o.id = p.order GROUP BY o.who";
    let (code, out, err) = freshet(&[
        "sql",
        "--source",
        &o,
        "--source",
        &p,
        "--window",
        "orders=200",
        "--window",
        "payments=200",
        "--batch-ms",
        "100",
        "--available-now",
        "--ui-addr",
        "off",
        query,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| ann | 40   |"), "{out}");
    assert!(!out.contains("bob"), "{out}");
    let (code, _, err) = freshet(&[
        "sql",
        "--source",
        &o,
        "--window",
        "orders=150",
        "--batch-ms",
        "100",
        query,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("multiple of --batch-ms"), "{err}");
}

/// A topic of JSON values on librdkafka's mock cluster (in this process, on loopback ports),
/// queried from `freshet sql` with `--source NAME=kafka:BROKERS/TOPIC`.
#[test]
fn a_query_over_a_kafka_topic_of_json_values() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
    let cluster: MockCluster<'static, DefaultProducerContext> =
        MockCluster::new(1).expect("start librdkafka's mock cluster");
    cluster
        .create_topic("views", 3, 1)
        .expect("create the topic");
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "0")
        .create()
        .expect("a producer");
    for i in 0..300 {
        let value = format!(r#"{{"page":"/p{}","ms":{}}}"#, i % 4, i * 10);
        producer
            .send(
                BaseRecord::to("views")
                    .partition(i % 3)
                    .key("")
                    .payload(&value),
            )
            .expect("queue a record");
    }
    producer.flush(std::time::Duration::from_secs(10)).unwrap();
    let source = format!("v=kafka:{brokers}/views");
    let (code, out, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "--available-now",
        "--ui-addr",
        "off",
        "SELECT page, count(*) AS n, max(ms) AS last FROM v GROUP BY page",
    ]);
    assert_eq!(code, 0, "{err}");
    for row in [
        "| /p0  | 75 | 2960 |",
        "| /p1  | 75 | 2970 |",
        "| /p2  | 75 | 2980 |",
        "| /p3  | 75 | 2990 |",
    ] {
        assert!(out.contains(row), "{row} in:\n{out}");
    }
    let missing = format!("v=kafka:{brokers}/nosuch");
    let (code, _, err) = freshet(&["sql", "--source", &missing, "SELECT * FROM v"]);
    assert_eq!(code, 1);
    assert!(err.contains("nosuch"), "{err}");
}

/// A PostgreSQL table (on 127.0.0.1:5432, database `test`) loaded at start and joined with a
/// stream of JSON files.
#[test]
fn a_stream_joins_a_postgresql_table_loaded_at_start() {
    let table = format!("freshet_sql_pages_{}", std::process::id());
    let url = "postgresql://postgres@127.0.0.1:5432/test";
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (page text, section text, weight numeric, since timestamp); \
         INSERT INTO {table} VALUES ('/p0', 'home', 1.5, '2026-01-01 10:00'), ('/p1', 'shop', 2, '2026-02-01 00:00')"
    ));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    logs(&dir);
    let (source, pages) = (
        format!("events=json:{}", dir.display()),
        format!("{table}=postgres:{url}"),
    );
    let query = format!(
        "SELECT p.section, count(*) AS n, sum(p.weight) AS w, min(p.since) AS since FROM events e \
         JOIN {table} p ON e.page = p.page GROUP BY p.section"
    );
    let (code, out, err) = freshet(&[
        "sql",
        "--source",
        &source,
        "--table",
        &pages,
        "--available-now",
        "--ui-addr",
        "off",
        &query,
    ]);
    psql(&format!("DROP TABLE {table}"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("| home    | 2 | 3.0 | 2026-01-01T10:00:00 |"),
        "{out}"
    );
    assert!(
        out.contains("| shop    | 4 | 8.0 | 2026-02-01T00:00:00 |"),
        "{out}"
    );
    let missing = format!("nosuch_{}=postgres:{url}", std::process::id());
    let (code, _, err) = freshet(&["sql", "--source", &source, "--table", &missing, "SELECT 1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nosuch") && err.contains("cannot read the table"),
        "{err}"
    );
}
