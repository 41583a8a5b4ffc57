//! The laws every connector passes. Each check returns `Ok(())` or the [`LawViolation`] that
//! says which law broke and how; a connector's tests call them against the real service.
//!
//! ```
//! use freshet::testing::laws::{check_direct_source, LawOptions};
//! # use freshet::source::{DirectSource, ReadContext, SplitReader, StartContext};
//! # use freshet::SourceError;
//! # struct Numbers;
//! # struct Reader;
//! # impl SplitReader for Reader {
//! #     type Split = (u64, u64);
//! #     type Item = u64;
//! #     fn read(&self, s: &(u64, u64), out: &mut Vec<u64>, _: &ReadContext<'_>) -> Result<(), SourceError> {
//! #         out.extend(s.0..s.1);
//! #         Ok(())
//! #     }
//! # }
//! # impl DirectSource for Numbers {
//! #     type Item = u64;
//! #     type Offset = u64;
//! #     type Split = (u64, u64);
//! #     type Reader = Reader;
//! #     fn kind(&self) -> &'static str { "numbers" }
//! #     fn describe(&self) -> String { "numbers".into() }
//! #     fn start(&mut self, _: &StartContext) -> Result<u64, SourceError> { Ok(0) }
//! #     fn latest(&mut self, from: &u64) -> Result<u64, SourceError> { Ok(from + 10) }
//! #     fn splits(&mut self, from: &u64, to: &u64, _w: usize) -> Result<Vec<(u64, u64)>, SourceError> {
//! #         Ok(vec![(*from, *to)])
//! #     }
//! #     fn reader(&self) -> Reader { Reader }
//! # }
//! check_direct_source(|| Numbers, &LawOptions::default()).unwrap();
//! ```

use crate::codec;
use crate::error::{ConnectorError, RetryHint};
use crate::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use crate::source::direct::{
    BadRecord, BadRecordPolicy, DirectSource, ReadContext, SplitReader, StartContext,
};
use crate::time::BatchTime;
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// A law a connector broke.
#[derive(Debug, thiserror::Error)]
#[error("law `{law}` does not hold: {detail}")]
pub struct LawViolation {
    /// The law.
    pub law: &'static str,
    /// What happened instead.
    pub detail: String,
}

fn violation(law: &'static str, detail: impl Into<String>) -> LawViolation {
    LawViolation {
        law,
        detail: detail.into(),
    }
}

/// How the direct-source laws exercise a source.
#[derive(Clone, Debug)]
pub struct LawOptions {
    /// How many batches to plan (default 5).
    pub batches: usize,
    /// The number of workers to cut splits for (default 3).
    pub workers: usize,
    /// The batch interval the source is started with (default 100 ms).
    pub batch_interval: Duration,
    /// How long `stop` may take (default 10 s).
    pub stop_deadline: Duration,
    /// Called before each batch is planned, so the test can add data to the source (the
    /// argument is the batch's index).
    pub between_batches: Option<fn(usize)>,
}

impl Default for LawOptions {
    fn default() -> Self {
        LawOptions {
            batches: 5,
            workers: 3,
            batch_interval: Duration::from_millis(100),
            stop_deadline: Duration::from_secs(10),
            between_batches: None,
        }
    }
}

/// Reads every split of a batch, in order, as the workers would (split `i` to worker
/// `i % workers`), without retries; bad records are skipped (they are part of what replays
/// must reproduce only through the records around them).
fn read_all<S: DirectSource>(
    reader: &S::Reader,
    splits: &[S::Split],
    workers: usize,
) -> Result<Vec<Vec<S::Item>>, ConnectorError> {
    let report = |_: BadRecord| {};
    let mut per_split = Vec::with_capacity(splits.len());
    for (i, split) in splits.iter().enumerate() {
        let ctx = ReadContext {
            id: "law",
            worker: i % workers.max(1),
            policy: BadRecordPolicy::Skip,
            report: &report,
        };
        let mut out = Vec::new();
        reader.read(split, &mut out, &ctx)?;
        per_split.push(out);
    }
    Ok(per_split)
}

/// Checks the laws of a direct source; `make` builds a fresh instance, as a restarted job would.
///
/// 1. *Offsets round-trip*: every offset the source returns encodes and decodes (as the engine
///    writes it to the batch log and to checkpoints) to an equal offset.
/// 2. *Replay is identical*: a fresh instance, asked for the splits of each logged range, reads
///    the same records split by split.
/// 3. *Progress*: `latest` moves forward while there is data, and the batches hold records (a
///    source that produces nothing proves nothing).
/// 4. *Stop is prompt*: `stop` returns within the deadline.
pub fn check_direct_source<S, F>(mut make: F, options: &LawOptions) -> Result<(), LawViolation>
where
    S: DirectSource,
    S::Item: PartialEq + Debug,
    F: FnMut() -> S,
{
    let ctx = StartContext {
        id: "law".into(),
        available_now: false,
        batch_interval: options.batch_interval,
        data_loss: crate::source::DataLoss::detached(crate::source::DataLossPolicy::Fail),
    };
    let start_error = |e: ConnectorError| violation("start", e.to_string());
    let mut live = make();
    let mut from = live.start(&ctx).map_err(start_error)?;
    round_trip(&from)?;
    let reader = live.reader();
    let mut logged = Vec::new();
    let mut total = 0;
    for batch in 0..options.batches {
        if let Some(f) = options.between_batches {
            f(batch);
        }
        let to = live
            .latest(&from)
            .map_err(|e| violation("latest", e.to_string()))?;
        round_trip(&to)?;
        let splits = if to == from {
            Vec::new()
        } else {
            live.splits(&from, &to, options.workers)
                .map_err(|e| violation("splits", e.to_string()))?
        };
        let records = read_all::<S>(&reader, &splits, options.workers)
            .map_err(|e| violation("read", e.to_string()))?;
        total += records.iter().map(Vec::len).sum::<usize>();
        logged.push((from.clone(), to.clone(), records));
        from = to;
    }
    if total == 0 {
        return Err(violation(
            "progress",
            format!(
                "{} batches held no record: give the law a source with data",
                options.batches
            ),
        ));
    }
    stop_within(live, options.stop_deadline)?;

    let mut replayed = make();
    replayed.start(&ctx).map_err(start_error)?;
    let reader = replayed.reader();
    for (i, (from, to, expected)) in logged.iter().enumerate() {
        if !replayed.replayable() {
            break;
        }
        let splits = if to == from {
            Vec::new()
        } else {
            replayed
                .splits(from, to, options.workers)
                .map_err(|e| violation("replay is identical", format!("batch {i}: {e}")))?
        };
        let records = read_all::<S>(&reader, &splits, options.workers)
            .map_err(|e| violation("replay is identical", format!("batch {i}: {e}")))?;
        if &records != expected {
            return Err(violation(
                "replay is identical",
                format!(
                    "batch {i} ({from:?}..{to:?}) read {records:?} live and {expected:?} on replay"
                ),
            ));
        }
    }
    stop_within(replayed, options.stop_deadline)
}

fn round_trip<O>(offset: &O) -> Result<(), LawViolation>
where
    O: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let law = "offsets round-trip";
    let bytes = codec::encode("offset", offset).map_err(|e| violation(law, e.to_string()))?;
    let back: O = codec::decode("offset", &bytes).map_err(|e| violation(law, e.to_string()))?;
    if &back != offset {
        return Err(violation(law, format!("{offset:?} came back as {back:?}")));
    }
    Ok(())
}

/// Calls `stop` on another thread and waits at most `deadline` for it.
fn stop_within<S: DirectSource>(mut source: S, deadline: Duration) -> Result<(), LawViolation> {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        source.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(deadline).map_err(|_| {
        violation(
            "stop is prompt",
            format!("stop did not return within {deadline:?}"),
        )
    })?;
    let _ = started;
    Ok(())
}

/// Checks that `error` — what a connector reported for a dropped or refused connection — is
/// classified retryable, so the engine retries it with back-off instead of failing the job.
pub fn check_retryable(error: &ConnectorError) -> Result<(), LawViolation> {
    if error.retry() == RetryHint::WithBackoff {
        Ok(())
    } else {
        Err(violation(
            "a dropped connection is retryable",
            format!(
                "`{error}` is classified {:?} / {:?}",
                error.domain(),
                error.retry()
            ),
        ))
    }
}

/// An address on the loopback interface where nothing listens (a port bound, then freed): what
/// a connector's test points a client at to see how it classifies a refused connection.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    drop(listener);
    addr.to_string()
}

/// Writes `batches` (each a list of partitions) to `sink` as a run does: one writer per
/// partition, a write then a commit per batch.
fn write_all<T, S: Sink<T>>(
    sink: &S,
    output_id: &str,
    batches: &[(BatchTime, Vec<Vec<T>>)],
) -> Result<(), ConnectorError> {
    let partitions = batches.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
    for partition in 0..partitions {
        let ctx = SinkContext {
            output_id: output_id.to_string(),
            partition,
            partitions,
        };
        let mut writer = sink.open(&ctx)?;
        for (time, parts) in batches {
            let empty = Vec::new();
            let records = parts.get(partition).unwrap_or(&empty);
            writer.write(*time, records)?;
            writer.commit(*time)?;
        }
    }
    Ok(())
}

/// Checks the law of an exactly-once sink: writing every batch a second time, with fresh
/// writers as after a restart, leaves what `read_back` sees unchanged. A sink that declares
/// [`Guarantee::AtLeastOnce`] promises nothing about a rewrite and fails this law.
pub fn check_sink_idempotent<T, S, R, F>(
    sink: &S,
    output_id: &str,
    batches: &[(BatchTime, Vec<Vec<T>>)],
    read_back: F,
) -> Result<(), LawViolation>
where
    S: Sink<T>,
    R: PartialEq + Debug,
    F: Fn() -> R,
{
    let law = "a sink written twice equals written once";
    if sink.guarantee() != Guarantee::ExactlyOnce {
        return Err(violation(law, "the sink declares at-least-once delivery"));
    }
    write_all(sink, output_id, batches).map_err(|e| violation(law, format!("first write: {e}")))?;
    let once = read_back();
    write_all(sink, output_id, batches).map_err(|e| violation(law, format!("rewrite: {e}")))?;
    let twice = read_back();
    if once != twice {
        return Err(violation(law, format!("once: {once:?}\ntwice: {twice:?}")));
    }
    Ok(())
}
