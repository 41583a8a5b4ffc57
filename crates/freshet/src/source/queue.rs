//! A queue of batches: each batch interval takes the next batch from the queue (an empty batch
//! once the queue is empty). Batches can be pushed while the context runs.

use super::{read_records, split_evenly, Availability, SourcePlanner};
use crate::context::StreamingContext;
use crate::data::Data;
use crate::dstream::DStream;
use crate::error::Result;
use crate::plan::{next_id, Builder, Lineage, Plan, SourceId, Split};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Pushes batches into a queue stream (see [`StreamingContext::queue_input`]).
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
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(batch);
    }

    /// The number of batches waiting.
    pub fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no batch is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct QueueSource<T> {
    id: SourceId,
    queue: Arc<Mutex<VecDeque<Vec<T>>>>,
}

impl<T: Data> SourcePlanner for QueueSource<T> {
    fn id(&self) -> SourceId {
        self.id
    }

    fn name(&self) -> &str {
        "queue_stream"
    }

    fn plan(&mut self, _time: u64, workers: usize) -> Result<Vec<Option<Split>>> {
        let batch = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        Ok(split_evenly(batch.unwrap_or_default(), workers))
    }

    fn lag(&self) -> Option<u64> {
        let q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        Some(q.iter().map(|b| b.len() as u64).sum())
    }

    fn availability(&mut self) -> Availability {
        if self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            Availability::Exhausted
        } else {
            Availability::Ready
        }
    }
}

impl StreamingContext {
    /// A stream whose batches are `batches`, one per interval, then empty batches (Spark's
    /// `queueStream` with `oneAtATime`). Each batch is split evenly over the workers.
    ///
    /// In an available-now run the stream ends when the queue is empty.
    pub fn queue_stream<T: Data>(&self, batches: Vec<Vec<T>>) -> DStream<T> {
        let (stream, handle) = self.queue_input();
        for b in batches {
            handle.push(b);
        }
        stream
    }

    /// An initially empty queue stream and the handle that pushes batches into it.
    pub fn queue_input<T: Data>(&self) -> (DStream<T>, QueueHandle<T>) {
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let id = next_id();
        self.inner.add_source(Box::new(QueueSource {
            id,
            queue: Arc::clone(&queue),
        }));
        (
            records_stream(self, id, "queue_stream"),
            QueueHandle { queue },
        )
    }
}

/// The stream of a source whose splits are the records themselves.
pub(crate) fn records_stream<T: Data>(
    ctx: &StreamingContext,
    id: SourceId,
    name: &str,
) -> DStream<T> {
    let lineage = Lineage {
        streaming: true,
        partitions: 1,
    };
    let plan = Plan::new(name, lineage, move |b: &mut Builder<'_>| {
        b.source_input::<T>(id, Arc::new(|split, buf, _env| read_records(split, buf)))
    });
    DStream {
        plan,
        ctx: Arc::clone(&ctx.inner),
    }
}
