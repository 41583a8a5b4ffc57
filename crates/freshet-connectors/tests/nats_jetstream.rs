//! The NATS JetStream direct stream against the NATS server at 127.0.0.1:4222 (started with
//! JetStream when it is down; these tests fail when it cannot be reached): the connector laws,
//! every message exactly once with one and two workers across deleted messages, a backlog
//! spread over batches, identical replays after a restart, starting positions, subject
//! filters, the durable consumer's position, bad payloads under both policies, and the errors
//! at the edges. Every test works on a stream of its own, deleted at the end.
#![cfg(feature = "nats")]

mod restarts;
mod services;

use restarts::step;

use async_nats::jetstream;
use freshet::source::{BadRecordPolicy, DirectOptions, DirectSource, StartContext};
use freshet::testing::laws::{check_direct_source, check_retryable, closed_port, LawOptions};
use freshet::testing::BatchStepper;
use freshet::{
    BatchTime, Clock, CollectedBatches, ErrorDomain, ManualClock, StreamingConfig, StreamingContext,
};
use freshet_connectors::nats::{NatsMessage, NatsOffset, NatsSource, StartingPosition, Utf8};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const URL: &str = "nats://127.0.0.1:4222";
const I: u64 = 100;

fn nats_up() {
    services::ensure(
        "NATS",
        4222,
        &[
            "start-stop-daemon",
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/nats-server",
            "--",
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
            "-js",
            "-sd",
            "/var/lib/nats-server",
            "-l",
            "/var/log/nats-server.log",
        ],
    );
}

/// A stream of its own for one test, with the subjects `<subject>.>`; deleted when dropped.
struct TestStream {
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
    name: String,
    subject: String,
}

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

impl TestStream {
    fn new(tag: &str) -> Self {
        nats_up();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let name = unique(&format!("T_{tag}")).to_uppercase();
        let subject = name.to_lowercase();
        let js = rt.block_on(async {
            let client = async_nats::connect(URL).await.expect("connect to NATS");
            let js = jetstream::new(client);
            js.create_stream(jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{subject}.>")],
                ..Default::default()
            })
            .await
            .expect("create the stream");
            js
        });
        TestStream {
            rt,
            js,
            name,
            subject,
        }
    }

    /// Publishes `payloads` to `<subject>.<suffix>` and waits for the stream to store each;
    /// returns their sequences.
    fn publish(&self, suffix: &str, payloads: &[Vec<u8>]) -> Vec<u64> {
        let subject = format!("{}.{suffix}", self.subject);
        self.rt.block_on(async {
            let mut seqs = Vec::new();
            for p in payloads {
                let ack = self
                    .js
                    .publish(subject.clone(), p.clone().into())
                    .await
                    .expect("publish")
                    .await
                    .expect("stored");
                seqs.push(ack.sequence);
            }
            seqs
        })
    }

    fn publish_texts(&self, suffix: &str, texts: &[String]) -> Vec<u64> {
        let payloads: Vec<Vec<u8>> = texts.iter().map(|t| t.clone().into_bytes()).collect();
        self.publish(suffix, &payloads)
    }

    fn delete(&self, seq: u64) {
        self.rt.block_on(async {
            let stream = self.js.get_stream(&self.name).await.unwrap();
            assert!(stream.delete_message(seq).await.unwrap());
        });
    }

    /// Removes every message the stream holds.
    fn purge(&self) {
        self.rt.block_on(async {
            let stream = self.js.get_stream(&self.name).await.unwrap();
            stream.purge().await.unwrap();
        });
    }

    fn source(&self) -> NatsSource<Utf8> {
        NatsSource::jetstream(URL, &self.name)
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.js.delete_stream(&self.name));
    }
}

fn texts(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn start_ctx() -> StartContext {
    StartContext {
        id: "nats".into(),
        available_now: false,
        batch_interval: Duration::from_millis(I),
        data_loss: freshet::source::DataLoss::detached(freshet::source::DataLossPolicy::Fail),
    }
}

fn all<T>(out: &CollectedBatches<T>) -> Vec<T>
where
    T: freshet::Data,
{
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

static LAW_STREAM: Mutex<Option<(String, String)>> = Mutex::new(None);

fn grow(batch: usize) {
    let (_, subject) = LAW_STREAM.lock().unwrap().clone().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(URL).await.unwrap());
        for i in 0..3 {
            js.publish(format!("{subject}.grow"), format!("b{batch}-{i}").into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
}

#[test]
fn the_direct_stream_passes_the_direct_source_laws() {
    let s = TestStream::new("laws");
    s.publish_texts("x", &texts("m", 0..7));
    s.delete(3);
    *LAW_STREAM.lock().unwrap() = Some((s.name.clone(), s.subject.clone()));
    let options = LawOptions {
        between_batches: Some(grow),
        ..LawOptions::default()
    };
    check_direct_source(
        || {
            NatsSource::jetstream(URL, &s.name)
                .max_messages_per_batch(4)
                .messages()
        },
        &options,
    )
    .unwrap();
}

/// Publishes in rounds (deleting some messages), steps a batch after each, and checks that
/// every message left in the stream was read once, in the batch after its round.
fn every_message_once(workers: usize) {
    let s = TestStream::new("once");
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(workers)).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().messages())
        .uid("events")
        .collect_batches();
    stepper.start().unwrap();
    let mut expected = BTreeSet::new();
    let mut per_round = Vec::new();
    for round in 0..4 {
        let vs = texts(&format!("r{round}"), 0..(5 + 3 * round));
        let seqs = s.publish_texts(&format!("r{round}"), &vs);
        // A deleted message in the middle and, in round 2, at the end of the range.
        s.delete(seqs[1]);
        let mut kept: Vec<String> = vs.to_vec();
        kept.remove(1);
        if round == 2 {
            s.delete(*seqs.last().unwrap());
            kept.pop();
        }
        expected.extend(kept.iter().cloned());
        per_round.push(kept);
        stepper.step().unwrap();
    }
    stepper.step().unwrap(); // nothing new
    stepper.stop().unwrap();
    let batches = out.batches();
    let read: Vec<NatsMessage> = batches.iter().flat_map(|(_, b)| b.clone()).collect();
    let seqs: BTreeSet<u64> = read.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs.len(), read.len(), "a message was read twice");
    let texts: BTreeSet<String> = read
        .iter()
        .map(|m| m.payload_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, expected);
    for (round, (_, batch)) in batches.iter().take(4).enumerate() {
        let mut got: Vec<String> = batch
            .iter()
            .map(|m| m.payload_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut want = per_round[round].clone();
        want.sort();
        assert_eq!(got, want, "round {round}");
        assert!(batch
            .iter()
            .all(|m| m.subject == format!("{}.r{round}", s.subject)));
    }
    assert!(batches[4].1.is_empty());
}

#[test]
fn with_one_worker_every_message_is_read_exactly_once() {
    every_message_once(1);
}

#[test]
fn with_two_workers_every_message_is_read_exactly_once() {
    every_message_once(2);
}

#[test]
fn max_messages_per_batch_spreads_a_backlog_over_batches_and_a_rate_limit_cuts_a_batch() {
    let s = TestStream::new("backlog");
    s.publish_texts("x", &texts("m", 0..25));
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().max_messages_per_batch(10))
        .collect_batches();
    stepper.start().unwrap();
    stepper.steps(4).unwrap();
    stepper.stop().unwrap();
    let sizes: Vec<usize> = out.batches().iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes, vec![10, 10, 5, 0]);
    assert_eq!(all(&out), texts("m", 0..25));

    let mut source = s.source().max_messages_per_batch(10);
    let from = source.start(&start_ctx()).unwrap();
    assert_eq!(from, NatsOffset { next_seq: 1 });
    assert_eq!(
        source.latest_limited(&from, 3).unwrap(),
        NatsOffset { next_seq: 4 }
    );
    assert_eq!(source.lag(&from), Some(25));
    assert_eq!(
        source.lag_by_partition(&NatsOffset { next_seq: 21 }),
        vec![(s.name.clone(), 5)]
    );
    source.stop();
}

/// A checkpointed context on `clock` reading `source`.
fn checkpointed(
    clock: &ManualClock,
    dir: &Path,
    source: NatsSource<freshet_connectors::nats::Messages>,
) -> (StreamingContext, CollectedBatches<NatsMessage>) {
    restarts::checkpointed(clock, dir, 3, "stream", source)
}

#[test]
fn a_restart_from_the_checkpoint_replays_the_logged_ranges_identically_and_continues() {
    let s = TestStream::new("replayed");
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let source = || {
        s.source()
            .max_messages_per_batch(6)
            .durable("monitor")
            .messages()
    };

    // Five batches; checkpoints after 200 and 400, batch 500 only in the batch log.
    let (ctx, first) = checkpointed(&clock, dir.path(), source());
    ctx.start().unwrap();
    let mut published = BTreeSet::new();
    for round in 0..5 {
        let vs = texts(&format!("r{round}"), 0..4);
        s.publish_texts("x", &vs);
        published.extend(vs);
        step(&ctx, &clock);
    }
    ctx.stop(false).unwrap();
    let logged_500 = first.batch(BatchTime(500)).unwrap();
    assert!(!logged_500.is_empty());

    // More messages arrive while it is down: the replayed batch must not take them.
    let vs = texts("down", 0..9);
    s.publish_texts("x", &vs);
    published.extend(vs);
    let (ctx, second) = checkpointed(&clock, dir.path(), source());
    ctx.start().unwrap();
    ctx.await_batch(BatchTime(500), Duration::from_secs(30))
        .unwrap();
    for _ in 0..4 {
        step(&ctx, &clock);
    }
    ctx.stop(true).unwrap();
    assert_eq!(
        second.batch(BatchTime(500)).unwrap(),
        logged_500,
        "the replayed batch differs from the logged one"
    );

    let read: Vec<NatsMessage> = first
        .batches()
        .into_iter()
        .filter(|(t, _)| t.0 < 500)
        .chain(second.batches())
        .flat_map(|(_, b)| b)
        .collect();
    let seqs: BTreeSet<u64> = read.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs.len(), read.len(), "a message was read twice");
    let texts: BTreeSet<String> = read
        .iter()
        .map(|m| m.payload_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, published);

    // The durable consumer stands at the end of the last checkpointed batch.
    let info = s.rt.block_on(async {
        let mut stream = s.js.get_stream(&s.name).await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let consumer = stream.consumer_info("monitor").await.unwrap();
        (last, consumer)
    });
    let (last, consumer) = info;
    assert_eq!(last, 29);
    assert!(
        consumer.delivered.stream_sequence > 0
            && consumer.delivered.stream_sequence + consumer.num_pending == last,
        "{consumer:?}"
    );
}

#[test]
fn starting_positions_earliest_latest_by_sequence_and_by_time() {
    let s = TestStream::new("starts");
    s.publish_texts("x", &texts("old", 0..5));
    std::thread::sleep(Duration::from_millis(50));
    let between = i64::try_from(freshet::SystemClock.now().0).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.publish_texts("x", &texts("new", 0..3));
    s.delete(1);
    let start = |p: StartingPosition| {
        let mut source = s.source().starting(p);
        let at = source.start(&start_ctx());
        source.stop();
        at
    };
    let at = |n| NatsOffset { next_seq: n };
    assert_eq!(start(StartingPosition::Earliest).unwrap(), at(2));
    assert_eq!(start(StartingPosition::Latest).unwrap(), at(9));
    assert_eq!(start(StartingPosition::Sequence(4)).unwrap(), at(4));
    assert_eq!(start(StartingPosition::Sequence(9)).unwrap(), at(9));
    assert_eq!(start(StartingPosition::Time(0)).unwrap(), at(2));
    assert_eq!(start(StartingPosition::Time(between)).unwrap(), at(6));
    let future = between + 3_600_000;
    assert_eq!(start(StartingPosition::Time(future)).unwrap(), at(9));
    let err = start(StartingPosition::Sequence(10)).unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
    assert!(err.to_string().contains("between 2 and 9"), "{err}");
}

#[test]
fn a_filter_subject_reads_only_its_subjects() {
    let s = TestStream::new("filtered");
    s.publish_texts("a.1", &texts("a", 0..3));
    s.publish_texts("b.1", &texts("b", 0..4));
    s.publish_texts("a.2", &texts("a", 3..5));
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().filter_subject(format!("{}.a.*", s.subject)))
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    s.publish_texts("b.1", &texts("b", 4..6));
    stepper.step().unwrap();
    s.publish_texts("a.1", &texts("a", 5..6));
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let sizes: Vec<usize> = out.batches().iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes, vec![5, 0, 1]);
    assert_eq!(all(&out), texts("a", 0..6));
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    item: String,
    qty: u32,
}

#[test]
fn payloads_that_do_not_decode_follow_the_bad_record_policy() {
    let s = TestStream::new("orders");
    s.publish(
        "x",
        &[
            br#"{"item":"a","qty":3}"#.to_vec(),
            b"not json".to_vec(),
            br#"{"item":"b","qty":5}"#.to_vec(),
        ],
    );
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().json::<Order>())
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    let items: Vec<String> = all(&out).into_iter().map(|o| o.item).collect();
    assert_eq!(items, vec!["a", "b"]);
    assert_eq!(ctx.skipped_records(), 1);

    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    stepper
        .context()
        .direct_stream_with(
            s.source().json::<Order>(),
            DirectOptions::new().bad_records(BadRecordPolicy::Fail),
        )
        .collect_batches();
    stepper.start().unwrap();
    let err = stepper.step().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains("sequence 2"), "{err}");

    // UTF-8 by default: bytes that are not text are bad records too.
    s.publish("x", &[b"\xff\xfe".to_vec(), b"fine".to_vec()]);
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().starting(StartingPosition::Sequence(4)))
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    assert_eq!(all(&out), vec!["fine".to_string()]);
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn bad_settings_and_missing_streams_are_the_users_and_a_closed_port_is_retried() {
    let s = TestStream::new("present");
    let fails = |source: NatsSource| {
        let mut source = source;
        let err = source.start(&start_ctx()).unwrap_err();
        source.stop();
        err
    };
    let cases: Vec<(NatsSource, &str)> = vec![
        (
            s.source().max_messages_per_batch(0),
            "max_messages_per_batch must be between 1 and",
        ),
        (
            s.source().request_timeout(Duration::ZERO),
            "request_timeout must be between",
        ),
        (NatsSource::jetstream(URL, "a.b"), "stream name `a.b`"),
        (s.source().filter_subject("a..b"), "filter_subject `a..b`"),
        (s.source().durable("x y"), "durable consumer name `x y`"),
        (
            s.source().starting(StartingPosition::Sequence(0)),
            "starting sequence must be at least 1",
        ),
        (
            s.source().starting(StartingPosition::Time(-1)),
            "starting time must be at least 0",
        ),
        (NatsSource::jetstream(" ", "S"), "server URL is empty"),
        (
            NatsSource::jetstream(URL, "NO_SUCH_STREAM_HERE"),
            "stream `NO_SUCH_STREAM_HERE` does not exist",
        ),
    ];
    for (source, expected) in cases {
        let err = fails(source);
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` lacks `{expected}`"
        );
    }
    let err = fails(
        NatsSource::jetstream(format!("nats://{}", closed_port()), &s.name)
            .request_timeout(Duration::from_millis(500)),
    );
    check_retryable(&err).unwrap();
}

#[test]
fn an_available_now_run_reads_what_was_there_at_the_start_and_ends() {
    let s = TestStream::new("bounded");
    s.publish_texts("x", &texts("m", 0..12));
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(20)).stop_on_ctrl_c(false),
    )
    .unwrap();
    let out = ctx
        .direct_stream(s.source().max_messages_per_batch(5))
        .collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(all(&out), texts("m", 0..12));
}

#[test]
fn messages_carry_subject_sequence_headers_and_timestamp() {
    let s = TestStream::new("stamped");
    let before = i64::try_from(freshet::SystemClock.now().0).unwrap();
    s.rt.block_on(async {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("trace", "abc");
        s.js.publish_with_headers(format!("{}.h", s.subject), headers, "v".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let out = stepper
        .context()
        .direct_stream(s.source().messages())
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let messages = all(&out);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.subject, format!("{}.h", s.subject));
    assert_eq!((m.sequence, m.payload_str()), (1, Some("v")));
    assert_eq!(m.header("trace"), Some("abc"));
    assert!(
        m.timestamp >= before - 1000 && m.timestamp <= before + 60_000,
        "{m:?}"
    );
}

#[test]
fn messages_removed_before_they_were_read_fail_the_job_or_are_counted_as_lost() {
    use freshet::source::DataLossPolicy;
    let run = |policy: DataLossPolicy| {
        let s = TestStream::new("loss");
        s.publish_texts("x", &texts("a", 0..4));
        let mut stepper =
            BatchStepper::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
        let out = stepper
            .context()
            .direct_stream_with(s.source(), DirectOptions::new().on_data_loss(policy))
            .uid("lines")
            .collect_batches();
        stepper.start().unwrap();
        stepper.step().unwrap();
        // Three messages more, purged before they are read, then two more.
        s.publish_texts("x", &texts("b", 0..3));
        s.purge();
        s.publish_texts("x", &texts("c", 0..2));
        let stepped = stepper.step();
        let lost = stepper.context().lost_records();
        let read = all(&out);
        let _ = stepper.stop();
        (stepped, lost, read)
    };

    let (stepped, _, read) = run(DataLossPolicy::Fail);
    let err = stepped.unwrap_err().to_string();
    assert!(
        err.contains("the messages 5..8") && err.contains("removed"),
        "{err}"
    );
    assert_eq!(read, texts("a", 0..4));

    let (stepped, lost, read) = run(DataLossPolicy::Continue);
    stepped.unwrap();
    assert_eq!(lost, 3);
    let mut expected = texts("a", 0..4);
    expected.extend(texts("c", 0..2));
    assert_eq!(read, expected);
}
