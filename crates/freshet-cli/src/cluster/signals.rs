//! The signals that stop the supervisor (SIGTERM, SIGINT, SIGHUP), counted so that each one can
//! be forwarded to the cluster's processes.

use anyhow::Context;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many stopping signals the supervisor has received.
pub struct Signals {
    count: Arc<AtomicUsize>,
}

impl Signals {
    /// Counts the stopping signals from now on, instead of letting them end the supervisor.
    pub fn install() -> anyhow::Result<Signals> {
        let count = Arc::new(AtomicUsize::new(0));
        let handler = count.clone();
        ctrlc::set_handler(move || {
            handler.fetch_add(1, Ordering::SeqCst);
        })
        .context("cannot handle SIGTERM and SIGINT")?;
        Ok(Signals { count })
    }

    /// How many stopping signals have been received so far.
    pub fn received(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}
