//! The engine side of a direct source: one wrapper that turns any [`DirectSource`] into a
//! planned, logged, replayable and checkpointed source, and the worker-side reading of its
//! splits with retries and the bad-record policy.

use super::direct::{
    BadRecord, DirectOptions, DirectSource, ReadContext, SplitReader, StartContext,
};
use super::planner::{Availability, Recorded, SourcePlanner, StartInfo};
use crate::codec;
use crate::error::SourceError;
use crate::error::{Error, Result};
use crate::plan::{ReadSplit, SourceId, Split, WorkerEnv};
use crate::rate::RateLimit;
use crate::run::Shared;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often a retryable read is tried by default.
const READ_ATTEMPTS: u32 = 5;
/// The first back-off after a failed read; it doubles up to [`MAX_READ_BACKOFF`].
const READ_BACKOFF: Duration = Duration::from_millis(50);
const MAX_READ_BACKOFF: Duration = Duration::from_secs(2);

/// The driver side of a direct source.
pub(crate) struct DirectPlanner<S: DirectSource> {
    id: SourceId,
    uid: String,
    /// The stable id, for the workers' messages (set at `start`).
    uid_cell: Arc<OnceLock<String>>,
    source: S,
    /// Where the last batch ended (`None` before `start`).
    offset: Option<S::Offset>,
    /// The end of the next batch, when `availability` has already asked for it.
    next_end: Option<S::Offset>,
    shared: Option<Arc<Shared>>,
    /// The records per second it admits, and the batch interval that turns it into records.
    rate: Arc<RateLimit>,
    interval: Duration,
    /// What the source does when its input was removed before it read it.
    data_loss: super::DataLossPolicy,
}

impl<S: DirectSource> DirectPlanner<S> {
    /// Wraps `source`; returns the planner and the function with which workers read its splits.
    pub fn new(id: SourceId, source: S, options: &DirectOptions) -> (Self, ReadSplit<S::Item>) {
        let reader = Arc::new(source.reader());
        let policy = options.bad_records;
        let attempts = options.read_attempts.unwrap_or(READ_ATTEMPTS);
        let uid_cell = Arc::new(OnceLock::<String>::new());
        let kind = source.kind();
        let planner = DirectPlanner {
            id,
            uid: String::new(),
            uid_cell: Arc::clone(&uid_cell),
            source,
            offset: None,
            next_end: None,
            shared: None,
            rate: Arc::new(RateLimit::new(options.max_rate)),
            interval: Duration::from_secs(1),
            data_loss: options.data_loss,
        };
        // A worker's share of a batch is a queue of splits, read one per call, so that only one
        // split's records are in memory at a time.
        let read: ReadSplit<S::Item> = Arc::new(move |split: &mut Split, out, env: &WorkerEnv| {
            let Some(splits) = split.downcast_mut::<VecDeque<S::Split>>() else {
                return false;
            };
            let Some(next) = splits.pop_front() else {
                return false;
            };
            if env.shared.stopping_now() {
                return false;
            }
            let name = uid_cell.get().map_or(kind, String::as_str);
            if let Err(e) = read_with_retries(&*reader, &next, out, env, name, policy, attempts) {
                env.shared.fail(e);
                return false;
            }
            !splits.is_empty()
        });
        (planner, read)
    }

    fn source_error(&self, error: crate::error::SourceError) -> Error {
        Error::Source {
            id: self.uid.clone(),
            error,
        }
    }

    fn offset(&self) -> Result<&S::Offset> {
        self.offset.as_ref().ok_or_else(|| {
            Error::Runtime(format!(
                "source `{}` was planned before it started",
                self.uid
            ))
        })
    }

    /// The splits of the range `from..to` (none when it is empty).
    fn splits_between(
        &mut self,
        from: &S::Offset,
        to: &S::Offset,
        workers: usize,
    ) -> Result<Vec<S::Split>> {
        if to == from {
            return Ok(Vec::new());
        }
        self.source
            .splits(from, to, workers)
            .map_err(|e| self.source_error(e))
    }

    /// Deals `splits` to `workers` workers: split `i` to worker `i % workers`.
    fn deal(splits: Vec<S::Split>, workers: usize) -> Vec<Option<Split>> {
        let workers = workers.max(1);
        let mut per_worker: Vec<VecDeque<S::Split>> =
            (0..workers).map(|_| VecDeque::new()).collect();
        for (i, s) in splits.into_iter().enumerate() {
            per_worker[i % workers].push_back(s);
        }
        per_worker
            .into_iter()
            .map(|s| (!s.is_empty()).then(|| Box::new(s) as Split))
            .collect()
    }

    fn what(&self, thing: &str) -> String {
        format!("source `{}`: {thing}", self.uid)
    }
}

fn read_with_retries<R: SplitReader>(
    reader: &R,
    split: &R::Split,
    out: &mut Vec<R::Item>,
    env: &WorkerEnv,
    uid: &str,
    policy: super::BadRecordPolicy,
    attempts: u32,
) -> Result<()> {
    let report = |bad: BadRecord| match bad {
        BadRecord::Skipped(what) => env.shared.skip(uid, &what),
        BadRecord::Failed(e) => env.shared.fail(e),
        BadRecord::DeadLetter { what, raw } => env.shared.dead_letter(uid, &what, &raw),
    };
    let ctx = ReadContext {
        id: uid,
        worker: env.index,
        policy,
        report: &report,
    };
    let mut backoff = READ_BACKOFF;
    let before = out.len();
    let mut attempt = 1;
    loop {
        match reader.read(split, out, &ctx) {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retryable() && attempt < attempts && !env.shared.stopping_now() => {
                tracing::warn!(
                    source = uid,
                    "read failed (attempt {attempt} of {attempts}), retrying in {backoff:?}: {e}"
                );
                out.truncate(before);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_READ_BACKOFF);
                attempt += 1;
            }
            Err(error) => {
                out.truncate(before);
                return Err(Error::Source {
                    id: uid.to_string(),
                    error,
                });
            }
        }
    }
}

impl<S: DirectSource> DirectPlanner<S> {
    /// Where the next batch ends, within the rate limit.
    fn latest(&mut self, from: &S::Offset) -> std::result::Result<S::Offset, SourceError> {
        match self.rate.per_batch(self.interval) {
            Some(max) => self.source.latest_limited(from, max),
            None => self.source.latest(from),
        }
    }
}

impl<S: DirectSource> SourcePlanner for DirectPlanner<S> {
    fn id(&self) -> SourceId {
        self.id
    }

    fn kind(&self) -> &str {
        self.source.kind()
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn start(&mut self, info: &StartInfo<'_>) -> Result<()> {
        self.uid = info.uid.to_string();
        let _ = self.uid_cell.set(self.uid.clone());
        self.shared = Some(Arc::clone(info.shared));
        self.interval = info.batch_interval;
        let ctx = StartContext {
            id: info.uid.to_string(),
            available_now: info.available_now,
            batch_interval: info.batch_interval,
            data_loss: super::DataLoss::new(self.data_loss, info.uid, Arc::clone(info.shared)),
        };
        let start = self.source.start(&ctx).map_err(|e| self.source_error(e))?;
        self.offset = Some(start);
        Ok(())
    }

    fn plan(&mut self, _time: u64, workers: usize) -> Result<Recorded> {
        let from = self.offset()?.clone();
        let to = match self.next_end.take() {
            Some(to) => to,
            None => match self.latest(&from) {
                Ok(to) => to,
                // The source cannot be asked now (a connection down, a directory gone): it
                // contributes nothing to this batch and is asked again at the next one.
                Err(e) if e.is_retryable() => {
                    if let Some(shared) = &self.shared {
                        shared.skip(&self.uid, &format!("nothing read for this batch: {e}"));
                    }
                    from.clone()
                }
                Err(e) => return Err(self.source_error(e)),
            },
        };
        let splits = self.splits_between(&from, &to, workers)?;
        let record = if self.source.replayable() {
            Some(codec::encode(&self.what("batch end"), &to)?)
        } else {
            None
        };
        self.offset = Some(to);
        Ok((Self::deal(splits, workers), record))
    }

    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        let to: S::Offset = codec::decode(&self.what("logged batch end"), record)?;
        let from = self.offset()?.clone();
        self.next_end = None;
        let splits = self.splits_between(&from, &to, workers)?;
        self.offset = Some(to);
        Ok(Self::deal(splits, workers))
    }

    fn availability(&mut self) -> Availability {
        let Some(from) = self.offset.clone() else {
            return Availability::Exhausted;
        };
        if self.next_end.is_none() {
            match self.latest(&from) {
                Ok(to) => self.next_end = Some(to),
                Err(e) if e.is_retryable() => {
                    // It may come back: asked again after a pause.
                    tracing::warn!(source = %self.uid, "cannot tell what is available: {e}");
                    return Availability::Pending;
                }
                // The next `plan` asks again and fails the job with the error.
                Err(_) => return Availability::Ready,
            }
        }
        if self.next_end.as_ref() != Some(&from) {
            Availability::Ready
        } else if self.source.ended(&from) {
            Availability::Exhausted
        } else {
            Availability::Pending
        }
    }

    fn stop(&mut self) {
        self.source.stop();
    }

    fn position(&self) -> Result<Option<Vec<u8>>> {
        match &self.offset {
            Some(o) => Ok(Some(codec::encode(&self.what("offset"), o)?)),
            None => Ok(None),
        }
    }

    fn restore(&mut self, position: &[u8]) -> Result<()> {
        self.offset = Some(codec::decode(&self.what("checkpointed offset"), position)?);
        self.next_end = None;
        Ok(())
    }

    fn checkpointed(&mut self, position: &[u8]) {
        match codec::decode::<S::Offset>(&self.what("checkpointed offset"), position) {
            Ok(o) => {
                if let Err(e) = self.source.commit(&o) {
                    tracing::warn!(source = %self.uid, "cannot commit {o:?}: {e}");
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    fn lag(&self) -> Option<u64> {
        self.offset.as_ref().and_then(|o| self.source.lag(o))
    }

    fn lag_by_partition(&self) -> Vec<(String, u64)> {
        self.offset
            .as_ref()
            .map(|o| self.source.lag_by_partition(o))
            .unwrap_or_default()
    }

    fn replayable(&self) -> bool {
        self.source.replayable()
    }

    fn distributed(&self) -> bool {
        self.source.replayable()
    }

    fn rate_limit(&self) -> Option<Arc<RateLimit>> {
        Some(Arc::clone(&self.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::super::direct::SplitReader;
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::StreamingConfig;
    use crate::context::StreamingContext;
    use crate::error::SourceError;
    use crate::time::BatchTime;

    /// Two partitions holding `sizes` records, read at most `max` per partition per batch.
    struct Partitioned {
        sizes: Vec<u64>,
        max: u64,
    }

    struct RangeReader;

    impl SplitReader for RangeReader {
        type Split = (u64, u64);
        type Item = u64;

        fn read(
            &self,
            split: &(u64, u64),
            out: &mut Vec<u64>,
            _ctx: &ReadContext<'_>,
        ) -> std::result::Result<(), SourceError> {
            out.extend(split.0..split.1);
            Ok(())
        }
    }

    impl DirectSource for Partitioned {
        type Item = u64;
        type Offset = Vec<u64>;
        type Split = (u64, u64);
        type Reader = RangeReader;

        fn kind(&self) -> &'static str {
            "partitioned"
        }

        fn describe(&self) -> String {
            "two partitions".into()
        }

        fn start(&mut self, _ctx: &StartContext) -> std::result::Result<Vec<u64>, SourceError> {
            Ok(vec![0; self.sizes.len()])
        }

        fn latest(&mut self, from: &Vec<u64>) -> std::result::Result<Vec<u64>, SourceError> {
            Ok(from
                .iter()
                .zip(&self.sizes)
                .map(|(next, size)| (next + self.max).min(*size))
                .collect())
        }

        fn splits(
            &mut self,
            from: &Vec<u64>,
            to: &Vec<u64>,
            _workers: usize,
        ) -> std::result::Result<Vec<(u64, u64)>, SourceError> {
            Ok(from.iter().copied().zip(to.iter().copied()).collect())
        }

        fn reader(&self) -> RangeReader {
            RangeReader
        }

        fn lag(&self, from: &Vec<u64>) -> Option<u64> {
            Some(self.lag_by_partition(from).iter().map(|(_, n)| n).sum())
        }

        fn lag_by_partition(&self, from: &Vec<u64>) -> Vec<(String, u64)> {
            from.iter()
                .zip(&self.sizes)
                .enumerate()
                .map(|(p, (next, size))| (format!("t/{p}"), size.saturating_sub(*next)))
                .collect()
        }
    }

    #[test]
    fn partition_lag_reaches_the_sources_status() {
        let clock = ManualClock::new(0);
        let ctx = StreamingContext::with_clock(
            StreamingConfig::new(Duration::from_millis(100)).stop_on_ctrl_c(false),
            Arc::new(clock.clone()),
        )
        .unwrap();
        ctx.direct_stream(Partitioned {
            sizes: vec![10, 4],
            max: 3,
        })
        .foreach_batch(|_, _| {});
        ctx.start().unwrap();
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100), Duration::from_secs(10))
            .unwrap();
        let status = ctx.sources_status();
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].records_total, 6);
        assert_eq!(status[0].lag, Some(8));
        assert_eq!(
            status[0].partition_lag,
            vec![("t/0".to_string(), 7), ("t/1".to_string(), 1)]
        );
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(200), Duration::from_secs(10))
            .unwrap();
        let status = ctx.sources_status();
        assert_eq!(status[0].lag, Some(4));
        assert_eq!(
            status[0].partition_lag,
            vec![("t/0".to_string(), 4), ("t/1".to_string(), 0)]
        );
        ctx.stop(false).unwrap();
    }
}
