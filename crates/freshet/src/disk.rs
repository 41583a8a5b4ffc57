//! A full disk: what the job does when the checkpoint directory's filesystem has no space left
//! (see [`DiskFullPolicy`](crate::DiskFullPolicy)).

use crate::config::DiskFullPolicy;
use crate::error::{Error, Result};
use crate::run::Shared;
use std::time::{Duration, Instant};

/// How long a writer waits before it tries again on a full disk.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// Whether `error` (or the storage error it wraps) says the disk is full.
pub(crate) fn is_disk_full(error: &Error) -> bool {
    let full = |e: &std::io::Error| e.kind() == std::io::ErrorKind::StorageFull;
    match error {
        Error::Io { error, .. } => full(error),
        Error::Durable { error, .. } => match &**error {
            freshet_durable::DurableError::Io { source, .. } => full(source),
            _ => false,
        },
        Error::Operator { error, .. } => is_disk_full(error),
        _ => false,
    }
}

/// Runs `op`; while it fails because the disk is full and the policy says wait, waits and
/// tries again (counting each wait), until it succeeds, fails otherwise, the wait exceeds the
/// policy's limit, or the run must stop.
pub(crate) fn retry_when_full<R>(
    policy: DiskFullPolicy,
    shared: &Shared,
    what: &str,
    mut op: impl FnMut() -> Result<R>,
) -> Result<R> {
    let started = Instant::now();
    loop {
        match op() {
            Err(e) if is_disk_full(&e) => {
                let DiskFullPolicy::Wait { max_wait } = policy else {
                    return Err(e);
                };
                if started.elapsed() >= max_wait || shared.stopping_now() {
                    return Err(e);
                }
                shared.disk_full_wait(what, &e);
                std::thread::sleep(RETRY_EVERY);
            }
            r => return r,
        }
    }
}
