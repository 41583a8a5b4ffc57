//! The driver side of every source: what the driver asks a source at each batch boundary.
//!
//! Two implementations exist: the wrapper that turns any public
//! [`DirectSource`](super::DirectSource) into a planned, logged and replayable source, and the
//! receiver supervisor. Both are crate-private; connectors implement the public traits.

use crate::error::Result;
use crate::plan::{SourceId, Split};
use crate::run::Shared;
use std::sync::Arc;

/// A batch's splits (one per worker) and the record that replays them, if the source can.
pub(crate) type Recorded = (Vec<Option<Split>>, Option<Vec<u8>>);

/// Whether a source has records that no batch has taken yet (used by available-now runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Records are ready for the next batch.
    Ready,
    /// Nothing is ready now, but more may come (a connection still open).
    Pending,
    /// Nothing is left and nothing more will come.
    Exhausted,
}

/// What a source is told when the run starts.
pub(crate) struct StartInfo<'a> {
    /// The source's stable id.
    pub uid: &'a str,
    pub available_now: bool,
    pub shared: &'a Arc<Shared>,
    pub batch_interval: std::time::Duration,
    /// What to do with damaged write-ahead log records.
    pub damage: crate::config::DamagePolicy,
    /// What to do when the disk is full.
    pub disk_full: crate::config::DiskFullPolicy,
}

/// The driver side of a source.
pub(crate) trait SourcePlanner: Send {
    /// The id that routes this source's splits to its input.
    fn id(&self) -> SourceId;
    /// The kind of source (no address), for the graph and the default stable id.
    fn kind(&self) -> &str;
    /// The source for messages (with its address or path).
    fn describe(&self) -> String;
    /// Called once when the context starts: bind, connect, list what is already there. An error
    /// here fails `start()`.
    fn start(&mut self, info: &StartInfo<'_>) -> Result<()>;
    /// Plans batch `time` and returns its splits (one per worker, `None` for a worker with
    /// nothing to do) and a record from which [`replay`](Self::replay) rebuilds the same splits
    /// (`None`: the source cannot replay).
    fn plan(&mut self, time: u64, workers: usize) -> Result<Recorded>;
    /// What is available for the next batch.
    fn availability(&mut self) -> Availability;
    /// Whether received records wait for a batch (a graceful stop plans one last batch for them).
    fn has_buffered(&self) -> bool {
        false
    }
    /// Stops receiving.
    fn stop(&mut self) {}
    /// Rebuilds the splits of a logged batch from its record, and moves the source's position
    /// past it.
    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>>;
    /// What the source has assigned to batches so far, for checkpoints (`None`: nothing to keep).
    fn position(&self) -> Result<Option<Vec<u8>>>;
    /// Restores a position saved by [`position`](Self::position); called after `start`.
    fn restore(&mut self, position: &[u8]) -> Result<()>;
    /// Asks the source to write what it receives to a write-ahead log in `dir` (called before
    /// `start` when the context checkpoints; sources that can replay from their origin ignore it).
    fn enable_wal(&mut self, _dir: std::path::PathBuf, _fsync: freshet_durable::FsyncPolicy) {}
    /// The oldest checkpoint still kept holds `position` for this source: what comes before it
    /// will never be replayed again.
    fn checkpointed(&mut self, _position: &[u8]) {}
    /// How many records the source holds that no batch has taken yet, where it knows.
    fn lag(&self) -> Option<u64> {
        None
    }
    /// Per partition, how many records the source holds that no batch has taken yet:
    /// `(partition name, records)`; empty where the source does not know.
    fn lag_by_partition(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// The source's rate limit, which backpressure adjusts.
    fn rate_limit(&self) -> Option<Arc<crate::rate::RateLimit>> {
        None
    }
    /// Whether the source runs a receiver thread.
    fn is_receiver(&self) -> bool {
        false
    }
    /// Whether batches of this source can be replayed from the batch log.
    fn replayable(&self) -> bool;
    /// Whether the workers of every process of a cluster read this source, each process
    /// rebuilding its workers' splits from the batch's range (`false`: only the driver's
    /// workers read it).
    fn distributed(&self) -> bool {
        false
    }
}

/// Splits `records` into `workers` contiguous runs of nearly equal length.
pub(crate) fn split_evenly<T: Send + 'static>(
    mut records: Vec<T>,
    workers: usize,
) -> Vec<Option<Split>> {
    let workers = workers.max(1);
    let n = records.len();
    let mut out: Vec<Option<Split>> = Vec::with_capacity(workers);
    let mut cuts = Vec::with_capacity(workers);
    for w in 0..workers {
        cuts.push(n * w / workers);
    }
    for w in (0..workers).rev() {
        let tail = records.split_off(cuts[w]);
        out.push(if tail.is_empty() {
            None
        } else {
            Some(Box::new(tail))
        });
    }
    out.reverse();
    out
}

/// Reads a split that carries the records themselves (in one part).
pub(crate) fn read_records<T: Send + 'static>(split: &mut Split, buf: &mut Vec<T>) -> bool {
    if let Some(records) = split.downcast_mut::<Vec<T>>() {
        if buf.is_empty() {
            *buf = std::mem::take(records);
        } else {
            buf.append(records);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_evenly_keeps_order_and_everything() {
        let parts = split_evenly((0..10).collect::<Vec<i32>>(), 3);
        let parts: Vec<Vec<i32>> = parts
            .into_iter()
            .map(|p| {
                p.map(|s| *s.downcast::<Vec<i32>>().unwrap())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(parts, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]]);
        let parts = split_evenly(vec![1], 4);
        assert_eq!(parts.iter().filter(|p| p.is_some()).count(), 1);
    }
}
