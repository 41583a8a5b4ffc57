//! A queue of batches: each batch interval takes the next batch from the queue (an empty batch
//! once the queue is empty). Batches can be pushed while the context runs.
//!
//! The queue is a [`DirectSource`] whose offset counts the batches taken. It lives in memory,
//! so it cannot be replayed after a restart: a replayed batch gets nothing from it.

use super::direct::{DirectSource, ReadContext, SplitReader, StartContext};
use crate::data::Data;
use crate::error::SourceError;
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Pushes batches into a queue stream (see
/// [`StreamingContext::queue_input`](crate::StreamingContext::queue_input)).
pub struct QueueHandle<T> {
    queue: Arc<Mutex<VecDeque<Vec<T>>>>,
}

impl<T> Clone for QueueHandle<T> {
    fn clone(&self) -> Self {
        QueueHandle {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<T> QueueHandle<T> {
    /// Appends a batch; it becomes the batch of the first interval after those queued before it.
    pub fn push(&self, batch: Vec<T>) {
        self.lock().push_back(batch);
    }

    /// The number of batches waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no batch is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Vec<T>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The queue as a direct source.
pub(crate) struct QueueSource<T> {
    handle: QueueHandle<T>,
}

/// A new queue source and the handle that pushes into it.
pub(crate) fn queue_source<T>() -> (QueueSource<T>, QueueHandle<T>) {
    let handle = QueueHandle {
        queue: Arc::new(Mutex::new(VecDeque::new())),
    };
    (
        QueueSource {
            handle: handle.clone(),
        },
        handle,
    )
}

/// One worker's share of a queued batch, moved (not copied) into the dataflow when read.
pub(crate) struct Records<T>(Cell<Option<Vec<T>>>);

/// Reads [`Records`].
pub(crate) struct RecordsReader<T>(std::marker::PhantomData<fn() -> T>);

impl<T: Data> SplitReader for RecordsReader<T> {
    type Split = Records<T>;
    type Item = T;

    fn read(
        &self,
        split: &Records<T>,
        out: &mut Vec<T>,
        _ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        if let Some(mut records) = split.0.take() {
            if out.is_empty() {
                *out = records;
            } else {
                out.append(&mut records);
            }
        }
        Ok(())
    }
}

/// Cuts `records` into `parts` contiguous runs of nearly equal length (empty runs left out).
pub(crate) fn contiguous<T>(mut records: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let parts = parts.max(1);
    let n = records.len();
    let mut out = Vec::with_capacity(parts);
    for w in (0..parts).rev() {
        out.push(records.split_off(n * w / parts));
    }
    out.reverse();
    out
}

impl<T: Data> DirectSource for QueueSource<T> {
    type Item = T;
    type Offset = u64;
    type Split = Records<T>;
    type Reader = RecordsReader<T>;

    fn kind(&self) -> &'static str {
        "queue_stream"
    }

    fn describe(&self) -> String {
        "queue_stream".into()
    }

    fn start(&mut self, _ctx: &StartContext) -> Result<u64, SourceError> {
        Ok(0)
    }

    fn latest(&mut self, from: &u64) -> Result<u64, SourceError> {
        Ok(if self.handle.is_empty() {
            *from
        } else {
            from + 1
        })
    }

    fn splits(
        &mut self,
        from: &u64,
        to: &u64,
        workers: usize,
    ) -> Result<Vec<Records<T>>, SourceError> {
        let mut records = Vec::new();
        {
            let mut q = self.handle.lock();
            for _ in *from..*to {
                match q.pop_front() {
                    Some(mut b) if records.is_empty() => std::mem::swap(&mut records, &mut b),
                    Some(mut b) => records.append(&mut b),
                    None => break,
                }
            }
        }
        Ok(contiguous(records, workers)
            .into_iter()
            .map(|r| Records(Cell::new(Some(r))))
            .collect())
    }

    fn reader(&self) -> RecordsReader<T> {
        RecordsReader(std::marker::PhantomData)
    }

    fn replayable(&self) -> bool {
        false
    }

    fn ended(&self, _at: &u64) -> bool {
        self.handle.is_empty()
    }

    fn lag(&self, _from: &u64) -> Option<u64> {
        Some(self.handle.lock().iter().map(|b| b.len() as u64).sum())
    }
}
