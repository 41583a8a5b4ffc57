//! The Redis Streams direct source against a real Redis 7 at 127.0.0.1:6379 (started when it is
//! down; the tests fail when it cannot be reached): the connector laws, every entry exactly once
//! with one and two workers, identical replays after a restart, a backlog spread over batches,
//! bad entries under both policies, progress shown in the consumer group, and the errors at the
//! edges. Every test works on its own keys (named with the process id) and deletes them.
#![cfg(feature = "redis")]

mod restarts;
mod services;

use restarts::step;

use freshet::source::{BadRecordPolicy, DirectOptions, DirectSource, StartContext};
use freshet::testing::laws::{check_direct_source, check_retryable, closed_port, LawOptions};
use freshet::testing::BatchStepper;
use freshet::{
    BatchTime, CollectedBatches, ErrorDomain, ManualClock, StreamingConfig, StreamingContext,
};
use freshet_connectors::redis::{EntryId, RedisEntry, RedisOffset, RedisStreamSource, StartingId};
use redis::{Commands, Connection, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const URL: &str = "redis://127.0.0.1:6379/";
const I: u64 = 100;

/// A connection to the test server, started when it is down.
fn connection() -> Connection {
    services::redis();
    redis::Client::open(URL)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(10)))
        .expect("Redis at 127.0.0.1:6379")
}

/// A key of this test process, deleted when dropped.
struct Key {
    name: String,
    conn: Connection,
}

impl Key {
    fn new(name: &str) -> Key {
        let mut conn = connection();
        let name = format!("freshet-test:{name}:{}", std::process::id());
        let _: () = conn.del(&name).unwrap();
        Key { name, conn }
    }

    /// Adds an entry with `fields` under `id` (`*` for one Redis makes) and returns its id.
    fn add_with_id(&mut self, id: &str, fields: &[(&str, &str)]) -> String {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.name).arg(id);
        for (f, v) in fields {
            cmd.arg(*f).arg(*v);
        }
        cmd.query(&mut self.conn).unwrap()
    }

    fn add(&mut self, fields: &[(&str, &str)]) -> String {
        self.add_with_id("*", fields)
    }

    /// Adds one entry `line = <value>` per value, a millisecond apart every few entries (so
    /// that batches span several milliseconds and are cut into several splits).
    fn add_lines(&mut self, values: &[String]) {
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 2 {
                std::thread::sleep(Duration::from_millis(2));
            }
            self.add(&[("line", v)]);
        }
    }

    fn len(&mut self) -> u64 {
        self.conn.xlen(&self.name).unwrap()
    }

    /// `XINFO GROUPS` of the key, by group name.
    fn groups(&mut self) -> HashMap<String, HashMap<String, Value>> {
        let groups: Vec<HashMap<String, Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.name)
            .query(&mut self.conn)
            .unwrap();
        groups.into_iter().map(|g| (text(&g["name"]), g)).collect()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        let _: Result<(), _> = self.conn.del(&self.name);
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn values(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn line(e: &RedisEntry) -> String {
    e.field_str("line").unwrap_or("").to_string()
}

fn start_ctx(available_now: bool) -> StartContext {
    StartContext {
        id: "redis".into(),
        available_now,
        batch_interval: Duration::from_millis(I),
        data_loss: freshet::source::DataLoss::detached(freshet::source::DataLossPolicy::Fail),
    }
}

static LAW_KEY: Mutex<Option<String>> = Mutex::new(None);

/// Between the law's batches: entries with ids of chosen milliseconds, so that the batches are
/// cut into several splits.
fn grow(batch: usize) {
    let key = LAW_KEY.lock().unwrap().clone().unwrap();
    let mut conn = connection();
    for i in 0..5 {
        let ms = 10_000 + 1000 * batch as u64 + 100 * i;
        let _: String = redis::cmd("XADD")
            .arg(&key)
            .arg(format!("{ms}-*"))
            .arg("line")
            .arg(format!("b{batch}-{i}"))
            .query(&mut conn)
            .unwrap();
    }
}

#[test]
fn the_direct_stream_passes_the_direct_source_laws() {
    let mut key = Key::new("laws");
    for i in 0..7u64 {
        key.add_with_id(
            &format!("{}-0", 1000 + 37 * i),
            &[("line", &format!("p{i}"))],
        );
    }
    *LAW_KEY.lock().unwrap() = Some(key.name.clone());
    let options = LawOptions {
        between_batches: Some(grow),
        ..LawOptions::default()
    };
    check_direct_source(
        || RedisStreamSource::new(URL, &key.name).max_entries_per_batch(4),
        &options,
    )
    .unwrap();
    check_direct_source(
        || RedisStreamSource::new(URL, &key.name).field_utf8("line"),
        &LawOptions::default(),
    )
    .unwrap();
}

/// Adds entries in rounds, steps a batch after each, and checks every entry came once, in the
/// batch after its round.
fn every_entry_once(workers: usize) {
    let mut key = Key::new(&format!("once-{workers}"));
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(workers)).unwrap();
    let out = stepper
        .context()
        .direct_stream(RedisStreamSource::new(URL, &key.name))
        .uid("events")
        .collect_batches();
    stepper.start().unwrap();
    let mut added = BTreeSet::new();
    for round in 0..4 {
        let vs = values(&format!("r{round}"), 0..(10 + 3 * round));
        key.add_lines(&vs);
        added.extend(vs);
        stepper.step().unwrap();
    }
    stepper.step().unwrap(); // nothing new
    stepper.stop().unwrap();
    let batches = out.batches();
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|(_, b)| b.iter().map(|e| e.id.clone()))
        .collect();
    let distinct: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "an entry was read twice");
    let read: BTreeSet<String> = batches
        .iter()
        .flat_map(|(_, b)| b.iter().map(line))
        .collect();
    assert_eq!(read, added);
    for (round, (_, batch)) in batches.iter().take(4).enumerate() {
        assert_eq!(batch.len(), 10 + 3 * round);
        assert!(batch
            .iter()
            .all(|e| line(e).starts_with(&format!("r{round}-"))));
    }
    assert!(batches[4].1.is_empty());
}

#[test]
fn with_one_worker_every_entry_is_read_exactly_once() {
    every_entry_once(1);
}

#[test]
fn with_two_workers_every_entry_is_read_exactly_once() {
    every_entry_once(2);
}

#[test]
fn max_entries_per_batch_and_a_rate_limit_spread_a_backlog_over_batches() {
    let mut key = Key::new("backlog");
    key.add_lines(&values("e", 0..25));
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream(
            RedisStreamSource::new(URL, &key.name)
                .max_entries_per_batch(10)
                .field_utf8("line"),
        )
        .collect_batches();
    stepper.start().unwrap();
    stepper.steps(4).unwrap();
    stepper.stop().unwrap();
    let sizes: Vec<usize> = out.batches().iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes, vec![10, 10, 5, 0]);
    let all: Vec<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(all, values("e", 0..25), "in stream order");

    // The engine's limit (a rate, backpressure) cuts further; the per-batch cap still holds.
    let mut source = RedisStreamSource::new(URL, &key.name).max_entries_per_batch(10);
    let from = source.start(&start_ctx(false)).unwrap();
    assert_eq!(source.lag(&from), Some(25));
    let to = source.latest_limited(&from, 3).unwrap();
    let ids: Vec<String> = redis::cmd("XRANGE")
        .arg(&key.name)
        .arg("-")
        .arg("+")
        .query::<Vec<(String, Vec<String>)>>(&mut key.conn)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(to.last_id, ids[2]);
    assert_eq!(source.latest_limited(&to, 50).unwrap().last_id, ids[12]);
    let end = RedisOffset::new(ids[24].parse().unwrap());
    assert_eq!(source.lag(&end), Some(0));
    source.stop();
}

/// A checkpointed context on `clock` reading `source`, a checkpoint every second batch.
fn checkpointed(
    clock: &ManualClock,
    dir: &Path,
    source: RedisStreamSource,
) -> (StreamingContext, CollectedBatches<RedisEntry>) {
    restarts::checkpointed(clock, dir, 3, "stream", source)
}

/// The same, keeping the `keep` newest checkpoints (the source commits the oldest).
fn checkpointed_keeping(
    clock: &ManualClock,
    dir: &Path,
    source: RedisStreamSource,
    keep: usize,
) -> (StreamingContext, CollectedBatches<RedisEntry>) {
    restarts::checkpointed(clock, dir, keep, "stream", source)
}

#[test]
fn a_restart_from_the_checkpoint_replays_the_logged_ranges_identically() {
    let mut key = Key::new("replayed");
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let name = key.name.clone();
    let source = || {
        RedisStreamSource::new(URL, &name)
            .max_entries_per_batch(6)
            .group("replayer")
    };

    // Five batches; checkpoints after 200 and 400, batch 500 only in the batch log.
    let (ctx, first) = checkpointed(&clock, dir.path(), source());
    ctx.start().unwrap();
    let mut added = BTreeSet::new();
    for round in 0..5 {
        let vs = values(&format!("r{round}"), 0..4);
        key.add_lines(&vs);
        added.extend(vs);
        step(&ctx, &clock);
    }
    ctx.stop(false).unwrap();
    let logged_500 = first.batch(BatchTime(500)).unwrap();
    assert_eq!(logged_500.len(), 4);

    // More entries arrive while it is down: the replayed batch must not take them.
    let vs = values("down", 0..9);
    key.add_lines(&vs);
    added.extend(vs);
    let (ctx, second) = checkpointed(&clock, dir.path(), source());
    ctx.start().unwrap();
    ctx.await_batch(BatchTime(500), Duration::from_secs(30))
        .unwrap();
    for _ in 0..3 {
        step(&ctx, &clock);
    }
    ctx.stop(true).unwrap();
    assert_eq!(
        second.batch(BatchTime(500)).unwrap(),
        logged_500,
        "the replayed batch differs from the logged one"
    );
    let sizes: Vec<usize> = second.batches().iter().map(|(_, b)| b.len()).collect();
    assert_eq!(
        sizes,
        vec![4, 6, 3, 0],
        "the replay, then the entries added while down"
    );

    let all: Vec<RedisEntry> = first
        .batches()
        .into_iter()
        .filter(|(t, _)| t.0 < 500)
        .chain(second.batches())
        .flat_map(|(_, b)| b)
        .collect();
    let ids: BTreeSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "an entry was read twice");
    let read: BTreeSet<String> = all.iter().map(line).collect();
    assert_eq!(read, added);
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Click {
    page: String,
    ms: u64,
}

#[test]
fn entries_missing_the_field_or_not_decoding_follow_the_bad_record_policy() {
    let mut key = Key::new("clicks");
    key.add(&[("doc", r#"{"page":"/a","ms":3}"#)]);
    let bad_json = key.add(&[("doc", "not json")]);
    key.add(&[("other", "x")]);
    key.add(&[("doc", r#"{"page":"/b","ms":5}"#)]);

    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let out = stepper
        .context()
        .direct_stream(RedisStreamSource::new(URL, &key.name).field_json::<Click>("doc"))
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    let pages: Vec<String> = out
        .batches()
        .into_iter()
        .flat_map(|(_, b)| b)
        .map(|c| c.page)
        .collect();
    assert_eq!(pages, vec!["/a", "/b"]);
    assert_eq!(ctx.skipped_records(), 2);

    // As text, only the entry without the field is bad.
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let out = stepper
        .context()
        .direct_stream(RedisStreamSource::new(URL, &key.name).field_utf8("doc"))
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    assert_eq!(out.batches().into_iter().flat_map(|(_, b)| b).count(), 3);
    assert_eq!(ctx.skipped_records(), 1);

    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    stepper
        .context()
        .direct_stream_with(
            RedisStreamSource::new(URL, &key.name).field_json::<Click>("doc"),
            DirectOptions::new().bad_records(BadRecordPolicy::Fail),
        )
        .collect_batches();
    stepper.start().unwrap();
    let err = stepper.step().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(
        err.to_string().contains(&format!("entry {bad_json}")),
        "{err}"
    );

    // Dead-lettered: kept with the reason and the field's value.
    let dead = tempfile::tempdir().unwrap();
    let config = StreamingConfig::new(Duration::from_millis(I)).dead_letter_dir(dead.path());
    let mut stepper = BatchStepper::new(config).unwrap();
    stepper
        .context()
        .direct_stream_with(
            RedisStreamSource::new(URL, &key.name).field_json::<Click>("doc"),
            DirectOptions::new().bad_records(BadRecordPolicy::DeadLetter),
        )
        .uid("clicks")
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let kept = std::fs::read_to_string(dead.path().join("clicks.jsonl")).unwrap();
    assert!(kept.contains(r#""record":"not json""#), "{kept}");
    assert!(kept.contains("no field `doc`"), "{kept}");
}

#[test]
fn the_group_shows_the_checkpointed_progress() {
    let mut key = Key::new("group");
    let ids: Vec<String> = (0..6)
        .map(|i| key.add(&[("line", &format!("e{i}"))]))
        .collect();

    // Made at the start, where the job starts.
    let mut source = RedisStreamSource::new(URL, &key.name).group("monitor");
    let from = source.start(&start_ctx(false)).unwrap();
    let groups = key.groups();
    assert_eq!(text(&groups["monitor"]["last-delivered-id"]), "0-0");
    let to = source.latest(&from).unwrap();
    assert_eq!(to.last_id, ids[5]);
    source.commit(&to).unwrap();
    let groups = key.groups();
    let g = &groups["monitor"];
    assert_eq!(text(&g["last-delivered-id"]), ids[5]);
    assert_eq!(text(&g["pending"]), "0");
    assert_eq!(text(&g["lag"]), "0", "at the end of the stream");

    // Deleted meanwhile: made again at the next commit.
    let _: i64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(&key.name)
        .arg("monitor")
        .query(&mut key.conn)
        .unwrap();
    source
        .commit(&RedisOffset::new(ids[2].parse().unwrap()))
        .unwrap();
    assert_eq!(text(&key.groups()["monitor"]["last-delivered-id"]), ids[2]);
    source.stop();

    // In a checkpointed run, the group follows the oldest checkpoint kept (here the last one;
    // batches 200 and 400 are checkpointed), never ahead of the batches.
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let (ctx, out) = checkpointed_keeping(
        &clock,
        dir.path(),
        RedisStreamSource::new(URL, &key.name).group("job"),
        1,
    );
    ctx.start().unwrap();
    let mut ends = vec!["0-0".to_string()];
    for round in 0..4 {
        key.add_lines(&values(&format!("r{round}"), 0..3));
        step(&ctx, &clock);
        if let Some(last) = out.batches().last().and_then(|(_, b)| b.last().cloned()) {
            ends.push(last.id);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivered = loop {
        let g = &key.groups()["job"];
        let delivered = text(&g["last-delivered-id"]);
        assert_eq!(text(&g["pending"]), "0");
        if delivered != "0-0" || Instant::now() > deadline {
            break delivered;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ctx.stop(true).unwrap();
    assert_ne!(delivered, "0-0", "the group never moved");
    assert!(
        ends.contains(&delivered),
        "{delivered} is not a batch end of {ends:?}"
    );
    let delivered: EntryId = delivered.parse().unwrap();
    let last: EntryId = ends.last().unwrap().parse().unwrap();
    assert!(delivered <= last);
}

#[test]
fn starting_ids_and_an_available_now_run() {
    let mut key = Key::new("starts");
    let ids: Vec<String> = (0..12)
        .map(|i| key.add(&[("line", &format!("e{i}"))]))
        .collect();
    let start = |s: StartingId| {
        let mut source = RedisStreamSource::new(URL, &key.name).starting(s);
        let at = source.start(&start_ctx(false));
        source.stop();
        at
    };
    assert_eq!(start(StartingId::Earliest).unwrap().last_id, "0-0");
    assert_eq!(start(StartingId::Latest).unwrap().last_id, ids[11]);
    assert_eq!(
        start(StartingId::After(ids[4].clone())).unwrap().last_id,
        ids[4]
    );
    let err = start(StartingId::After("99999999999999-0".into())).unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
    assert!(err.to_string().contains("past the last id"), "{err}");

    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(20)).stop_on_ctrl_c(false),
    )
    .unwrap();
    let out = ctx
        .direct_stream(
            RedisStreamSource::new(URL, &key.name)
                .max_entries_per_batch(5)
                .field_utf8("line"),
        )
        .collect_batches();
    ctx.run_available_now().unwrap();
    let all: Vec<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(all, (0..12).map(|i| format!("e{i}")).collect::<Vec<_>>());
    assert_eq!(key.len(), 12);
}

#[test]
fn bad_settings_and_other_types_are_the_users_and_a_closed_port_is_retried() {
    let mut key = Key::new("settings");
    key.add(&[("line", "x")]);
    let fails = |source: RedisStreamSource| {
        let mut source = source;
        let err = source.start(&start_ctx(false)).unwrap_err();
        source.stop();
        err
    };
    let name = key.name.clone();
    let cases: Vec<(RedisStreamSource, &str)> = vec![
        (
            RedisStreamSource::new(URL, &name).max_entries_per_batch(0),
            "max_entries_per_batch must be between 1 and 1000000000",
        ),
        (
            RedisStreamSource::new(URL, &name).timeout(Duration::ZERO),
            "timeout must be between",
        ),
        (
            RedisStreamSource::new(URL, &name).group(""),
            "group must be",
        ),
        (
            RedisStreamSource::new(URL, &name).starting(StartingId::After("yesterday".into())),
            "starting id",
        ),
        (RedisStreamSource::new("http://127.0.0.1/", &name), "url"),
        (RedisStreamSource::new(URL, ""), "stream key"),
    ];
    for (source, expected) in cases {
        let err = fails(source);
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` lacks `{expected}`"
        );
    }

    // A key of another type, at the start or later.
    let other = Key::new("a-string");
    let mut conn = connection();
    let _: () = conn.set(&other.name, "not a stream").unwrap();
    let err = fails(RedisStreamSource::new(URL, &other.name));
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&other.name), "{err}");
    assert!(
        err.to_string().contains("not a stream") || err.to_string().contains("another type"),
        "{err}"
    );
    let mut source = RedisStreamSource::new(URL, &key.name);
    let from = source.start(&start_ctx(false)).unwrap();
    let _: () = conn.del(&key.name).unwrap();
    let _: () = conn.set(&key.name, "now a string").unwrap();
    let err = source.latest(&from).unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&key.name), "{err}");
    source.stop();

    // Nothing listens: retried, at the start and when planning.
    let closed = format!("redis://{}/", closed_port());
    let err = fails(RedisStreamSource::new(&closed, &name).timeout(Duration::from_millis(500)));
    check_retryable(&err).unwrap();
}

#[test]
fn entries_trimmed_before_they_were_read_fail_the_job_or_are_counted_as_lost() {
    use freshet::source::DataLossPolicy;
    let run = |policy: DataLossPolicy| {
        let mut key = Key::new(&format!("trimmed-{policy:?}"));
        key.add_lines(&values("a", 0..4));
        let mut stepper =
            BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
        let out = stepper
            .context()
            .direct_stream_with(
                RedisStreamSource::new(URL, &key.name).field_utf8("line"),
                DirectOptions::new().on_data_loss(policy),
            )
            .uid("lines")
            .collect_batches();
        stepper.start().unwrap();
        key.add_lines(&values("b", 0..3));
        stepper.step().unwrap();
        // Three entries more, then the stream is trimmed to the last one before they are read.
        key.add_lines(&values("c", 0..3));
        let _: i64 = redis::cmd("XTRIM")
            .arg(&key.name)
            .arg("MAXLEN")
            .arg(1)
            .query(&mut key.conn)
            .unwrap();
        key.add_lines(&values("d", 0..2));
        let stepped = stepper.step();
        let lost = stepper.context().lost_records();
        let read: Vec<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
        let _ = stepper.stop();
        (stepped, lost, read)
    };

    let (stepped, _, read) = run(DataLossPolicy::Fail);
    let err = stepped.unwrap_err().to_string();
    assert!(
        err.contains("2 entries") && err.contains("trimmed or deleted before they were read"),
        "{err}"
    );
    let mut first = values("a", 0..4);
    first.extend(values("b", 0..3));
    assert_eq!(read, first);

    let (stepped, lost, read) = run(DataLossPolicy::Continue);
    stepped.unwrap();
    assert_eq!(lost, 2, "c-0 and c-1 are counted as lost");
    let mut expected = first;
    expected.push("c-2".into());
    expected.extend(values("d", 0..2));
    assert_eq!(read, expected);
}
