//! The runtime: worker threads running the timely dataflow, the driver that cuts batches, the
//! monitor that owns the run's status, and the one-shot executor of batch jobs.
//!
//! A streaming run is started by [`launch`] in phases (prepare, start the sources, restore
//! their positions, spawn the workers, check the fingerprint, spawn the monitor and the
//! driver) and returns a [`RunHandle`] from which the context reads snapshots and through which
//! it asks the run to stop.

use crate::error::Error;

pub(crate) mod batch_job;
mod driver;
mod follower;
mod handle;
mod launch;
mod monitor;
pub(crate) mod worker;

pub(crate) use handle::RunHandle;
pub(crate) use launch::{launch, LaunchSpec};

/// The error a worker's unwinding payload stands for: the [`JobFailure`](crate::JobFailure) a
/// user function raised with [`fail_job`](crate::fail_job), or a panic.
pub(crate) fn unwind_error(worker: usize, payload: &(dyn std::any::Any + Send)) -> Error {
    match payload.downcast_ref::<crate::JobFailure>() {
        Some(failure) => Error::Function(failure.0.clone()),
        None => Error::WorkerPanicked {
            worker,
            message: panic_message(payload),
        },
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Drops every dataflow of `worker` once the run has failed or must stop now.
///
/// When the closure given to timely returns, timely keeps stepping the worker until its
/// dataflows complete. After a failure they never do (a peer that stopped no longer sends
/// progress), and an operator whose closure panicked would run, and panic, again.
pub(crate) fn abandon_dataflows(worker: &mut timely::worker::Worker) {
    for id in worker.installed_dataflows() {
        worker.drop_dataflow(id);
    }
}
