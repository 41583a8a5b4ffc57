//! The engine side of `DStream::transform_each_batch`: every batch gathered on worker 0, a
//! function called with its records, and the records it returns sent on (spread over the
//! workers by the caller).

use super::output::gather;
use crate::data::Data;
use crate::error::Error;
use crate::plan::{TStream, WorkerEnv};
use std::rc::Rc;
use std::sync::Arc;

/// A function of one whole batch: its time and records, in worker order.
pub(crate) type BatchFn<T, U> =
    Arc<dyn Fn(u64, Vec<T>) -> crate::error::Result<Vec<U>> + Send + Sync>;

/// Gathers every batch of `s` on worker 0 (worker 0's records first, then worker 1's, ...),
/// calls `f(time, records)` there once per batch the stream has (see
/// [`Cadence`](super::cadence::Cadence)), empty batches included, and emits what it returns on
/// worker 0. An error fails the job, naming `name`.
pub(crate) fn each_batch<'s, T: Data, U: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    name: &'static str,
    every: u64,
    f: BatchFn<T, U>,
) -> TStream<'s, U> {
    let shared = env.shared.clone();
    gather(s, env, name, every, move |t, records, out: &mut Vec<U>| {
        if shared.stopping_now() {
            return;
        }
        match f(t, records) {
            Ok(mut result) => out.append(&mut result),
            Err(e) => shared.fail(Error::Operator {
                operator: format!("{name} (batch {t} ms)"),
                error: Box::new(e),
            }),
        }
    })
}
