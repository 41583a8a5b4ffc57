//! The loop each worker thread runs for a streaming context: install the plan, then feed the
//! batches the driver sends and step the dataflow until the inputs close and every batch is done.

use super::{abandon_dataflows, unwind_error};
use crate::disk::retry_when_full;
use crate::durability::{encode_part, RestoredState};
use crate::error::Error;
use crate::metrics::local;
use crate::plan::{Builder, InstallOutput, SourceId, Split, WorkerEnv};
use crate::run::{RuntimeEvent, Shared};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use freshet_durable::{CheckpointId, CheckpointStore, FsCheckpointStore, PartInfo};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle worker parks before it looks at its mailbox again (it is also woken early).
const PARK: Duration = Duration::from_millis(5);

/// How many records an input sends into the dataflow per step (see `WorkerInput::pump`).
pub(crate) const CHUNK: usize = 4096;

/// What the driver tells a worker.
pub(crate) enum ToWorker {
    /// Batch `time` with this worker's split of every source that planned one; the next batch
    /// time is `next`.
    Batch {
        time: u64,
        next: u64,
        splits: Vec<(SourceId, Split)>,
    },
    /// Every batch so far is complete: snapshot the operators' state for checkpoint `id`.
    Checkpoint { id: CheckpointId },
    /// No more batches: close the inputs and finish.
    End,
}

/// Everything a worker needs to start.
pub(crate) struct WorkerSetup {
    pub outputs: Vec<InstallOutput>,
    pub first_time: u64,
    /// The first batch time of the pipeline's first run (see `WorkerEnv::origin`).
    pub origin: u64,
    pub interval: u64,
    pub shared: Arc<Shared>,
    /// One mailbox per worker of this process, by local index.
    pub mailboxes: Vec<Mutex<Option<Receiver<ToWorker>>>>,
    /// The job-wide index of this process's first worker (0 unless the job runs on several
    /// processes).
    pub first_local: usize,
    pub threads: Sender<(usize, Thread)>,
    /// Operator state to restore, when recovering from a checkpoint.
    pub restored: Option<Arc<RestoredState>>,
    /// Where state snapshots go, when the context checkpoints.
    pub checkpoints: Option<Arc<FsCheckpointStore>>,
    /// What to do when the disk is full.
    pub disk_full: crate::config::DiskFullPolicy,
    /// Where each worker reports its stored snapshot.
    pub parts: Sender<(u64, std::result::Result<PartInfo, String>)>,
}

/// Runs worker `worker.index()` until its inputs close and its batches are done, or the run stops.
pub(crate) fn run_worker(worker: &mut timely::worker::Worker, setup: &WorkerSetup) {
    let index = worker.index();
    let result = catch_unwind(AssertUnwindSafe(|| worker_loop(worker, setup)));
    if let Err(payload) = result {
        setup.shared.fail(unwind_error(index, &*payload));
    }
    if setup.shared.stopping_now() {
        abandon_dataflows(worker);
    }
}

fn worker_loop(worker: &mut timely::worker::Worker, setup: &WorkerSetup) {
    let index = worker.index();
    let local_index = index - setup.first_local;
    let shared = &setup.shared;
    let Some(mailbox) = setup.mailboxes[local_index]
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        shared.fail(Error::Runtime(format!("worker {index} started twice")));
        return;
    };
    let mut env = WorkerEnv::new(
        index,
        worker.peers(),
        setup.first_time,
        setup.interval,
        Arc::clone(shared),
    );
    env.restored = setup.restored.clone();
    env.origin = setup.origin;
    let env = Rc::new(env);
    let installed = worker.dataflow::<u64, _, _>(|scope| {
        let mut b = Builder::new(scope, Rc::clone(&env), true);
        for output in &setup.outputs {
            output(&mut b);
        }
        b.finish()
    });
    let (mut inputs, probe, states) = (installed.inputs, installed.probe, installed.states);
    for input in inputs.iter_mut() {
        input.advance_to(setup.first_time);
    }
    let _ = setup.threads.send((local_index, std::thread::current()));

    let mut open = true;
    let mut reported = setup.first_time;
    // The batch being pumped into the inputs, with the time to advance to once it is all in.
    let mut pumping: Option<(u64, u64)> = None;
    loop {
        if shared.stopping_now() {
            break;
        }
        while open && pumping.is_none() {
            match mailbox.try_recv() {
                Ok(ToWorker::Batch {
                    time,
                    next,
                    mut splits,
                }) => {
                    env.set_last_fed(time);
                    for input in inputs.iter_mut() {
                        let split = input
                            .source()
                            .and_then(|id| splits.iter().position(|(s, _)| *s == id))
                            .map(|pos| splits.swap_remove(pos).1);
                        input.feed(time, split, &env);
                    }
                    pumping = Some((time, next));
                }
                Ok(ToWorker::Checkpoint { id }) => {
                    let part = encode_part(
                        states
                            .iter()
                            .enumerate()
                            .map(|(slot, snapshot)| (slot as u32, snapshot()))
                            .collect(),
                    );
                    let stored = match (&setup.checkpoints, part) {
                        (Some(store), Ok(part)) => {
                            retry_when_full(setup.disk_full, shared, "a checkpoint part", || {
                                store
                                    .put_part(id, index, &part)
                                    .map_err(|e| Error::durable("a checkpoint part", e))
                            })
                            .map_err(|e| e.to_string())
                        }
                        (_, Err(e)) => Err(e.to_string()),
                        (None, _) => Err("the context has no checkpoint directory".to_string()),
                    };
                    let _ = setup.parts.send((id.0, stored));
                }
                Ok(ToWorker::End) | Err(TryRecvError::Disconnected) => {
                    for input in inputs.iter_mut() {
                        input.close();
                    }
                    open = false;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if let Some((time, next)) = pumping {
            let mut more = false;
            let mut records = 0;
            for input in inputs.iter_mut() {
                let (sent, left) = input.pump(CHUNK, &env);
                more |= left;
                if let Some(source) = input.source() {
                    records += sent;
                    shared.metrics.add_source_records(source, time, sent);
                }
            }
            shared.add_records(time, records);
            if !more {
                for input in inputs.iter_mut() {
                    input.advance_to(next);
                }
                pumping = None;
            }
            worker.step();
        } else {
            worker.step_or_park(Some(PARK));
        }
        local::flush(&shared.metrics, index);
        // Every process hears when a batch is complete everywhere.
        if local_index == 0 {
            let through = probe.with_frontier(|f| f.iter().copied().min().unwrap_or(u64::MAX));
            if through > reported {
                reported = through;
                shared.event(RuntimeEvent::Progress {
                    through,
                    at: Instant::now(),
                });
            }
        }
        if !open && probe.done() {
            break;
        }
    }
}
