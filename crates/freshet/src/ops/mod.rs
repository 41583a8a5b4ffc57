//! Operator implementations on timely streams.
//!
//! Every operator of the public API is one function here, built on three shapes:
//! - [`narrow`]: record-at-a-time work on each container as it arrives (map, filter, ...);
//! - [`per_time`]: state kept per batch time and finished when the input frontier passes the
//!   batch, i.e. when every worker has sent everything for it (reduce, group, count, gather);
//! - [`per_time2`]: the same over two inputs (cogroup and the joins).
//!
//! Keyed operators route records with [`route`], a hash independent of the one the per-worker
//! hash maps use, so that the keys a worker receives still spread over its map's buckets.

pub(crate) mod aggregate;
pub(crate) mod cadence;
pub(crate) mod cogroup;
pub(crate) mod each_batch;
pub(crate) mod event_time;
pub(crate) mod keyed;
pub(crate) mod narrow;
pub(crate) mod output;
pub(crate) mod sink;
pub(crate) mod sort;
pub(crate) mod state;
pub(crate) mod window;

use crate::data::Data;
use crate::durability::decode_state;
use crate::plan::{Builder, ChainInput, Head, Plan, TStream, WorkerEnv};
use crate::time::with_batch_time;
use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{ParallelizationContract, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{OutputBuilder, OutputBuilderSession};
use timely::dataflow::operators::{Capability, Operator};
use timely::progress::frontier::MutableAntichain;

pub(crate) use narrow::narrow;

use crate::metrics::local::{self, OpTimer};

/// The hash map used for per-batch keyed state.
pub(crate) type FastMap<K, V> =
    std::collections::HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// The worker-routing hash of a key.
pub(crate) fn route<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    // Fx's low bits also pick the bucket in the receiving worker's map; route by the high bits.
    h.finish()
        .rotate_left(29)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> 17
}

/// Which workers finish batches in which they received no records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmitEmpty {
    /// Only batches with records are finished.
    Never,
    /// Worker 0 finishes every batch (operators that gather to worker 0: count, foreach_batch).
    Worker0,
    /// Every worker finishes every batch (operators on each partition: glom, map_partitions).
    AllWorkers,
}

/// Keeps a state per batch time, updated by `add` with every container of that batch; when the
/// input frontier passes the batch, `finish` turns the state into the batch's output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn per_time<'s, T, U, S, P, I, A, F>(
    stream: TStream<'s, T>,
    pact: P,
    name: &str,
    env: &Rc<WorkerEnv>,
    emit_empty: EmitEmpty,
    init: I,
    mut add: A,
    mut finish: F,
) -> TStream<'s, U>
where
    T: 'static,
    U: 'static,
    S: 'static,
    P: ParallelizationContract<u64, Vec<T>>,
    I: Fn() -> S + 'static,
    A: FnMut(&mut S, &mut Vec<T>) + 'static,
    F: FnMut(u64, S, &mut Vec<U>) + 'static,
{
    let env = Rc::clone(env);
    let node = local::installing();
    let every_batch = match emit_empty {
        EmitEmpty::Never => false,
        EmitEmpty::Worker0 => env.index == 0,
        EmitEmpty::AllWorkers => true,
    };
    stream.unary_frontier::<CapacityContainerBuilder<Vec<U>>, _, _, _>(
        pact,
        name,
        move |cap, _info| {
            let mut held: Option<Capability<u64>> =
                every_batch.then(|| cap.delayed(&env.first_time));
            drop(cap);
            let mut pending: BTreeMap<u64, (Option<Capability<u64>>, S)> = BTreeMap::new();
            let mut out: Vec<U> = Vec::new();
            move |(input, frontier), output| {
                let mut timer = OpTimer::start(node);
                input.for_each(|icap, data| {
                    let Some(&t) = icap.least() else { return };
                    timer.batch(t);
                    let entry = pending.entry(t).or_insert_with(|| (None, init()));
                    if entry.0.is_none() && !every_batch {
                        entry.0 = icap.retain_least(0);
                    }
                    with_batch_time(t, || add(&mut entry.1, data));
                });
                if every_batch {
                    while let Some(cap) = held.as_mut() {
                        let t = *cap.time();
                        if frontier.less_equal(&t) {
                            break;
                        }
                        if frontier.is_empty() && env.last_fed().is_none_or(|last| t > last) {
                            held = None;
                            pending.clear();
                            break;
                        }
                        let state = pending.remove(&t).map(|(_, s)| s).unwrap_or_else(&init);
                        timer.batch(t);
                        with_batch_time(t, || finish(t, state, &mut out));
                        if !out.is_empty() {
                            output.session(&*cap).give_container(&mut out);
                            out.clear();
                        }
                        cap.downgrade(&(t + env.interval));
                    }
                } else {
                    finish_passed(
                        &mut pending,
                        frontier,
                        &mut timer,
                        &mut finish,
                        &mut out,
                        output,
                    );
                }
            }
        },
    )
}

/// The batches of a per-time operator: each batch's capability (held while the batch has
/// records and the operator must emit for it) and state.
type PendingBatches<S> = BTreeMap<u64, (Option<Capability<u64>>, S)>;

/// Finishes, in time order, the batches of `pending` that `frontier` has passed, giving each
/// one's output under its capability.
fn finish_passed<S, U: 'static>(
    pending: &mut PendingBatches<S>,
    frontier: &MutableAntichain<u64>,
    timer: &mut OpTimer,
    finish: &mut impl FnMut(u64, S, &mut Vec<U>),
    out: &mut Vec<U>,
    output: &mut OutputBuilderSession<'_, u64, CapacityContainerBuilder<Vec<U>>>,
) {
    while let Some(entry) = pending.first_entry() {
        let t = *entry.key();
        if frontier.less_equal(&t) {
            break;
        }
        let (cap, state) = entry.remove();
        timer.batch(t);
        with_batch_time(t, || finish(t, state, out));
        if let (Some(cap), false) = (cap, out.is_empty()) {
            output.session(&cap).give_container(out);
        }
        out.clear();
    }
}

/// [`per_time`] with [`EmitEmpty::Never`] over the records of plan node `input`, fused with the
/// narrow chain ending there (see [`Plan::attach`]): `add` takes the records one at a time, as
/// the chain makes them.
pub(crate) fn per_time_records<'s, T, U, S, I, A, F>(
    input: &Plan<T>,
    b: &mut Builder<'s>,
    name: &str,
    init: I,
    add: A,
    finish: F,
) -> TStream<'s, U>
where
    T: Data,
    U: 'static,
    S: 'static,
    I: Fn() -> S + 'static,
    A: FnMut(&mut S, T) + 'static,
    F: FnMut(u64, S, &mut Vec<U>) + 'static,
{
    let mut op = OperatorBuilder::new(name.to_owned(), b.scope);
    let input = input.attach(b, &mut op);
    per_time_records_of(op, input, init, add, finish)
}

/// [`per_time_records`] over a stream that is not a plan node's (the records of a container
/// one at a time, `pact` routing them).
pub(crate) fn per_time_records_from<'s, T, U, S, P, I, A, F>(
    stream: TStream<'s, T>,
    pact: P,
    name: &str,
    init: I,
    add: A,
    finish: F,
) -> TStream<'s, U>
where
    T: Data,
    U: 'static,
    S: 'static,
    P: ParallelizationContract<u64, Vec<T>>,
    P::Puller: 'static,
    I: Fn() -> S + 'static,
    A: FnMut(&mut S, T) + 'static,
    F: FnMut(u64, S, &mut Vec<U>) + 'static,
{
    let mut op = OperatorBuilder::new(name.to_owned(), stream.scope());
    let input = Box::new(Head::new(op.new_input(stream, pact)));
    per_time_records_of(op, input, init, add, finish)
}

/// Builds the operator of [`per_time_records`] from `op`, whose one input `input` is.
fn per_time_records_of<'s, T, U, S, I, A, F>(
    mut op: OperatorBuilder<'s, u64>,
    mut input: Box<dyn ChainInput<T>>,
    init: I,
    mut add: A,
    mut finish: F,
) -> TStream<'s, U>
where
    T: Data,
    U: 'static,
    S: 'static,
    I: Fn() -> S + 'static,
    A: FnMut(&mut S, T) + 'static,
    F: FnMut(u64, S, &mut Vec<U>) + 'static,
{
    let (output, stream) = op.new_output::<Vec<U>>();
    let mut output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<U>>>::from(output);
    let node = local::installing();
    op.build(move |capabilities| {
        drop(capabilities);
        let mut pending: PendingBatches<S> = BTreeMap::new();
        let mut out: Vec<U> = Vec::new();
        move |frontiers| {
            let mut output = output.activate();
            let mut timer = OpTimer::start(node);
            input.for_each(&mut |icap, records| {
                let Some(&t) = icap.least() else { return };
                timer.batch(t);
                let entry = pending.entry(t).or_insert_with(|| (None, init()));
                if entry.0.is_none() {
                    entry.0 = icap.retain_least(0);
                }
                let state = &mut entry.1;
                with_batch_time(t, || records(&mut |x| add(state, x)));
            });
            finish_passed(
                &mut pending,
                &frontiers[0],
                &mut timer,
                &mut finish,
                &mut out,
                &mut output,
            );
        }
    });
    stream
}

/// [`per_time`] over two inputs: `add1` and `add2` update the same per-batch state.
#[allow(clippy::too_many_arguments)]
pub(crate) fn per_time2<'s, T1, T2, U, S, P1, P2, I, A1, A2, F>(
    left: TStream<'s, T1>,
    right: TStream<'s, T2>,
    pact1: P1,
    pact2: P2,
    name: &str,
    init: I,
    mut add1: A1,
    mut add2: A2,
    mut finish: F,
) -> TStream<'s, U>
where
    T1: 'static,
    T2: 'static,
    U: 'static,
    S: 'static,
    P1: ParallelizationContract<u64, Vec<T1>>,
    P2: ParallelizationContract<u64, Vec<T2>>,
    I: Fn() -> S + 'static,
    A1: FnMut(&mut S, &mut Vec<T1>) + 'static,
    A2: FnMut(&mut S, &mut Vec<T2>) + 'static,
    F: FnMut(u64, S, &mut Vec<U>) + 'static,
{
    let node = local::installing();
    left.binary_frontier::<_, CapacityContainerBuilder<Vec<U>>, _, _, _, _>(
        right,
        pact1,
        pact2,
        name,
        move |cap, _info| {
            drop(cap);
            let mut pending: BTreeMap<u64, (Option<Capability<u64>>, S)> = BTreeMap::new();
            let mut out: Vec<U> = Vec::new();
            move |(input1, frontier1), (input2, frontier2), output| {
                let mut timer = OpTimer::start(node);
                input1.for_each(|icap, data| {
                    let Some(&t) = icap.least() else { return };
                    timer.batch(t);
                    let entry = pending.entry(t).or_insert_with(|| (None, init()));
                    if entry.0.is_none() {
                        entry.0 = icap.retain_least(0);
                    }
                    with_batch_time(t, || add1(&mut entry.1, data));
                });
                input2.for_each(|icap, data| {
                    let Some(&t) = icap.least() else { return };
                    timer.batch(t);
                    let entry = pending.entry(t).or_insert_with(|| (None, init()));
                    if entry.0.is_none() {
                        entry.0 = icap.retain_least(0);
                    }
                    with_batch_time(t, || add2(&mut entry.1, data));
                });
                while let Some(entry) = pending.first_entry() {
                    let t = *entry.key();
                    if frontier1.less_equal(&t) || frontier2.less_equal(&t) {
                        break;
                    }
                    let (cap, state) = entry.remove();
                    with_batch_time(t, || finish(t, state, &mut out));
                    if let (Some(cap), false) = (cap, out.is_empty()) {
                        output.session(&cap).give_container(&mut out);
                    }
                    out.clear();
                }
            }
        },
    )
}

/// The pipeline pact (records stay on their worker).
pub(crate) fn local() -> Pipeline {
    Pipeline
}

/// Registers an operator's state for checkpoints: `snapshot` serializes this worker's part
/// (with [`encode_state`](crate::durability::encode_state)). Returns the parts to restore
/// from, decoded, one per worker of the run that wrote the checkpoint, in worker order (empty
/// on a fresh start). A part that does not decode fails the run (and nothing is restored).
pub(crate) fn checkpointed<S: serde::de::DeserializeOwned>(
    env: &Rc<WorkerEnv>,
    snapshot: impl Fn() -> Vec<u8> + 'static,
) -> Vec<S> {
    let mut parts = Vec::new();
    for part in env.register_state(Rc::new(snapshot)) {
        match decode_state::<S>(&part) {
            Ok(s) => parts.push(s),
            Err(e) => {
                env.shared.fail(env.operator_error(e));
                return Vec::new();
            }
        }
    }
    parts
}

/// The old workers' parts of an unkeyed per-worker state that worker `index` of `peers` takes
/// over: old worker `i` goes to worker `i % peers` (the same worker when the count is
/// unchanged).
pub(crate) fn parts_for<S>(parts: Vec<S>, index: usize, peers: usize) -> impl Iterator<Item = S> {
    parts
        .into_iter()
        .enumerate()
        .filter(move |(i, _)| i % peers == index)
        .map(|(_, p)| p)
}
