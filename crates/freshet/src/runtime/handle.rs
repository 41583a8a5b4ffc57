//! The handle of a running pipeline: how the context asks it to stop and reads its figures.

use crate::run::{RuntimeEvent, Shared, StopKind};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A running pipeline, as its context sees it.
pub(crate) struct RunHandle {
    /// The figures and failure of the run (read-only for the context).
    pub shared: Arc<Shared>,
    /// Commands for the run's owner.
    events: Sender<RuntimeEvent>,
    stop_asked: AtomicBool,
}

impl RunHandle {
    pub(super) fn new(shared: Arc<Shared>, events: Sender<RuntimeEvent>) -> Self {
        RunHandle {
            shared,
            events,
            stop_asked: AtomicBool::new(false),
        }
    }

    /// Asks the run to stop.
    pub fn request_stop(&self, kind: StopKind) {
        self.stop_asked.store(true, Ordering::SeqCst);
        if kind == StopKind::Now {
            // Workers and sources look at this flag; the owner records the request too.
            self.shared.stop_now();
        }
        let _ = self.events.send(RuntimeEvent::Stop(kind));
    }

    /// Whether a stop was asked for already.
    pub fn stop_asked(&self) -> bool {
        self.stop_asked.load(Ordering::SeqCst)
    }
}
