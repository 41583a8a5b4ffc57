//! Whole-batch aggregates: `count` and `reduce`. Each worker folds its records, then the partial
//! results meet on worker 0.

use super::{per_time, EmitEmpty};
use crate::data::Data;
use crate::plan::{TStream, WorkerEnv};
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

/// `count`: one record per batch, `0` for an empty batch (as Spark does).
pub(crate) fn count<'s, T: Data>(s: TStream<'s, T>, env: &Rc<WorkerEnv>) -> TStream<'s, u64> {
    let partial = per_time(
        s,
        Pipeline,
        "count-partial",
        env,
        EmitEmpty::Never,
        || 0u64,
        |n, data: &mut Vec<T>| {
            *n += data.len() as u64;
            data.clear();
        },
        |_t, n, out| out.push(n),
    );
    per_time(
        partial,
        Exchange::new(|_: &u64| 0),
        "count",
        env,
        EmitEmpty::Worker0,
        || 0u64,
        |n, data: &mut Vec<u64>| *n += data.drain(..).sum::<u64>(),
        |_t, n, out| out.push(n),
    )
}

/// `reduce`: one record per non-empty batch, the fold of all its records with `f`.
pub(crate) fn reduce<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    f: Arc<dyn Fn(T, T) -> T + Send + Sync>,
) -> TStream<'s, T> {
    let fold = move |acc: &mut Option<T>, data: &mut Vec<T>| {
        for x in data.drain(..) {
            *acc = Some(match acc.take() {
                Some(a) => f(a, x),
                None => x,
            });
        }
    };
    let partial = per_time(
        s,
        Pipeline,
        "reduce-partial",
        env,
        EmitEmpty::Never,
        || None,
        fold.clone(),
        |_t, acc, out| out.extend(acc),
    );
    per_time(
        partial,
        Exchange::new(|_: &T| 0),
        "reduce",
        env,
        EmitEmpty::Never,
        || None,
        fold,
        |_t, acc, out| out.extend(acc),
    )
}
