//! The typed configuration of a [`StreamingContext`](crate::StreamingContext).

use crate::error::{Error, Result};
pub use freshet_durable::FsyncPolicy;
use std::time::Duration;

/// What a job does when its write-ahead log or batch log holds records that were written and
/// can no longer be read (damage found by checksum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DamagePolicy {
    /// Fail with an error that names the lost records and the log (the default): a person
    /// decides.
    #[default]
    Fail,
    /// Go on without the lost records: each is logged as an error and counted
    /// ([`StreamingContext::lost_records`](crate::StreamingContext::lost_records)). Intact
    /// records before and after them are read as usual.
    SkipLost,
}

/// What a job does when the disk of its checkpoint directory is full (a write fails with
/// `ENOSPC`): the batch log, checkpoints and receivers' write-ahead logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiskFullPolicy {
    /// Fail with the error (the default).
    #[default]
    Fail,
    /// Wait and try again every 200 ms, for at most `max_wait` (1 s ..= 7 days), then fail.
    /// While it waits no batch is planned and receivers do not acknowledge (their senders are
    /// held back); each retry is logged and counted
    /// ([`StreamingContext::disk_full_waits`](crate::StreamingContext::disk_full_waits)).
    Wait {
        /// The longest wait for space, per write.
        max_wait: Duration,
    },
}

/// The smallest batch interval Freshet accepts.
pub const MIN_BATCH_INTERVAL: Duration = Duration::from_millis(1);
/// The largest batch interval Freshet accepts (one day).
pub const MAX_BATCH_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Checks that `value` of setting `name` is within `range`.
fn in_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{name} must be between {} and {}, not {value}",
            range.start(),
            range.end()
        )))
    }
}

/// Configuration of a streaming context.
///
/// ```
/// use std::time::Duration;
/// use freshet::StreamingConfig;
///
/// let config = StreamingConfig::new(Duration::from_millis(100)).workers(2);
/// assert_eq!(config.batch_interval(), Duration::from_millis(100));
/// ```
#[derive(Clone, Debug)]
pub struct StreamingConfig {
    batch_interval: Duration,
    workers: usize,
    max_in_flight_batches: usize,
    stop_on_ctrl_c: bool,
    checkpoint_interval: u64,
    keep_checkpoints: usize,
    wal_fsync: FsyncPolicy,
    on_damage: DamagePolicy,
    on_disk_full: DiskFullPolicy,
    tolerable_checkpoint_failures: u32,
    dead_letter_dir: Option<std::path::PathBuf>,
    backpressure: crate::rate::Backpressure,
    cluster: Option<crate::cluster::ClusterConfig>,
    drain_windows: bool,
}

impl Default for StreamingConfig {
    /// A one-second batch interval and the defaults of [`StreamingConfig::new`]. For
    /// [`run_available_now`](crate::StreamingContext::run_available_now) the interval only
    /// spaces the batch times: the batches do not wait for the clock.
    fn default() -> Self {
        StreamingConfig::new(Duration::from_secs(1))
    }
}

impl StreamingConfig {
    /// A configuration with the given batch interval, one worker, one batch in flight at a
    /// time, and a graceful stop on Ctrl-C.
    ///
    /// One worker by default, as Flink's default parallelism and Kafka Streams' default thread
    /// count: a pipeline gives the same partitions (`glom`, `map_partitions`, the order of
    /// `foreach_batch` records) on every machine until [`workers`](Self::workers) says how many
    /// cores it should use.
    pub fn new(batch_interval: Duration) -> Self {
        StreamingConfig {
            batch_interval,
            workers: 1,
            max_in_flight_batches: 1,
            stop_on_ctrl_c: true,
            checkpoint_interval: 10,
            keep_checkpoints: 3,
            wal_fsync: FsyncPolicy::EveryRecord,
            on_damage: DamagePolicy::Fail,
            on_disk_full: DiskFullPolicy::Fail,
            tolerable_checkpoint_failures: 3,
            dead_letter_dir: None,
            backpressure: crate::rate::Backpressure::off(),
            cluster: None,
            drain_windows: false,
        }
    }

    /// Whether an [available-now run](crate::StreamingContext::run_available_now) ends with
    /// empty batches until its longest processing-time window has slid past the input, so
    /// that every window holding input is emitted (default `false`: the run stops after the
    /// input, and a later available-now run on the same checkpoint continues the windows as if
    /// the two runs were one).
    pub fn drain_windows(mut self, yes: bool) -> Self {
        self.drain_windows = yes;
        self
    }

    /// Whether available-now runs drain processing-time windows.
    pub fn drains_windows(&self) -> bool {
        self.drain_windows
    }

    /// Adapts the rate each source admits to what the pipeline keeps up with (see
    /// [`rate`](crate::rate)); off by default.
    ///
    /// ```
    /// use freshet::rate::Backpressure;
    /// use freshet::StreamingConfig;
    /// use std::time::Duration;
    ///
    /// let config = StreamingConfig::new(Duration::from_secs(1))
    ///     .backpressure(Backpressure::on().initial_rate(10_000.0));
    /// assert!(config.backpressure_settings().is_on());
    /// ```
    pub fn backpressure(mut self, backpressure: crate::rate::Backpressure) -> Self {
        self.backpressure = backpressure;
        self
    }

    /// The backpressure settings.
    pub fn backpressure_settings(&self) -> crate::rate::Backpressure {
        self.backpressure
    }

    /// Where sources whose bad-record policy is
    /// [`DeadLetter`](crate::source::BadRecordPolicy::DeadLetter) keep their malformed records:
    /// `<dir>/<source id>.jsonl`. Default: `dead-letters` in the checkpoint directory.
    pub fn dead_letter_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.dead_letter_dir = Some(dir.into());
        self
    }

    /// The dead-letter directory set with [`dead_letter_dir`](Self::dead_letter_dir).
    pub fn dead_letter_directory(&self) -> Option<&std::path::Path> {
        self.dead_letter_dir.as_deref()
    }

    /// Sets the number of worker threads (1 ..= 1024).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets how many batches may be processed at the same time. With `1` (the default, as in
    /// Spark) a batch starts only when the previous one has completed, so a job that cannot keep
    /// up shows a growing scheduling delay rather than a growing pile of half-done batches.
    /// Range: 1 ..= 1000.
    pub fn max_in_flight_batches(mut self, n: usize) -> Self {
        self.max_in_flight_batches = n;
        self
    }

    /// Checkpoint every `n` batches (default 10) when the context has a checkpoint directory
    /// ([`StreamingContext::checkpoint`](crate::StreamingContext::checkpoint)). After a crash,
    /// at most `n` batches are replayed. Range: 1 ..= 1,000,000.
    pub fn checkpoint_interval(mut self, n: u64) -> Self {
        self.checkpoint_interval = n;
        self
    }

    /// How many checkpoints to keep (default 3; 1 ..= 1000).
    pub fn keep_checkpoints(mut self, n: usize) -> Self {
        self.keep_checkpoints = n;
        self
    }

    /// How many checkpoints in a row may fail before the job stops (default 3; 0 ..= 1000).
    /// A failed checkpoint is counted, reported to listeners and in the web UI, and logged; the
    /// job goes on, and after a crash replays from the last checkpoint that was written (the
    /// batch log and the write-ahead logs keep everything since). With `0`, the first failure
    /// stops the job.
    pub fn tolerable_checkpoint_failures(mut self, n: u32) -> Self {
        self.tolerable_checkpoint_failures = n;
        self
    }

    /// How many checkpoints in a row may fail before the job stops.
    pub fn checkpoint_failures_tolerated(&self) -> u32 {
        self.tolerable_checkpoint_failures
    }

    /// The number of batches between checkpoints.
    pub fn checkpoint_every(&self) -> u64 {
        self.checkpoint_interval
    }

    /// When receivers' write-ahead logs are fsynced (default: after every block, so that what a
    /// reliable receiver acknowledged survives a power loss; `Interval` and `Never` survive a
    /// process crash but may lose the last blocks on power loss).
    pub fn wal_fsync(mut self, policy: FsyncPolicy) -> Self {
        self.wal_fsync = policy;
        self
    }

    /// What to do with records of the write-ahead or batch log that are damaged beyond reading
    /// (default [`DamagePolicy::Fail`]); see docs/durability.md.
    pub fn on_damage(mut self, policy: DamagePolicy) -> Self {
        self.on_damage = policy;
        self
    }

    /// What to do when the checkpoint directory's disk is full (default
    /// [`DiskFullPolicy::Fail`]).
    pub fn on_disk_full(mut self, policy: DiskFullPolicy) -> Self {
        self.on_disk_full = policy;
        self
    }

    /// The policy for a full disk.
    pub fn disk_full_policy(&self) -> DiskFullPolicy {
        self.on_disk_full
    }

    /// The policy for damaged log records.
    pub fn damage_policy(&self) -> DamagePolicy {
        self.on_damage
    }

    /// The receivers' write-ahead log fsync policy.
    pub fn wal_fsync_policy(&self) -> FsyncPolicy {
        self.wal_fsync
    }

    /// How many checkpoints are kept.
    pub fn checkpoints_kept(&self) -> usize {
        self.keep_checkpoints
    }

    /// Whether a termination signal stops the context gracefully (default `true`): Ctrl-C
    /// (SIGINT), SIGTERM (what `docker stop`, systemd and Kubernetes send) and SIGHUP. Receiving
    /// stops, the batches already received are finished, a last checkpoint is written, and
    /// `await_termination` returns `Ok`. A second signal stops at once (in-flight batches are
    /// abandoned; with a checkpoint directory the next run replays them).
    pub fn stop_on_ctrl_c(mut self, yes: bool) -> Self {
        self.stop_on_ctrl_c = yes;
        self
    }

    /// Runs the job over several processes (see [`cluster`](crate::cluster)). Without it, the
    /// environment decides: with `FRESHET_CLUSTER_PROCESSES` set (as `freshet cluster run`
    /// and the Kubernetes manifests do) the job runs as the cluster it describes, otherwise in
    /// this process alone.
    pub fn cluster(mut self, cluster: crate::cluster::ClusterConfig) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The processes the job runs on: the ones given, or those the environment describes;
    /// `None` for one process.
    pub fn cluster_config(&self) -> Result<Option<crate::cluster::ClusterConfig>> {
        let cluster = match &self.cluster {
            Some(c) => Some(c.clone()),
            None => crate::cluster::ClusterConfig::from_env()?,
        };
        if let Some(c) = &cluster {
            c.validate()?;
        }
        Ok(cluster.filter(|c| c.processes() > 1))
    }

    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        self.batch_interval
    }

    /// The number of worker threads.
    pub fn worker_count(&self) -> usize {
        self.workers
    }

    /// The largest number of batches processed at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight_batches
    }

    /// Whether a termination signal (SIGINT, SIGTERM, SIGHUP) stops the context gracefully.
    pub fn stops_on_ctrl_c(&self) -> bool {
        self.stop_on_ctrl_c
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if let DiskFullPolicy::Wait { max_wait } = self.on_disk_full {
            let (min, max) = (Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600));
            if !(min..=max).contains(&max_wait) {
                return Err(Error::Config(format!(
                    "on_disk_full's max_wait must be between 1 s and 7 days, not {max_wait:?}"
                )));
            }
        }
        if !(MIN_BATCH_INTERVAL..=MAX_BATCH_INTERVAL).contains(&self.batch_interval) {
            return Err(Error::Config(format!(
                "the batch interval must be between {MIN_BATCH_INTERVAL:?} and {MAX_BATCH_INTERVAL:?}, got {:?}",
                self.batch_interval
            )));
        }
        if !self.batch_interval.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(Error::Config(format!(
                "the batch interval must be a whole number of milliseconds, got {:?}",
                self.batch_interval
            )));
        }
        in_range("workers", self.workers, 1..=1024)?;
        in_range(
            "max_in_flight_batches",
            self.max_in_flight_batches,
            1..=1000,
        )?;
        in_range(
            "checkpoint_interval",
            self.checkpoint_interval,
            1..=1_000_000,
        )?;
        in_range("keep_checkpoints", self.keep_checkpoints, 1..=1000)?;
        in_range(
            "tolerable_checkpoint_failures",
            self.tolerable_checkpoint_failures,
            0..=1000,
        )?;
        self.backpressure.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_interval_is_rejected() {
        let err = StreamingConfig::new(Duration::ZERO).validate().unwrap_err();
        assert!(err.to_string().contains("batch interval"), "{err}");
    }

    #[test]
    fn zero_workers_is_rejected() {
        let c = StreamingConfig::new(Duration::from_millis(10)).workers(0);
        assert!(c.validate().is_err());
    }

    #[test]
    fn every_number_has_a_range_named_in_its_error() {
        let base = || StreamingConfig::new(Duration::from_millis(10));
        let cases = [
            (
                base().workers(1025),
                "workers must be between 1 and 1024, not 1025",
            ),
            (
                base().max_in_flight_batches(0),
                "max_in_flight_batches must be between 1 and 1000",
            ),
            (
                base().checkpoint_interval(0),
                "checkpoint_interval must be between 1 and 1000000",
            ),
            (
                base().keep_checkpoints(0),
                "keep_checkpoints must be between 1 and 1000",
            ),
            (
                base().tolerable_checkpoint_failures(1001),
                "tolerable_checkpoint_failures must be between 0 and 1000",
            ),
            (
                StreamingConfig::new(Duration::from_secs(24 * 3600 + 1)),
                "the batch interval must be between 1ms and 86400s",
            ),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert!(base().checkpoint_interval(1_000_000).validate().is_ok());
        assert!(base().tolerable_checkpoint_failures(0).validate().is_ok());
    }
}
