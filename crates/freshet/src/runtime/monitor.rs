//! The run's owner: the one thread that changes the run's status once it runs. The driver,
//! the workers, the receivers and the context send it events; it applies them to the status,
//! tells the listeners (in the order the events happened) and wakes whoever waits.

use crate::listener::{BatchInfo, OutputOperationInfo, StreamingListener};
use crate::metrics::IncidentKind;
use crate::run::{Phase, RuntimeEvent, Shared, StatusCell, StopKind};
use crate::time::BatchTime;
use crossbeam_channel::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many completed batches a run remembers.
pub(crate) const RECENT_BATCHES: usize = 1000;

/// The listeners of a context (they may be added while it runs).
pub(crate) type Listeners = Arc<Mutex<Vec<Arc<dyn StreamingListener>>>>;

/// Applies `events` to `status` until the run finishes.
pub(super) fn run_monitor(
    status: &StatusCell,
    shared: &Shared,
    listeners: &Listeners,
    events: Receiver<RuntimeEvent>,
) {
    let listeners = || listeners.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for e in events.iter() {
        match e {
            RuntimeEvent::Stop(kind) => {
                status.update(|st| st.stop = Some(st.stop.map_or(kind, |s| s.max(kind))));
                if kind == StopKind::Now {
                    shared.stop_now();
                }
            }
            RuntimeEvent::Waiting { time, announce } => {
                status.update(|st| st.waiting = Some((time, Instant::now())));
                if announce {
                    for l in listeners() {
                        l.on_batch_submitted(BatchTime(time));
                    }
                }
            }
            RuntimeEvent::Submitted {
                time,
                at,
                scheduling_delay,
            } => {
                status.update(|st| {
                    st.waiting = None;
                    st.in_flight.insert(
                        time,
                        crate::run::InFlight {
                            submitted_at: at,
                            scheduling_delay,
                        },
                    );
                });
                for l in listeners() {
                    l.on_batch_started(BatchTime(time));
                }
            }
            RuntimeEvent::Progress { through, at } => {
                let done = complete(status, shared, through, at);
                if let Some(last) = done.last() {
                    let ls = listeners();
                    for info in &done {
                        for l in &ls {
                            l.on_batch_completed(info);
                        }
                    }
                    // Waiters in `await_batch` resume only now, so they see what the listeners did.
                    let t = last.time.0;
                    status.update(|st| {
                        st.listened_through = Some(st.listened_through.map_or(t, |c| c.max(t)))
                    });
                }
            }
            RuntimeEvent::OutputStarted { name, time } => {
                for l in listeners() {
                    l.on_output_operation_started(&name, BatchTime(time));
                }
            }
            RuntimeEvent::OutputCompleted {
                name,
                id,
                time,
                duration,
            } => {
                shared
                    .metrics
                    .health
                    .output_completed(&id, &name, time, duration);
                let info = OutputOperationInfo {
                    name,
                    id,
                    time: BatchTime(time),
                    duration,
                };
                for l in listeners() {
                    l.on_output_operation_completed(&info);
                }
            }
            RuntimeEvent::Receiver { name, event } => {
                for l in listeners() {
                    l.on_receiver_event(&name, &event);
                }
            }
            RuntimeEvent::CheckpointWritten(info) => {
                for l in listeners() {
                    l.on_checkpoint_written(&info);
                }
            }
            RuntimeEvent::CheckpointFailed { time, error } => {
                for l in listeners() {
                    l.on_checkpoint_failed(BatchTime(time), &error);
                }
            }
            RuntimeEvent::Finished(error) => {
                if let Some(e) = &error {
                    shared
                        .metrics
                        .health
                        .incident(IncidentKind::JobFailure, "job", &e.to_string());
                }
                status.update(|st| {
                    st.phase = Phase::Stopped;
                    st.error = error.clone();
                    st.in_flight.clear();
                    st.waiting = None;
                });
                for l in listeners() {
                    l.on_stopped(error.as_ref());
                }
                // `stop` and `await_termination` return only now, so that what a listener
                // writes when the job stops (an event log's last lines) is written before the
                // program goes on, and perhaps exits.
                status.update(|st| st.stop_told = true);
                break;
            }
        }
    }
}

/// Records every in-flight batch before `through` as complete; returns their figures.
fn complete(status: &StatusCell, shared: &Shared, through: u64, at: Instant) -> Vec<BatchInfo> {
    status.update(|st| {
        let times: Vec<u64> = st.in_flight.range(..through).map(|(t, _)| *t).collect();
        let mut done = Vec::with_capacity(times.len());
        for t in times {
            let Some(p) = st.in_flight.remove(&t) else {
                continue;
            };
            let processing_time = at.saturating_duration_since(p.submitted_at);
            let info = BatchInfo {
                time: BatchTime(t),
                records: shared.take_records(t),
                scheduling_delay: p.scheduling_delay,
                processing_time,
                total_delay: p.scheduling_delay + processing_time,
            };
            shared.metrics.batch_completed(t);
            shared.adapt_rates(t, processing_time, p.scheduling_delay);
            st.completed_through = Some(st.completed_through.map_or(t, |c| c.max(t)));
            st.completed += 1;
            if st.recent.len() == RECENT_BATCHES {
                st.recent.pop_front();
            }
            st.recent.push_back(info.clone());
            done.push(info);
        }
        done
    })
}
