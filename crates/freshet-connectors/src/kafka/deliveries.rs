//! Delivery reports of a sink's producer: how many records are still in flight, the first
//! that failed, and a wait until none is in flight.

use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Default)]
struct InFlight {
    records: u64,
    failed: Option<(String, KafkaError)>,
}

/// The producer's context: librdkafka's background thread reports each delivery here, and the
/// writer waits here, woken by the last delivery of a batch (no polling loop).
#[derive(Default)]
pub(crate) struct Deliveries {
    state: Mutex<InFlight>,
    settled: Condvar,
}

impl Deliveries {
    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a record handed to the producer (call before `send`).
    pub(crate) fn sending(&self) {
        self.lock().records += 1;
    }

    /// Uncounts a record the producer did not take.
    pub(crate) fn not_sent(&self) {
        let mut s = self.lock();
        s.records = s.records.saturating_sub(1);
        if s.records == 0 {
            self.settled.notify_all();
        }
    }

    /// Forgets a failure reported with an earlier batch.
    pub(crate) fn clear_failure(&self) {
        self.lock().failed = None;
    }

    /// Waits until no record is in flight, or `timeout` passes (`false`); then returns the
    /// first failed delivery since the last [`clear_failure`](Self::clear_failure), with the
    /// record's `topic/partition`.
    pub(crate) fn settle(&self, timeout: Duration) -> (bool, Option<(String, KafkaError)>) {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.records > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (false, s.failed.take());
            }
            s = self
                .settled
                .wait_timeout(s, left)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
        (true, s.failed.take())
    }

    /// Waits up to `timeout` for some deliveries (a full queue makes room as they come).
    pub(crate) fn wait_for_room(&self, timeout: Duration) {
        let s = self.lock();
        let _ = self.settled.wait_timeout(s, timeout);
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut s = self.lock();
        s.records = s.records.saturating_sub(1);
        if let Err((error, message)) = result {
            s.failed.get_or_insert_with(|| {
                (
                    format!("{}/{}", message.topic(), message.partition()),
                    error.clone(),
                )
            });
        }
        // Waking on every delivery lets a writer blocked on a full queue go on.
        self.settled.notify_all();
    }
}
