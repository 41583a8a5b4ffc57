//! JSON lines and CSV: sinks and typed readers. Round trips of serde records, the sink law
//! (a replay writes nothing twice), partitioning, rolling across crashes and restarts, and bad
//! rows under each bad-record policy.

use freshet::sink::{Sink, SinkContext, SinkWriter};
use freshet::source::BadRecordPolicy;
use freshet::testing::laws::check_sink_idempotent;
use freshet::testing::BatchStepper;
use freshet::{BatchTime, StreamingConfig};
use freshet_connectors::files::{
    csv_dataset, json_lines_dataset, read_dataset, CsvOptions, CsvSink, FileFormat, FormatError,
    JsonLinesSink, PartitionBy, ReadOptions, RollingPolicy, TypedFileSource, TypedFileStreams,
    TypedStreamOptions, DEFAULT_PARTITION,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    amount: f64,
    paid: bool,
    note: Option<String>,
}

fn order(id: u64) -> Order {
    Order {
        id,
        customer: ["ann", "bob", "cy/d"][(id % 3) as usize].to_string(),
        amount: id as f64 * 1.25,
        paid: id.is_multiple_of(2),
        note: id.is_multiple_of(4).then(|| format!("note, \"{id}\"")),
    }
}

fn orders(range: std::ops::Range<u64>) -> Vec<Order> {
    range.map(order).collect()
}

fn ctx(partition: usize) -> SinkContext {
    SinkContext {
        output_id: "orders".into(),
        partition,
        partitions: 1,
    }
}

/// Writes and commits `batches` through a fresh writer of partition 0, then drops it.
fn write<S: Sink<Order>>(sink: &S, batches: &[(u64, Vec<Order>)]) {
    let mut w = sink.open(&ctx(0)).unwrap();
    for (t, records) in batches {
        w.write(BatchTime(*t), records).unwrap();
        w.commit(BatchTime(*t)).unwrap();
    }
}

/// Every visible file under `dir` (relative path) with its bytes, `_staging` and hidden names
/// excepted.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn sorted(mut v: Vec<Order>) -> Vec<Order> {
    v.sort_by_key(|o| o.id);
    v
}

#[test]
fn json_lines_round_trip_serde_records() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::new(dir.path()).sync(false);
    write(
        &sink,
        &[(100, orders(0..5)), (200, vec![]), (300, orders(5..9))],
    );
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert_eq!(
        names,
        [
            "batch-100/part-00000",
            "batch-200/part-00000",
            "batch-300/part-00000"
        ]
    );
    let back = json_lines_dataset::<Order>(dir.path())
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(back, orders(0..9));
}

#[test]
fn csv_round_trip_serde_records_with_a_header_row_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CsvSink::new(dir.path()).sync(false);
    write(&sink, &[(100, orders(0..5)), (200, orders(5..9))]);
    let text = std::fs::read_to_string(dir.path().join("batch-100/part-00000.csv")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "id,customer,amount,paid,note",
        "{text}"
    );
    assert!(text.contains("\"note, \"\"0\"\"\""), "{text}");
    let back = csv_dataset::<Order>(dir.path()).unwrap().collect().unwrap();
    assert_eq!(back, orders(0..9));

    // Tab-separated, no header row: fields by position.
    let tsv = tempfile::tempdir().unwrap();
    let dialect = CsvOptions::new().delimiter(b'\t').has_headers(false);
    write(
        &CsvSink::new(tsv.path()).sync(false).csv_options(dialect),
        &[(1, orders(0..3))],
    );
    let loaded =
        read_dataset::<Order>(tsv.path(), FileFormat::Csv(dialect), &ReadOptions::new()).unwrap();
    assert_eq!(loaded.dataset.collect().unwrap(), orders(0..3));
}

#[test]
fn a_nested_record_is_refused_by_the_csv_sink_with_a_user_error() {
    #[derive(Clone, Serialize, Deserialize)]
    struct Nested {
        id: u32,
        tags: Vec<String>,
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = CsvSink::new(dir.path()).sync(false);
    let mut w = Sink::<Nested>::open(&sink, &ctx(0)).unwrap();
    let e = w
        .write(
            BatchTime(1),
            &[Nested {
                id: 1,
                tags: vec!["a".into()],
            }],
        )
        .unwrap_err();
    assert_eq!(e.domain(), freshet::ErrorDomain::User, "{e}");
    assert!(e.to_string().contains("CSV"), "{e}");
}

/// The law batches: two partitions, an empty batch, records in both partitions.
fn law_batches() -> Vec<(BatchTime, Vec<Vec<Order>>)> {
    (1..=6)
        .map(|t| {
            let base = t * 10;
            let parts = if t == 3 {
                vec![vec![], vec![]]
            } else {
                vec![orders(base..base + 3), orders(base + 5..base + 7)]
            };
            (BatchTime(t * 100), parts)
        })
        .collect()
}

#[test]
fn json_lines_and_csv_sinks_pass_the_sink_law_plain_partitioned_and_rolling() {
    let batches = law_batches();
    let sinks: Vec<(&str, MakeSink)> = vec![
        (
            "json",
            Box::new(|d| Box::new(JsonLinesSink::new(d).sync(false))),
        ),
        (
            "json partitioned rolling",
            Box::new(|d| {
                Box::new(
                    JsonLinesSink::new(d)
                        .sync(false)
                        .partition_by(PartitionBy::field("customer"))
                        .rolling(RollingPolicy::new().max_batches(4)),
                )
            }),
        ),
        ("csv", Box::new(|d| Box::new(CsvSink::new(d).sync(false)))),
        (
            "csv partitioned by closure, rolling",
            Box::new(|d| {
                Box::new(
                    CsvSink::new(d)
                        .sync(false)
                        .partition_by(PartitionBy::column("paid", |o: &Order| o.paid.to_string()))
                        .rolling(RollingPolicy::new().max_batches(2)),
                )
            }),
        ),
    ];
    for (name, make) in sinks {
        let dir = tempfile::tempdir().unwrap();
        let sink = make(dir.path());
        sink.check(&batches, dir.path())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!files(dir.path()).is_empty(), "{name}");
    }
}

/// Makes a sink writing under a directory.
type MakeSink = Box<dyn Fn(&Path) -> Box<dyn LawSink>>;

/// A setting check.
type Check = Box<dyn Fn() -> Result<(), FormatError>>;

/// A sink of orders the law can be checked on (object-safe, for the table above).
trait LawSink {
    fn check(&self, batches: &[(BatchTime, Vec<Vec<Order>>)], dir: &Path) -> Result<(), String>;
}

impl<S: Sink<Order>> LawSink for S {
    fn check(&self, batches: &[(BatchTime, Vec<Vec<Order>>)], dir: &Path) -> Result<(), String> {
        check_sink_idempotent(self, "orders", batches, || files(dir)).map_err(|e| e.to_string())
    }
}

#[test]
fn partitioning_writes_escaped_column_directories_and_reads_back_everything() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::new(dir.path())
        .sync(false)
        .extension(".jsonl")
        .partition_by(PartitionBy::field("customer"));
    write(&sink, &[(100, orders(0..6)), (200, orders(6..9))]);
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert_eq!(
        names,
        [
            "customer=ann/batch-100/part-00000.jsonl",
            "customer=ann/batch-200/part-00000.jsonl",
            "customer=bob/batch-100/part-00000.jsonl",
            "customer=bob/batch-200/part-00000.jsonl",
            "customer=cy%2Fd/batch-100/part-00000.jsonl",
            "customer=cy%2Fd/batch-200/part-00000.jsonl",
        ]
    );
    let ann = json_lines_dataset::<Order>(dir.path().join("customer=ann"))
        .unwrap()
        .collect()
        .unwrap();
    assert!(ann.iter().all(|o| o.customer == "ann") && ann.len() == 3);
    let all = json_lines_dataset::<Order>(dir.path())
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted(all), orders(0..9));

    // A null value goes to the default partition; a closure of another record type is refused.
    let nulls = tempfile::tempdir().unwrap();
    let by_note = JsonLinesSink::new(nulls.path())
        .sync(false)
        .partition_by(PartitionBy::field("note"));
    write(&by_note, &[(1, orders(1..2))]);
    assert!(nulls
        .path()
        .join(format!("note={DEFAULT_PARTITION}/batch-1/part-00000"))
        .exists());
    let wrong = JsonLinesSink::new(nulls.path())
        .partition_by(PartitionBy::column("n", |n: &u32| n.to_string()));
    let e = Sink::<Order>::open(&wrong, &ctx(0)).err().unwrap();
    assert!(e.to_string().contains("u32"), "{e}");
}

/// The batch times covered by the rolled files of `dir` (from `part-<n>-<first>-<last>`).
fn rolled_ranges(dir: &Path) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = files(dir)
        .into_keys()
        .filter_map(|name| {
            let stem = name.rsplit('/').next()?.strip_suffix(".jsonl")?.to_string();
            let mut parts = stem.split('-').skip(2);
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect();
    ranges.sort_unstable();
    ranges.dedup();
    ranges
}

#[test]
fn rolling_survives_crashes_replays_and_restarts_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::new(dir.path())
        .sync(false)
        .extension(".jsonl")
        .rolling(RollingPolicy::new().max_batches(3));
    let batch = |t: u64| (t * 100, orders(t * 10..t * 10 + 4));

    // Run 1: batches 1..=7, then a crash (no drop: nothing rolls at the end).
    let mut w = sink.open(&ctx(0)).unwrap();
    for t in 1..=7 {
        let (time, records) = batch(t);
        w.write(BatchTime(time), &records).unwrap();
        w.commit(BatchTime(time)).unwrap();
    }
    std::mem::forget(w);
    assert_eq!(rolled_ranges(dir.path()), [(100, 300), (400, 600)]);

    // Run 2 replays from batch 2 (its checkpoint was at batch 1) and goes on to batch 9, then
    // crashes inside a roll: its marker is written, its file not yet.
    let mut w = sink.open(&ctx(0)).unwrap();
    for t in 2..=9 {
        let (time, records) = batch(t);
        w.write(BatchTime(time), &records).unwrap();
        if t < 9 {
            w.commit(BatchTime(time)).unwrap();
        }
    }
    std::mem::forget(w);
    // Batches 7, 8 and 9 are staged: the roll that batch 9's commit would do was cut short.
    let staging = dir.path().join("_staging/part-00000");
    std::fs::write(staging.join("roll-700-900"), b"").unwrap();
    assert_eq!(rolled_ranges(dir.path()), [(100, 300), (400, 600)]);

    // Run 3 finishes the interrupted roll when it opens, then replays 5..=11 and stops.
    let mut w = sink.open(&ctx(0)).unwrap();
    assert_eq!(
        rolled_ranges(dir.path()),
        [(100, 300), (400, 600), (700, 900)]
    );
    for t in 5..=11 {
        let (time, records) = batch(t);
        w.write(BatchTime(time), &records).unwrap();
        w.commit(BatchTime(time)).unwrap();
    }
    drop(w); // a graceful stop rolls what is staged
    assert_eq!(
        rolled_ranges(dir.path()),
        [(100, 300), (400, 600), (700, 900), (1000, 1100)]
    );
    let staged: Vec<String> = std::fs::read_dir(&staging)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(staged, ["rolled-1100"]);

    // Every record exactly once, in batch order.
    let back = json_lines_dataset::<Order>(dir.path())
        .unwrap()
        .collect()
        .unwrap();
    let expected: Vec<Order> = (1..=11).flat_map(|t| batch(t).1).collect();
    assert_eq!(back, expected);
}

#[test]
fn rolling_by_size_and_span_and_a_half_staged_batch_is_staged_again() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CsvSink::new(dir.path()).sync(false).rolling(
        RollingPolicy::new()
            .max_bytes(1024)
            .max_span(Duration::from_secs(3600)),
    );
    let mut w = sink.open(&ctx(0)).unwrap();
    let mut t = 0;
    while files(dir.path()).is_empty() {
        t += 1;
        w.write(BatchTime(t), &orders(t * 10..t * 10 + 5)).unwrap();
        w.commit(BatchTime(t)).unwrap();
        assert!(t < 100, "never rolled");
    }
    assert!(t > 1, "rolled at {t}");
    // A crash in the middle of staging the next batch leaves a hidden directory only.
    let staging = dir.path().join("_staging/part-00000");
    std::fs::create_dir_all(staging.join(format!(".batch-{}.tmp", t + 1))).unwrap();
    std::fs::write(
        staging.join(format!(".batch-{}.tmp/records.csv", t + 1)),
        "junk",
    )
    .unwrap();
    std::mem::forget(w);
    let mut w = sink.open(&ctx(0)).unwrap();
    w.write(BatchTime(t + 1), &orders(1000..1002)).unwrap();
    w.commit(BatchTime(t + 1)).unwrap();
    drop(w);
    let back = csv_dataset::<Order>(dir.path()).unwrap().collect().unwrap();
    let mut expected: Vec<Order> = (1..=t).flat_map(|t| orders(t * 10..t * 10 + 5)).collect();
    expected.extend(orders(1000..1002));
    assert_eq!(back, expected);

    // By span: batch times 0..=59 s apart stay together, the 60 s one rolls them.
    let span = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::new(span.path())
        .sync(false)
        .extension(".jsonl")
        .rolling(RollingPolicy::new().max_span(Duration::from_secs(60)));
    let mut w = sink.open(&ctx(0)).unwrap();
    for s in (0..=60).step_by(10) {
        w.write(BatchTime(s * 1000), &orders(s..s + 1)).unwrap();
        w.commit(BatchTime(s * 1000)).unwrap();
    }
    std::mem::forget(w);
    assert_eq!(rolled_ranges(span.path()), [(0, 60_000)]);
}

#[test]
fn settings_out_of_range_are_refused_with_their_names_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Check, &str)> = vec![
        (
            Box::new(|| RollingPolicy::new().max_bytes(10).validate()),
            "rolling max_bytes must be between 1024",
        ),
        (
            Box::new(|| RollingPolicy::new().max_batches(0).validate()),
            "rolling max_batches must be between 1",
        ),
        (
            Box::new(|| RollingPolicy::new().max_span(Duration::ZERO).validate()),
            "rolling max_span must be between 1 ms",
        ),
        (
            Box::new(|| CsvOptions::new().delimiter(b'"').validate()),
            "csv delimiter must be",
        ),
        (
            Box::new(|| ReadOptions::new().partitions(0).validate()),
            "partitions must be between 1 and 256",
        ),
        (
            Box::new(|| {
                ReadOptions::new()
                    .bad_records(BadRecordPolicy::DeadLetter)
                    .validate()
            }),
            "dead_letter_dir must be set",
        ),
        (
            Box::new(|| TypedStreamOptions::new().max_files_per_batch(0).validate()),
            "max_files_per_batch must be between 1",
        ),
        (
            Box::new(|| JsonLinesSink::new("x").extension("a/b").validate()),
            "extension must be",
        ),
    ];
    for (check, message) in cases {
        let e = check().unwrap_err().to_string();
        assert!(e.contains(message), "{e} (expected {message})");
    }
    // A sink refuses to open with a bad setting: a user error.
    let sink = JsonLinesSink::new(dir.path()).rolling(RollingPolicy::new().max_bytes(1));
    let e = Sink::<Order>::open(&sink, &ctx(0)).err().unwrap();
    assert_eq!(e.domain(), freshet::ErrorDomain::User);
    assert!(e.to_string().contains("rolling max_bytes"), "{e}");
}

/// A JSON lines file with two good rows around a bad one, and a CSV file alike.
fn bad_files(dir: &Path) -> (PathBuf, PathBuf) {
    let json = dir.join("orders.jsonl");
    let good = |id| serde_json::to_string(&order(id)).unwrap();
    std::fs::write(
        &json,
        format!("{}\n{{\"id\": \"not a number\"}}\n\n{}\n", good(1), good(2)),
    )
    .unwrap();
    let csv = dir.join("orders.csv");
    std::fs::write(
        &csv,
        "id,customer,amount,paid,note\n1,ann,1.25,false,\nx,bob,2.5,true,\n2,bob,2.5,true,n\n",
    )
    .unwrap();
    (json, csv)
}

#[test]
fn bad_rows_in_datasets_follow_each_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = bad_files(dir.path());
    let csv_format = FileFormat::Csv(CsvOptions::default());
    for (path, format, location) in [
        (&json, FileFormat::JsonLines, "line 2"),
        (&csv, csv_format, "line 3"),
    ] {
        // Skip: counted, the good rows kept.
        let loaded = read_dataset::<Order>(path, format, &ReadOptions::new()).unwrap();
        assert_eq!(loaded.bad_rows, 1);
        let ids: Vec<u64> = loaded
            .dataset
            .collect()
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, [1, 2]);

        // Fail: an error naming the file and the row.
        let fail = ReadOptions::new().bad_records(BadRecordPolicy::Fail);
        let e = read_dataset::<Order>(path, format, &fail)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(location),
            "{e}"
        );

        // Dead letter: kept with the reason and the row's text.
        let letters = dir.path().join(format!("letters-{}", format.name()));
        let dead = ReadOptions::new()
            .bad_records(BadRecordPolicy::DeadLetter)
            .dead_letter_dir(&letters)
            .source_name("orders");
        let loaded = read_dataset::<Order>(path, format, &dead).unwrap();
        assert_eq!((loaded.records, loaded.bad_rows), (2, 1));
        let text = std::fs::read_to_string(letters.join("orders.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["source"], "orders");
        assert!(
            line["reason"].as_str().unwrap().contains(location),
            "{line}"
        );
        assert!(line["record"].as_str().is_some(), "{line}");
    }
}

#[test]
fn typed_streams_read_new_files_and_apply_the_bad_record_policy() {
    // Skip (the default): the good rows of each new file, one batch per step; bad ones counted.
    let dir = tempfile::tempdir().unwrap();
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)).workers(2)).unwrap();
    let out = stepper
        .context()
        .json_lines_stream::<Order>(dir.path())
        .uid("orders")
        .collect_batches();
    std::fs::write(dir.path().join("old.jsonl"), "{}\n").unwrap(); // there before start: not read
    stepper.start().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let (_, csv) = bad_files(&sub);
    std::fs::remove_file(csv).unwrap();
    stepper.step().unwrap();
    // A sink's output (partition and batch directories, a hidden temporary file) is walked.
    std::fs::create_dir_all(dir.path().join("customer=ann/batch-1")).unwrap();
    std::fs::write(
        dir.path().join("customer=ann/batch-1/part-00000.jsonl"),
        format!("{}\n", serde_json::to_string(&order(3)).unwrap()),
    )
    .unwrap();
    std::fs::write(dir.path().join("customer=ann/.part.tmp"), "garbage").unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    let mut ids: Vec<Vec<u64>> = out
        .batches()
        .into_iter()
        .map(|(_, r)| sorted(r).iter().map(|o| o.id).collect())
        .collect();
    ids.retain(|b| !b.is_empty());
    assert_eq!(ids, [vec![1, 2], vec![3]]);
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn a_bad_row_fails_a_typed_stream_under_the_fail_policy_and_is_dead_lettered_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    stepper
        .context()
        .typed_file_stream(
            TypedFileSource::<Order>::csv(dir.path()).bad_records(BadRecordPolicy::Fail),
        )
        .collect_batches();
    stepper.start().unwrap();
    bad_files(dir.path());
    let e = stepper.step().unwrap_err().to_string();
    assert!(e.contains("orders.csv") && e.contains("line 3"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let letters = tempfile::tempdir().unwrap();
    let config = StreamingConfig::new(Duration::from_millis(100)).dead_letter_dir(letters.path());
    let mut stepper = BatchStepper::new(config).unwrap();
    let out = stepper
        .context()
        .typed_file_stream(
            TypedFileSource::<Order>::json_lines(dir.path())
                .options(TypedStreamOptions::new().bad_records(BadRecordPolicy::DeadLetter)),
        )
        .uid("orders-in")
        .collect_batches();
    stepper.start().unwrap();
    bad_files(dir.path());
    std::fs::remove_file(dir.path().join("orders.csv")).unwrap();
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let n: usize = out.batches().iter().map(|(_, r)| r.len()).sum();
    assert_eq!(n, 2);
    let text = std::fs::read_to_string(letters.path().join("orders-in.jsonl")).unwrap();
    assert!(
        text.contains("not a number") && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn a_pipeline_writes_rolled_partitioned_json_lines_read_back_as_a_stream_would_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)).workers(2)).unwrap();
    let batches: Vec<Vec<Order>> = (0..6).map(|b| orders(b * 10..b * 10 + 7)).collect();
    stepper
        .context()
        .queue_stream(batches.clone())
        .sink(
            JsonLinesSink::new(dir.path())
                .sync(false)
                .extension(".jsonl")
                .partition_by(PartitionBy::field("paid"))
                .rolling(RollingPolicy::new().max_batches(4)),
        )
        .uid("orders-out");
    stepper.start().unwrap();
    stepper.steps(6).unwrap();
    stepper.stop().unwrap();
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("paid=true/part-000") || n.starts_with("paid=false/part-000")),
        "{names:?}"
    );
    let back = json_lines_dataset::<Order>(dir.path())
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted(back), sorted(batches.concat()));
}

#[test]
fn a_json_lines_file_larger_than_a_read_range_gives_every_record_once() {
    // Over 1 MiB, so the file is read in several byte ranges, on two workers; lines are long
    // enough to straddle range boundaries. One bad line lies past the first range.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut expected = Vec::new();
    let mut id = 0u64;
    let mut bad_at = None;
    while text.len() < 9 << 20 {
        if bad_at.is_none() && text.len() > 5 << 20 {
            bad_at = Some(text.len());
            text.push_str("{\"id\": \"not a number\"}\n");
            continue;
        }
        let mut o = order(id);
        o.note = Some("x".repeat((id % 300) as usize));
        text.push_str(&serde_json::to_string(&o).unwrap());
        text.push('\n');
        expected.push(o);
        id += 1;
    }
    std::fs::write(dir.path().join("big.jsonl"), &text).unwrap();
    let letters = tempfile::tempdir().unwrap();
    let mut stepper = BatchStepper::new(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(2)
            .dead_letter_dir(letters.path()),
    )
    .unwrap();
    let out = stepper
        .context()
        .typed_file_stream(
            TypedFileSource::<Order>::json_lines(dir.path()).options(
                TypedStreamOptions::new()
                    .include_existing(true)
                    .bad_records(BadRecordPolicy::DeadLetter),
            ),
        )
        .uid("big")
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let got: Vec<Order> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(sorted(got), expected);
    let letter = std::fs::read_to_string(letters.path().join("big.jsonl")).unwrap();
    let at = format!("the line at byte {}", bad_at.unwrap());
    assert!(letter.contains(&at), "{letter}");
}
