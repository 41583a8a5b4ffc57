//! Sources: where a stream's records come from.
//!
//! Every source has a driver side, a [`SourcePlanner`], that decides at each batch boundary what
//! the batch consists of and hands each worker its split; the worker side turns a split into
//! records (for most sources the split *is* the records; for files it is a list of paths the
//! worker reads). Built-in sources:
//!
//! - [`queue`]: a list of batches, one per interval (the workhorse of tests);
//! - [`socket`]: lines of text from a TCP connection (client or listener);
//! - [`file_stream`]: lines of new text files in a directory;
//! - [`generator`]: an embedded generator of records at a fixed rate (used by the demo);
//! - [`receiver`]: the [`Receiver`](receiver::Receiver) trait for custom push sources.

pub mod file_stream;
pub mod generator;
pub mod queue;
pub mod receiver;
mod receiver_wal;
pub mod socket;

use crate::error::Result;
use crate::plan::{SourceId, Split};
use crate::runtime::Shared;
use std::sync::Arc;

/// A batch's splits (one per worker) and the record that replays them, if the source can.
pub(crate) type Recorded = (Vec<Option<Split>>, Option<Vec<u8>>);

/// Whether a source has records that no batch has taken yet (used by available-now runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Records are ready for the next batch.
    Ready,
    /// Nothing is ready now, but more may come (a connection still open).
    Pending,
    /// Nothing is left and nothing more will come.
    Exhausted,
}

/// The driver side of a source.
pub(crate) trait SourcePlanner: Send {
    /// The id that routes this source's splits to its input.
    fn id(&self) -> SourceId;
    /// The source's name, for messages.
    fn name(&self) -> &str;
    /// Called once when the context starts: bind, connect, list what is already there. An error
    /// here fails `start()`.
    fn start(&mut self, _available_now: bool, _shared: &Arc<Shared>) -> Result<()> {
        Ok(())
    }
    /// Decides batch `time`: one split per worker (`None` for a worker with nothing to do).
    fn plan(&mut self, time: u64, workers: usize) -> Result<Vec<Option<Split>>>;
    /// What is available for the next batch.
    fn availability(&mut self) -> Availability;
    /// Whether received records wait for a batch (a graceful stop plans one last batch for them).
    fn has_buffered(&self) -> bool {
        false
    }
    /// Stops receiving.
    fn stop(&mut self) {}
    /// Plans batch `time` like [`plan`](Self::plan) and also returns a record from which
    /// [`replay`](Self::replay) rebuilds the same splits (`None`: the source cannot replay).
    fn plan_recorded(&mut self, time: u64, workers: usize) -> Result<Recorded> {
        Ok((self.plan(time, workers)?, None))
    }
    /// Rebuilds the splits of a logged batch from its record, and moves the source's position
    /// past it.
    fn replay(&mut self, _record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        Ok((0..workers).map(|_| None).collect())
    }
    /// What the source has assigned to batches so far, for checkpoints (`None`: nothing to keep).
    fn position(&self) -> Option<Vec<u8>> {
        None
    }
    /// Restores a position saved by [`position`](Self::position); called after `start`.
    fn restore(&mut self, _position: &[u8]) -> Result<()> {
        Ok(())
    }
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
    /// Whether the source runs a receiver thread.
    fn is_receiver(&self) -> bool {
        false
    }
}

/// Encodes two numbers as a replay record or position (16 bytes, little-endian).
pub(crate) fn encode_pair(a: u64, b: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&a.to_le_bytes());
    v.extend_from_slice(&b.to_le_bytes());
    v
}

/// Decodes what [`encode_pair`] wrote; anything else is an error naming `source`.
pub(crate) fn decode_pair(bytes: &[u8], source: &str) -> Result<(u64, u64)> {
    let bad =
        || crate::error::Error::Durable(format!("{source}: undecodable batch record or position"));
    let a = bytes
        .get(0..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let b = bytes
        .get(8..16)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok((u64::from_le_bytes(a), u64::from_le_bytes(b)))
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

/// Reads a split that carries the records themselves.
pub(crate) fn read_records<T: Send + 'static>(split: Split, buf: &mut Vec<T>) {
    if let Ok(records) = split.downcast::<Vec<T>>() {
        if buf.is_empty() {
            *buf = *records;
        } else {
            buf.extend(*records);
        }
    }
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
