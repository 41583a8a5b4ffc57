//! The Redis sink against a real Redis at 127.0.0.1:6379 (started when it is down; the tests
//! fail when it cannot be reached): every mode written once and rewritten without effect (the
//! sink law), increments counted once across replays, a checkpointed pipeline restarted
//! through the public API, stale and racing writers of one partition, and the errors at the
//! edges (bad settings, keys of another type, commands Redis refuses, a closed port, a dropped
//! connection). Every test works under its own key prefix (named with the process id) and
//! deletes its keys.
#![cfg(feature = "redis")]

mod services;

use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::source::generator::{click, GeneratorOptions};
use freshet::testing::laws::{check_retryable, check_sink_idempotent, closed_port};
use freshet::{BatchTime, Clock, ErrorDomain, ManualClock, SinkError, StreamingConfig};
use freshet::{CollectedBatches, StreamingContext};
use freshet_connectors::redis::{RedisSink, RedisSinkSettingsError, RedisWrites};
use redis::{Commands, Connection};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const URL: &str = "redis://127.0.0.1:6379/";
const I: u64 = 100;

/// A connection to the test server, started when it is down.
fn connection() -> Connection {
    services::redis();
    redis::Client::open(URL)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(10)))
        .expect("Redis at 127.0.0.1:6379")
}

/// The key prefix of one test: its keys are deleted before and after it.
struct Prefix {
    name: String,
    conn: Connection,
}

impl Prefix {
    fn new(test: &str) -> Prefix {
        let mut p = Prefix {
            name: format!("freshet-sink-test:{test}:{}:", std::process::id()),
            conn: connection(),
        };
        p.delete_all();
        p
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.name)
    }

    fn delete_all(&mut self) {
        let keys: Vec<String> = self
            .conn
            .scan_match(format!("{}*", self.name))
            .unwrap()
            .collect();
        for k in keys {
            let _: () = self.conn.del(k).unwrap();
        }
    }

    fn hash(&mut self, key: &str) -> BTreeMap<String, String> {
        self.conn.hgetall(self.key(key)).unwrap()
    }

    fn zset(&mut self, key: &str) -> Vec<(String, f64)> {
        self.conn.zrange_withscores(self.key(key), 0, -1).unwrap()
    }

    fn stream(&mut self, key: &str) -> Vec<Vec<(String, String)>> {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.key(key))
            .arg("-")
            .arg("+")
            .query(&mut self.conn)
            .unwrap();
        entries.into_iter().map(|(_, fields)| fields).collect()
    }

    fn get(&mut self, key: &str) -> Option<String> {
        self.conn.get(self.key(key)).unwrap()
    }

    fn marker(&mut self, output: &str, partition: usize) -> Option<u64> {
        self.get(&format!("freshet:batch:{output}:{partition}"))
            .map(|m| m.parse().unwrap())
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        self.delete_all();
    }
}

fn ctx(output: &str, partition: usize, partitions: usize) -> SinkContext {
    SinkContext {
        output_id: output.into(),
        partition,
        partitions,
    }
}

/// Batches as the sink law takes them: each a batch time and one list of items per partition.
type Batches<T> = Vec<(BatchTime, Vec<Vec<T>>)>;

/// Three batches over two partitions: batch `b` partition `p` holds `(f<i>, b*10+p)`.
fn pairs() -> Batches<(String, u64)> {
    (1..=3u64)
        .map(|b| {
            let parts = (0..2u64)
                .map(|p| {
                    (0..3)
                        .map(|i| (format!("f{}", i + 3 * p), b * 10 + p))
                        .collect()
                })
                .collect();
            (BatchTime(b * I), parts)
        })
        .collect()
}

/// Writes `batches` with fresh writers, one per partition (as after a restart).
fn write<T, S: Sink<T>>(
    sink: &S,
    output: &str,
    batches: &[(BatchTime, Vec<Vec<T>>)],
) -> Result<(), SinkError> {
    for p in 0..2 {
        let mut w = sink.open(&ctx(output, p, 2))?;
        for (t, parts) in batches {
            w.write(*t, &parts[p])?;
            w.commit(*t)?;
        }
    }
    Ok(())
}

#[test]
fn hash_fields_are_set_once_and_a_replay_writes_nothing_twice() {
    let mut p = Prefix::new("hash");
    let sink = RedisSink::hash(URL, "profile").key_prefix(&p.name);
    assert_eq!(
        <_ as Sink<(String, u64)>>::guarantee(&sink),
        Guarantee::ExactlyOnce
    );
    let name = p.name.clone();
    let read = move || {
        let mut c = connection();
        let h: BTreeMap<String, String> = c.hgetall(format!("{name}profile")).unwrap();
        h
    };
    check_sink_idempotent(&sink, "profile", &pairs(), read).unwrap();
    // The last batch's value of every field.
    let want: BTreeMap<String, String> = (0..6)
        .map(|i| (format!("f{i}"), (30 + i / 3).to_string()))
        .collect();
    assert_eq!(p.hash("profile"), want);
    assert_eq!(p.marker("profile", 0), Some(300));
    assert_eq!(p.marker("profile", 1), Some(300));

    // Values as JSON.
    let sink = RedisSink::hash(URL, "docs")
        .key_prefix(&p.name)
        .json_values::<Vec<u32>>();
    let mut w = sink.open(&ctx("docs", 0, 1)).unwrap();
    w.write(BatchTime(I), &[("a".to_string(), vec![1, 2])])
        .unwrap();
    w.commit(BatchTime(I)).unwrap();
    assert_eq!(p.hash("docs")["a"], "[1,2]");
}

#[test]
fn increments_are_counted_once_across_replays() {
    let mut p = Prefix::new("incr");
    let hash = RedisSink::hash(URL, "counts")
        .key_prefix(&p.name)
        .increments();
    let zset = RedisSink::sorted_set(URL, "ranks")
        .key_prefix(&p.name)
        .increments();
    let name = p.name.clone();
    let read_hash = || {
        let h: BTreeMap<String, i64> = connection().hgetall(format!("{name}counts")).unwrap();
        h
    };
    check_sink_idempotent(&hash, "counts", &pairs(), read_hash).unwrap();
    let read_zset = || {
        let z: Vec<(String, f64)> = connection()
            .zrange_withscores(format!("{name}ranks"), 0, -1)
            .unwrap();
        z
    };
    check_sink_idempotent(&zset, "ranks", &pairs(), read_zset).unwrap();

    // Each field got 10+p, 20+p and 30+p once.
    let sum = |f: usize| 60 + 3 * (f / 3) as i64;
    let want: BTreeMap<String, i64> = (0..6).map(|f| (format!("f{f}"), sum(f))).collect();
    assert_eq!(read_hash(), want);
    let mut z: Vec<(String, i64)> = p
        .zset("ranks")
        .into_iter()
        .map(|(m, s)| (m, s as i64))
        .collect();
    z.sort();
    assert_eq!(z, want.clone().into_iter().collect::<Vec<_>>());

    // A replay of the last two batches followed by a new one: only the new one counts.
    let mut batches = pairs()[1..].to_vec();
    batches.push((BatchTime(4 * I), vec![vec![("f0".into(), 1)], vec![]]));
    write(&hash, "counts", &batches).unwrap();
    assert_eq!(p.hash("counts")["f0"], (sum(0) + 1).to_string());
    assert_eq!(p.hash("counts")["f3"], sum(3).to_string());
    assert_eq!(p.marker("counts", 0), Some(400));
    assert_eq!(
        p.marker("counts", 1),
        Some(300),
        "an empty part sends nothing"
    );

    // Floats go through HINCRBYFLOAT.
    let floats = RedisSink::hash(URL, "ratios")
        .key_prefix(&p.name)
        .increments();
    let mut w = floats.open(&ctx("ratios", 0, 1)).unwrap();
    w.write(BatchTime(I), &[("r", 0.25f64), ("r", 0.5)])
        .unwrap();
    w.commit(BatchTime(I)).unwrap();
    assert_eq!(p.hash("ratios")["r"], "0.75");
}

#[test]
fn sorted_sets_keep_the_top_n_members() {
    let mut p = Prefix::new("top");
    let sink = RedisSink::sorted_set(URL, "leaders")
        .key_prefix(&p.name)
        .top(3);
    let batches: Batches<(String, f64)> = vec![
        (
            BatchTime(I),
            vec![
                vec![("a".into(), 5.0), ("b".into(), 1.0)],
                vec![("c".into(), 3.0), ("d".into(), 4.0)],
            ],
        ),
        (
            BatchTime(2 * I),
            vec![vec![("e".into(), 2.0)], vec![("b".into(), 9.0)]],
        ),
    ];
    let name = p.name.clone();
    let read = || {
        let z: Vec<(String, f64)> = connection()
            .zrange_withscores(format!("{name}leaders"), 0, -1)
            .unwrap();
        z
    };
    check_sink_idempotent(&sink, "leaders", &batches, read).unwrap();
    // Partition 0 wrote both batches first (a, b, e), then partition 1 (c, d, then b = 9).
    assert_eq!(
        p.zset("leaders"),
        vec![("d".into(), 4.0), ("a".into(), 5.0), ("b".into(), 9.0)]
    );
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct View {
    page: String,
    ms: u32,
}

#[test]
fn stream_entries_are_added_once_and_trimmed() {
    let mut p = Prefix::new("stream");
    let sink = RedisSink::stream(URL, "events").key_prefix(&p.name);
    let batches: Batches<Vec<(String, String)>> = (1..=3u64)
        .map(|b| {
            let parts = (0..2)
                .map(|part| {
                    (0..4)
                        .map(|i| {
                            vec![
                                ("batch".to_string(), b.to_string()),
                                ("item".to_string(), format!("{part}-{i}")),
                            ]
                        })
                        .collect()
                })
                .collect();
            (BatchTime(b * I), parts)
        })
        .collect();
    let name = p.name.clone();
    let read = || {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(format!("{name}events"))
            .arg("-")
            .arg("+")
            .query(&mut connection())
            .unwrap();
        entries
    };
    check_sink_idempotent(&sink, "events", &batches, read).unwrap();
    let entries = p.stream("events");
    assert_eq!(entries.len(), 24);
    assert_eq!(
        entries[0],
        vec![("batch".into(), "1".into()), ("item".into(), "0-0".into())]
    );

    // One field per item, as JSON, in a stream trimmed to about 100 entries.
    let sink = RedisSink::stream(URL, "views")
        .key_prefix(&p.name)
        .max_len(100)
        .field_json::<View>("doc");
    let mut w = sink.open(&ctx("views", 0, 1)).unwrap();
    for b in 1..=5u64 {
        let views: Vec<View> = (0..100)
            .map(|i| View {
                page: format!("/p{b}"),
                ms: i,
            })
            .collect();
        w.write(BatchTime(b * I), &views).unwrap();
        w.commit(BatchTime(b * I)).unwrap();
    }
    let entries = p.stream("views");
    assert!(
        (100..500).contains(&entries.len()),
        "{} entries",
        entries.len()
    );
    let last: View = serde_json::from_str(&entries.last().unwrap()[0].1).unwrap();
    assert_eq!(
        last,
        View {
            page: "/p5".into(),
            ms: 99
        }
    );
    assert_eq!(entries.last().unwrap()[0].0, "doc");
}

#[test]
fn one_function_writes_several_keys_in_one_transaction_with_a_ttl() {
    let mut p = Prefix::new("mixed");
    let sink = RedisSink::new(URL)
        .key_prefix(&p.name)
        .ttl(Duration::from_secs(60))
        .encode_with(|(page, n): &(String, u64), out: &mut RedisWrites| {
            out.hincr("views", page, *n)?;
            out.zincr("ranking", page, *n)?;
            out.hset("last", "page", page);
            out.xadd("log", [("page", page.as_str())])
        });
    let mut w = sink.open(&ctx("mixed", 0, 1)).unwrap();
    let batch = vec![("/a".to_string(), 2), ("/b".to_string(), 5)];
    w.write(BatchTime(I), &batch).unwrap();
    w.commit(BatchTime(I)).unwrap();
    assert_eq!(p.hash("views")["/b"], "5");
    assert_eq!(
        p.zset("ranking"),
        vec![("/a".into(), 2.0), ("/b".into(), 5.0)]
    );
    assert_eq!(p.hash("last")["page"], "/b");
    assert_eq!(p.stream("log").len(), 2);
    for key in ["views", "ranking", "last", "log"] {
        let ttl: i64 = p.conn.pttl(p.key(key)).unwrap();
        assert!((1..=60_000).contains(&ttl), "{key}: {ttl}");
    }
    let marker_ttl: i64 = p.conn.pttl(p.key("freshet:batch:mixed:0")).unwrap();
    assert_eq!(marker_ttl, -1, "markers never expire");
}

#[test]
fn a_stale_writer_is_skipped_and_racing_writers_write_each_batch_once() {
    let mut p = Prefix::new("zombie");
    let sink = RedisSink::sorted_set(URL, "hits")
        .key_prefix(&p.name)
        .increments();
    let one = [("x".to_string(), 1u64)];
    let mut current = sink.open(&ctx("hits", 0, 1)).unwrap();
    let mut stale = sink.open(&ctx("hits", 0, 1)).unwrap();
    current.write(BatchTime(300), &one).unwrap();
    current.commit(BatchTime(300)).unwrap();
    // The stale writer is behind: its older batch is not written.
    stale.write(BatchTime(200), &one).unwrap();
    stale.commit(BatchTime(200)).unwrap();
    assert_eq!(stale.last_committed(), Some(BatchTime(300)));
    assert_eq!(p.zset("hits"), vec![("x".into(), 1.0)]);
    // Whoever writes a batch first writes it; the other finds it written.
    stale.write(BatchTime(400), &one).unwrap();
    stale.commit(BatchTime(400)).unwrap();
    current.write(BatchTime(400), &one).unwrap();
    current.commit(BatchTime(400)).unwrap();
    assert_eq!(p.zset("hits"), vec![("x".into(), 2.0)]);
    assert_eq!(p.marker("hits", 0), Some(400));

    // Two writers of one partition racing through the same 200 batches, each batch adding 1:
    // whatever the interleaving, each batch counts once.
    let start = Arc::new(std::sync::Barrier::new(2));
    let sink = Arc::new(
        RedisSink::hash(URL, "race")
            .key_prefix(&p.name)
            .increments(),
    );
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let sink = Arc::clone(&sink);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut w = <_ as Sink<(String, i64)>>::open(&*sink, &ctx("race", 0, 1)).unwrap();
                start.wait();
                for b in 1..=200u64 {
                    w.write(BatchTime(b), &[("n".to_string(), 1)]).unwrap();
                    // A marker that keeps changing is retryable, as the engine would retry.
                    let mut attempts = 0;
                    while let Err(e) = w.commit(BatchTime(b)) {
                        check_retryable(&e).unwrap();
                        attempts += 1;
                        assert!(attempts < 20, "{e}");
                    }
                }
            })
        })
        .collect();
    for r in racers {
        r.join().unwrap();
    }
    assert_eq!(p.hash("race")["n"], "200");
    assert_eq!(p.marker("race", 0), Some(200));
}

/// A checkpointed pipeline: clicks at 1000/s (100 per batch), views per page in each batch,
/// added to a sorted set; a checkpoint every second batch.
fn top_pages(
    clock: &ManualClock,
    dir: &Path,
    prefix: &str,
) -> (StreamingContext, CollectedBatches<(String, u64)>) {
    let config = StreamingConfig::new(Duration::from_millis(I))
        .workers(2)
        .checkpoint_interval(2)
        .stop_on_ctrl_c(false);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(config.clone(), Arc::new(clock.clone()))?;
        let views = ctx
            .click_stream(GeneratorOptions::rate(1000))
            .uid("clicks")
            .map(|c| c.page)
            .count_by_value();
        views
            .sink(
                RedisSink::sorted_set(URL, "pages")
                    .key_prefix(prefix)
                    .increments(),
            )
            .uid("top-pages");
        out = Some(views.collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, out.unwrap())
}

fn step(ctx: &StreamingContext, clock: &ManualClock) {
    clock.advance(Duration::from_millis(I));
    ctx.await_batch(clock.now(), Duration::from_secs(30))
        .unwrap();
}

/// Views per page of the first `n` clicks.
fn expected_views(n: u64) -> BTreeMap<String, u64> {
    let mut views = BTreeMap::new();
    for seq in 0..n {
        *views.entry(click(seq).page).or_insert(0) += 1;
    }
    views
}

fn views(p: &mut Prefix) -> BTreeMap<String, u64> {
    p.zset("pages")
        .into_iter()
        .map(|(page, n)| (page, n as u64))
        .collect()
}

#[test]
fn a_restarted_pipeline_counts_every_click_once() {
    let mut p = Prefix::new("restart");
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);

    // Five batches; checkpoints after 200 and 400, batch 500 only in the batch log.
    let (ctx, _) = top_pages(&clock, dir.path(), &p.name);
    ctx.start().unwrap();
    for _ in 0..5 {
        step(&ctx, &clock);
    }
    ctx.stop(false).unwrap();
    assert_eq!(views(&mut p), expected_views(500));

    // The restart replays batch 500, which the sink finds written, then goes on.
    let (ctx, second) = top_pages(&clock, dir.path(), &p.name);
    ctx.start().unwrap();
    ctx.await_batch(BatchTime(500), Duration::from_secs(30))
        .unwrap();
    for _ in 0..3 {
        step(&ctx, &clock);
    }
    ctx.stop(true).unwrap();
    let replayed = second
        .batch(BatchTime(500))
        .expect("batch 500 was replayed");
    assert_eq!(replayed.iter().map(|(_, n)| n).sum::<u64>(), 100);
    assert_eq!(views(&mut p), expected_views(800));
    let markers: Vec<Option<u64>> = (0..2).map(|w| p.marker("top-pages", w)).collect();
    assert!(markers.contains(&Some(800)), "{markers:?}");
}

fn refused<T>(result: Result<T, SinkError>) -> SinkError {
    match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    type Hash = RedisSink<freshet_connectors::redis::HashFields>;
    let hash = || RedisSink::hash(URL, "k");
    let cases: Vec<(Hash, &str)> = vec![
        (RedisSink::hash("", "k"), "url must not be empty"),
        (RedisSink::hash("http://127.0.0.1/", "k"), "url"),
        (RedisSink::hash(URL, ""), "key must not be empty"),
        (hash().key_prefix("p".repeat(2000)), "key_prefix"),
        (hash().marker_prefix(""), "marker_prefix must not be empty"),
        (hash().timeout(Duration::ZERO), "timeout must be between"),
        (
            hash().timeout(Duration::from_secs(3600)),
            "timeout must be between 100ms and 300s",
        ),
        (hash().ttl(Duration::from_millis(10)), "ttl must be between"),
        (
            hash().ttl(Duration::from_secs(4000 * 24 * 3600)),
            "ttl must be between",
        ),
        (hash().top(0), "top must be between 1 and 1000000000, not 0"),
        (hash().max_len(0), "max_len must be between 1 and"),
    ];
    for (sink, named) in cases {
        let typed = sink.validate().unwrap_err();
        assert!(typed.to_string().contains(named), "{typed} lacks {named}");
        let e = refused(<_ as Sink<(String, String)>>::open(&sink, &ctx("o", 0, 1)));
        assert_eq!(e.domain(), ErrorDomain::User, "{e}");
        assert!(e.to_string().contains(named), "{e} lacks {named}");
    }
    assert!(matches!(
        hash().top(0).validate(),
        Err(RedisSinkSettingsError::OutOfRange { setting: "top", .. })
    ));
    assert!(matches!(
        RedisSink::hash(URL, "").validate(),
        Err(RedisSinkSettingsError::Empty { setting: "key" })
    ));
    let e = RedisSink::hash("redis://:secret@nowhere:6379/", "k")
        .timeout(Duration::ZERO)
        .validate()
        .unwrap_err();
    assert!(!e.to_string().contains("secret"));
}

#[test]
fn a_key_of_another_type_fails_the_batch_before_anything_is_written() {
    let mut p = Prefix::new("types");
    let _: () = p.conn.set(p.key("ranking"), "not a sorted set").unwrap();
    let sink = RedisSink::new(URL).key_prefix(&p.name).encode_with(
        |page: &String, out: &mut RedisWrites| {
            out.hincr("views", page, 1)?;
            out.zincr("ranking", page, 1)
        },
    );
    let mut w = sink.open(&ctx("types", 0, 1)).unwrap();
    w.write(BatchTime(I), &["/a".to_string()]).unwrap();
    let e = w.commit(BatchTime(I)).unwrap_err();
    assert_eq!(e.domain(), ErrorDomain::User, "{e}");
    assert!(e.to_string().contains(&p.key("ranking")), "{e}");
    assert!(e.to_string().contains("sorted set"), "{e}");
    assert!(
        p.hash("views").is_empty(),
        "nothing of the batch was written"
    );
    assert_eq!(p.marker("types", 0), None);

    // Fixed, the batch is written whole by the same writer.
    let _: () = p.conn.del(p.key("ranking")).unwrap();
    w.write(BatchTime(I), &["/a".to_string()]).unwrap();
    w.commit(BatchTime(I)).unwrap();
    assert_eq!(p.hash("views")["/a"], "1");
    assert_eq!(p.zset("ranking"), vec![("/a".into(), 1.0)]);

    // Items the sink cannot write fail at `write`, before anything is sent.
    let zset = RedisSink::sorted_set(URL, "scores").key_prefix(&p.name);
    let mut w = zset.open(&ctx("scores", 0, 1)).unwrap();
    let e = w.write(BatchTime(I), &[("m", f64::NAN)]).unwrap_err();
    assert_eq!(e.domain(), ErrorDomain::User, "{e}");
    assert!(e.to_string().contains("NaN"), "{e}");
    let hash = RedisSink::hash(URL, "big").key_prefix(&p.name).increments();
    let mut w = hash.open(&ctx("big", 0, 1)).unwrap();
    let e = w.write(BatchTime(I), &[("f", u64::MAX)]).unwrap_err();
    assert!(e.to_string().contains("HINCRBY"), "{e}");
}

#[test]
fn a_command_redis_refuses_while_the_transaction_runs_is_named() {
    let mut p = Prefix::new("refused");
    let _: () = p.conn.hset(p.key("counts"), "a", "text").unwrap();
    let sink = RedisSink::hash(URL, "counts")
        .key_prefix(&p.name)
        .increments();
    let mut w = sink.open(&ctx("refused", 0, 1)).unwrap();
    w.write(BatchTime(I), &[("b", 1), ("a", 1)]).unwrap();
    let e = w.commit(BatchTime(I)).unwrap_err();
    assert_eq!(e.domain(), ErrorDomain::User, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("HINCRBY {}counts a 1", p.name)),
        "{e}"
    );
    assert!(e.to_string().contains("does not roll back"), "{e}");
    // Redis ran the rest: the batch counts as written, and is not written again.
    assert_eq!(p.hash("counts")["b"], "1");
    assert_eq!(p.marker("refused", 0), Some(I));
    let mut w = sink.open(&ctx("refused", 0, 1)).unwrap();
    w.write(BatchTime(I), &[("b", 1), ("a", 1)]).unwrap();
    w.commit(BatchTime(I)).unwrap();
    assert_eq!(p.hash("counts")["b"], "1");
}

#[test]
fn a_closed_port_is_retryable_and_a_dropped_connection_is_reopened() {
    let closed = format!("redis://{}/", closed_port());
    let sink = RedisSink::hash(&closed, "k").timeout(Duration::from_millis(500));
    let e = refused(<_ as Sink<(String, String)>>::open(&sink, &ctx("o", 0, 1)));
    check_retryable(&e).unwrap();

    let mut p = Prefix::new("dropped");
    let output = format!("dropped-{}", std::process::id());
    let sink = RedisSink::hash(URL, "counts")
        .key_prefix(&p.name)
        .increments();
    let mut w = sink.open(&ctx(&output, 0, 1)).unwrap();
    w.write(BatchTime(I), &[("n", 1)]).unwrap();
    w.commit(BatchTime(I)).unwrap();

    // The server drops the writer's connection (found by its name).
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut p.conn).unwrap();
    let name = format!("name=freshet-sink:{output}:0 ");
    let id = clients
        .lines()
        .find(|l| l.contains(&name))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|f| f.strip_prefix("id="))
        .unwrap_or_else(|| panic!("no client {name} in {clients}"))
        .to_string();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query(&mut p.conn)
        .unwrap();
    assert_eq!(killed, 1);

    // The next commit fails retryably or succeeds; retried as the engine would, it reconnects
    // and the batch counts once.
    w.write(BatchTime(2 * I), &[("n", 1)]).unwrap();
    let mut failures = 0;
    while let Err(e) = w.commit(BatchTime(2 * I)) {
        check_retryable(&e).unwrap();
        failures += 1;
        assert!(failures < 3, "{e}");
    }
    assert!(failures <= 1);
    assert_eq!(p.hash("counts")["n"], "2");
    assert_eq!(
        p.get(&format!("freshet:batch:{output}:0")),
        Some("200".into())
    );
}
