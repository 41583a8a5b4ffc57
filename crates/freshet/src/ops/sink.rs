//! The sink output operator: each worker opens its own writer and writes its partition of
//! every batch, with retries of retryable failures.

use super::cadence::Cadence;
use super::{local, per_time, EmitEmpty};
use crate::data::Data;
use crate::error::{Error, SinkError};
use crate::metrics::IncidentKind;
use crate::plan::{TStream, WorkerEnv};
use crate::run::Shared;
use crate::sink::{Sink, SinkContext, SinkWriter};
use crate::time::BatchTime;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Attempts of a retryable write (or open, or commit) before the job fails.
const ATTEMPTS: u32 = 6;
/// The first back-off; it doubles up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs `op` until it succeeds, fails with an error that is not retryable, or has failed
/// [`ATTEMPTS`] times (or the run is stopping).
fn with_retries<R>(
    shared: &Shared,
    output: &str,
    what: &str,
    mut op: impl FnMut() -> Result<R, SinkError>,
) -> Result<R, SinkError> {
    let mut backoff = BACKOFF;
    let mut attempt = 1;
    loop {
        match op() {
            Ok(r) => return Ok(r),
            Err(e) if e.is_retryable() && attempt < ATTEMPTS && !shared.stopping_now() => {
                tracing::warn!(
                    output,
                    "{what} failed (attempt {attempt} of {ATTEMPTS}), retrying in {backoff:?}: {e}"
                );
                shared.metrics.health.incident(
                    IncidentKind::SinkRetry,
                    output,
                    &format!("{what} failed (attempt {attempt} of {ATTEMPTS}): {e}"),
                );
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes every batch of `s` to `sink`, one writer per worker; `output` holds the output's
/// stable id once the run starts.
pub(crate) fn write_to_sink<'s, T: Data, S: Sink<T>>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    sink: Arc<S>,
    output: Arc<OnceLock<String>>,
    every: u64,
) -> TStream<'s, ()> {
    let worker_env = env.clone();
    let cadence = Cadence::new(env, every);
    let mut writer: Option<S::Writer> = None;
    per_time(
        s,
        local(),
        "sink",
        env,
        EmitEmpty::AllWorkers,
        Vec::new,
        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
        move |t, records, _out: &mut Vec<()>| {
            let shared = &worker_env.shared;
            if shared.stopping_now() || !cadence.fires(t) {
                return;
            }
            let id = output.get().map_or("sink", String::as_str);
            let time = BatchTime(t);
            let started = Instant::now();
            let result = (|| {
                if writer.is_none() {
                    let ctx = SinkContext {
                        output_id: id.to_string(),
                        partition: worker_env.index,
                        partitions: worker_env.peers,
                    };
                    writer = Some(with_retries(shared, id, "open", || sink.open(&ctx))?);
                }
                let Some(w) = writer.as_mut() else {
                    return Ok(());
                };
                with_retries(shared, id, "write", || w.write(time, &records))?;
                with_retries(shared, id, "commit", || w.commit(time))
            })();
            match result {
                Ok(()) => shared
                    .metrics
                    .health
                    .output_completed(id, "sink", t, started.elapsed()),
                Err(error) => {
                    // A writer that failed may be in any state: the next batch opens a new one.
                    writer = None;
                    shared.fail(Error::Sink {
                        output: id.to_string(),
                        error,
                    });
                }
            }
        },
    )
}
