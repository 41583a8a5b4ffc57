//! Record-at-a-time operators: each container is transformed as it arrives.

use super::route;
use crate::data::{Data, Key};
use crate::metrics::local::{self, OpTimer};
use crate::plan::TStream;
use crate::time::with_batch_time;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::{Concat, Operator};

/// Applies `f` to every container: `f(input, output)` moves what it keeps from `input` to `output`.
pub(crate) fn narrow<'s, T, U, F>(stream: TStream<'s, T>, name: &str, mut f: F) -> TStream<'s, U>
where
    T: 'static,
    U: 'static,
    F: FnMut(&mut Vec<T>, &mut Vec<U>) + 'static,
{
    let node = local::installing();
    stream.unary::<CapacityContainerBuilder<Vec<U>>, _, _, _>(Pipeline, name, move |_cap, _info| {
        let mut buf: Vec<U> = Vec::new();
        move |input, output| {
            let mut timer = OpTimer::start(node);
            input.for_each(|cap, data| {
                let Some(&t) = cap.least() else { return };
                timer.batch(t);
                buf.clear();
                with_batch_time(t, || f(data, &mut buf));
                if !buf.is_empty() {
                    output.session(&cap).give_container(&mut buf);
                }
            });
        }
    })
}

/// `union` of two streams.
pub(crate) fn union<'s, T: Data>(a: TStream<'s, T>, b: TStream<'s, T>) -> TStream<'s, T> {
    a.concat(b)
}

/// The union of any number of streams (at least one), in one operator.
pub(crate) fn union_all<'s, T: Data>(streams: Vec<TStream<'s, T>>) -> TStream<'s, T> {
    use timely::dataflow::operators::Concatenate;
    let scope = streams[0].scope();
    scope.concatenate(streams)
}

/// `repartition(n)`: spreads records round-robin over `n` workers (at most all of them).
pub(crate) fn repartition<'s, T: Data>(
    s: TStream<'s, T>,
    n: usize,
    worker: usize,
) -> TStream<'s, T> {
    let n = n.max(1) as u64;
    let mut next = worker as u64;
    s.unary::<CapacityContainerBuilder<Vec<T>>, _, _, _>(
        Exchange::new(move |_x: &T| {
            next = next.wrapping_add(1);
            next % n
        }),
        "repartition",
        |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| output.session(&cap).give_container(data));
            }
        },
    )
}

/// Sends every record to the worker that owns its key (used before keyed work).
pub(crate) fn exchange_by_key<K: Key, V: Data>() -> Exchange<(K, V), impl FnMut(&(K, V)) -> u64> {
    Exchange::new(|x: &(K, V)| route(&x.0))
}
