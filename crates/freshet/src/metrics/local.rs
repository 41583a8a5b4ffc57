//! Worker-local metric buffers: operators append, the worker loop flushes into the store.

use super::MetricsStore;
use std::cell::{Cell, RefCell};
use std::time::Instant;

/// One entry: node, batch time, records emitted, nanoseconds busy.
type Entry = (u64, u64, u64, u64);

thread_local! {
    static BUFFER: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static INSTALLING: Cell<u64> = const { Cell::new(0) };
}

/// The plan node whose operators are being installed on this thread (0: none).
pub(crate) fn installing() -> u64 {
    INSTALLING.with(|c| c.get())
}

/// Sets the node being installed; returns the previous one.
pub(crate) fn set_installing(node: u64) -> u64 {
    INSTALLING.with(|c| c.replace(node))
}

/// Counts `records` emitted by `node` for batch `time`.
#[inline]
pub(crate) fn records(node: u64, time: u64, records: u64) {
    if node != 0 {
        BUFFER.with(|b| b.borrow_mut().push((node, time, records, 0)));
    }
}

/// Times one invocation of an operator's code and charges it to the node it was built for.
pub(crate) struct OpTimer {
    node: u64,
    started: Instant,
    time: Option<u64>,
}

impl OpTimer {
    /// Starts timing an invocation of an operator of `node`.
    #[inline]
    pub fn start(node: u64) -> Self {
        OpTimer {
            node,
            started: Instant::now(),
            time: None,
        }
    }

    /// Notes the batch the invocation worked on (the first one noted is charged).
    #[inline]
    pub fn batch(&mut self, time: u64) {
        if self.time.is_none() {
            self.time = Some(time);
        }
    }
}

impl Drop for OpTimer {
    fn drop(&mut self) {
        if let (Some(time), true) = (self.time, self.node != 0) {
            let ns = self.started.elapsed().as_nanos() as u64;
            BUFFER.with(|b| b.borrow_mut().push((self.node, time, 0, ns)));
        }
    }
}

/// Moves this thread's buffered figures (of worker `worker`) into `store`.
pub(crate) fn flush(store: &MetricsStore, worker: usize) {
    BUFFER.with(|b| {
        let mut b = b.borrow_mut();
        if !b.is_empty() {
            store.add_operator_figures(worker, &b);
            b.clear();
        }
    });
}

/// Forgets this thread's buffered figures (batch jobs, which keep none).
pub(crate) fn discard() {
    BUFFER.with(|b| b.borrow_mut().clear());
}
