//! Keyed aggregations: `combine_by_key` (and through it `reduce_by_key`, `count_by_value`) and
//! `group_by_key`. Records are combined on their worker first, then routed by key.

use super::{per_time, per_time_records, per_time_records_from, route, EmitEmpty, FastMap};
use crate::data::{Data, Key};
use crate::plan::{Builder, Plan, TStream, WorkerEnv};
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

/// The three functions of `combine_by_key`.
pub(crate) struct Combiner<V, C> {
    /// Makes a combiner from a key's first value.
    pub create: Arc<dyn Fn(V) -> C + Send + Sync>,
    /// Adds a value to a combiner.
    pub merge_value: Arc<dyn Fn(C, V) -> C + Send + Sync>,
    /// Merges two combiners.
    pub merge_combiners: Arc<dyn Fn(C, C) -> C + Send + Sync>,
}

impl<V, C> Clone for Combiner<V, C> {
    fn clone(&self) -> Self {
        Combiner {
            create: self.create.clone(),
            merge_value: self.merge_value.clone(),
            merge_combiners: self.merge_combiners.clone(),
        }
    }
}

/// Remembers how many keys the last batch had, so the next batch's map starts at that size
/// instead of growing (and rehashing) from empty.
#[derive(Clone, Default)]
struct SizeHint(std::rc::Rc<std::cell::Cell<usize>>);

impl SizeHint {
    fn new_map<K, C>(&self) -> FastMap<K, Option<C>> {
        FastMap::with_capacity_and_hasher(self.0.get(), Default::default())
    }

    fn drain<K, C>(&self, map: FastMap<K, Option<C>>, out: &mut Vec<(K, C)>) {
        self.0.set(map.len());
        drain_map(map, out);
    }
}

fn drain_map<K, C>(map: FastMap<K, Option<C>>, out: &mut Vec<(K, C)>) {
    out.reserve(map.len());
    out.extend(map.into_iter().filter_map(|(k, c)| c.map(|c| (k, c))));
}

/// The number of partitions (workers owning keys) a keyed operator uses when `requested` were
/// asked for: all workers for `None`, else `requested` but at least 1 and at most `peers`.
pub(crate) fn partitions_of(requested: Option<usize>, peers: usize) -> usize {
    requested.map_or(peers, |n| n.clamp(1, peers.max(1)))
}

/// Routes `(key, value)` records to the key's owner among the first `parts` workers:
/// `route(key) % parts` (with `parts` the worker count, the same as `exchange_by_key`).
pub(crate) fn exchange_in<K: Key, V: Data>(
    parts: usize,
) -> Exchange<(K, V), impl FnMut(&(K, V)) -> u64> {
    let parts = parts.max(1) as u64;
    Exchange::new(move |x: &(K, V)| route(&x.0) % parts)
}

/// `combine_by_key`: per-worker combine, then (with more than one worker) route by key and merge.
pub(crate) fn combine_by_key<'s, K: Key, V: Data, C: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    name: &str,
    c: Combiner<V, C>,
) -> TStream<'s, (K, C)> {
    combine_by_key_in(s, env, name, c, env.peers)
}

/// [`combine_by_key`] with the keys owned by the first `parts` workers only (`parts` from
/// [`partitions_of`]).
pub(crate) fn combine_by_key_in<'s, K: Key, V: Data, C: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    name: &str,
    c: Combiner<V, C>,
    parts: usize,
) -> TStream<'s, (K, C)> {
    let (init, add, finish) = local_combine(&c);
    let local = per_time_records_from(s, Pipeline, name, init, add, finish);
    merge_workers(local, env, name, c.merge_combiners, parts)
}

/// [`combine_by_key_in`] over the records of plan node `input`, combined as the narrow chain
/// ending there makes them (see [`Plan::attach`]).
pub(crate) fn combine_by_key_fused<'s, K: Key, V: Data, C: Data>(
    input: &Plan<(K, V)>,
    b: &mut Builder<'s>,
    name: &str,
    c: Combiner<V, C>,
    parts: usize,
) -> TStream<'s, (K, C)> {
    let (init, add, finish) = local_combine(&c);
    let local = per_time_records(input, b, name, init, add, finish);
    merge_workers(local, &b.env, name, c.merge_combiners, parts)
}

/// Each key's combiner in one batch (`None` only while a value is being merged into it).
type Combiners<K, C> = FastMap<K, Option<C>>;

/// The per-batch functions of a worker's combine: a map sized as the last batch's was, each
/// record added to its key's combiner, and the map drained into `(key, combiner)` records.
#[allow(
    clippy::type_complexity,
    reason = "three closures, each named by its bounds"
)]
fn local_combine<K: Key, V: Data, C: Data>(
    c: &Combiner<V, C>,
) -> (
    impl Fn() -> Combiners<K, C>,
    impl FnMut(&mut Combiners<K, C>, (K, V)),
    impl FnMut(u64, Combiners<K, C>, &mut Vec<(K, C)>),
) {
    let (create, merge_value) = (c.create.clone(), c.merge_value.clone());
    let hint = SizeHint::default();
    let hint2 = hint.clone();
    (
        move || hint.new_map::<K, C>(),
        move |map: &mut Combiners<K, C>, (k, v): (K, V)| {
            add_value(map, k, v, &*create, &*merge_value)
        },
        move |_t, map, out: &mut Vec<(K, C)>| hint2.drain(map, out),
    )
}

/// Adds `v` to key `k`'s combiner in `map`.
#[inline]
fn add_value<K: Key, V, C>(
    map: &mut FastMap<K, Option<C>>,
    k: K,
    v: V,
    create: &dyn Fn(V) -> C,
    merge_value: &dyn Fn(C, V) -> C,
) {
    let slot = map.entry(k).or_insert(None);
    *slot = Some(match slot.take() {
        Some(acc) => merge_value(acc, v),
        None => create(v),
    });
}

/// With more than one worker: routes each worker's combiners by key to the first `parts`
/// workers and merges them there.
fn merge_workers<'s, K: Key, C: Data>(
    local: TStream<'s, (K, C)>,
    env: &Rc<WorkerEnv>,
    name: &str,
    merge: Arc<dyn Fn(C, C) -> C + Send + Sync>,
    parts: usize,
) -> TStream<'s, (K, C)> {
    if env.peers == 1 {
        return local;
    }
    let hint = SizeHint::default();
    let hint2 = hint.clone();
    per_time(
        local,
        exchange_in::<K, C>(parts),
        name,
        env,
        EmitEmpty::Never,
        move || hint.new_map::<K, C>(),
        move |map, data: &mut Vec<(K, C)>| {
            for (k, v) in data.drain(..) {
                let slot = map.entry(k).or_insert(None);
                *slot = Some(match slot.take() {
                    Some(acc) => merge(acc, v),
                    None => v,
                });
            }
        },
        move |_t, map, out| hint2.drain(map, out),
    )
}

/// `group_by_key`: routes every record by key and gathers each key's values in arrival order.
pub(crate) fn group_by_key<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
) -> TStream<'s, (K, Vec<V>)> {
    group_by_key_in(s, env, env.peers)
}

/// [`group_by_key`] with the keys owned by the first `parts` workers only.
pub(crate) fn group_by_key_in<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    parts: usize,
) -> TStream<'s, (K, Vec<V>)> {
    per_time(
        s,
        exchange_in::<K, V>(parts),
        "group_by_key",
        env,
        EmitEmpty::Never,
        FastMap::<K, Vec<V>>::default,
        |map, data: &mut Vec<(K, V)>| {
            for (k, v) in data.drain(..) {
                map.entry(k).or_default().push(v);
            }
        },
        |_t, map, out| out.extend(map),
    )
}
