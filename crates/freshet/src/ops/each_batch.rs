//! The engine side of `DStream::transform_each_batch`: every batch gathered on worker 0, a
//! function called with its records, and the records it returns sent on (spread over the
//! workers by the caller).

use super::cadence::Cadence;
use super::{narrow, per_time, EmitEmpty};
use crate::data::Data;
use crate::error::Error;
use crate::plan::{TStream, WorkerEnv};
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::Exchange;

/// A function of one whole batch: its time and records, in worker order.
pub(crate) type BatchFn<T, U> =
    Arc<dyn Fn(u64, Vec<T>) -> crate::error::Result<Vec<U>> + Send + Sync>;

/// Gathers every batch of `s` on worker 0 (worker 0's records first, then worker 1's, ...),
/// calls `f(time, records)` there once per batch, empty batches included, and emits what it
/// returns on worker 0. An error fails the job, naming `name`.
pub(crate) fn each_batch<'s, T: Data, U: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    name: &'static str,
    every: u64,
    f: BatchFn<T, U>,
) -> TStream<'s, U> {
    let index = env.index;
    let shared = env.shared.clone();
    let cadence = Cadence::new(env, every);
    let tagged = narrow(
        s,
        "each-batch-tag",
        move |data: &mut Vec<T>, out: &mut Vec<(usize, Vec<T>)>| {
            out.push((index, std::mem::take(data)));
        },
    );
    per_time(
        tagged,
        Exchange::new(|_: &(usize, Vec<T>)| 0),
        name,
        env,
        EmitEmpty::Worker0,
        Vec::new,
        |acc: &mut Vec<(usize, Vec<T>)>, data: &mut Vec<(usize, Vec<T>)>| acc.append(data),
        move |t, mut parts, out: &mut Vec<U>| {
            if shared.stopping_now() || !cadence.fires(t) {
                return;
            }
            parts.sort_by_key(|p| p.0);
            let total = parts.iter().map(|p| p.1.len()).sum();
            let mut records = Vec::with_capacity(total);
            for (_, mut part) in parts {
                records.append(&mut part);
            }
            match f(t, records) {
                Ok(mut result) => out.append(&mut result),
                Err(e) => shared.fail(Error::Operator {
                    operator: format!("{name} (batch {t} ms)"),
                    error: Box::new(e),
                }),
            }
        },
    )
}
