//! Processing-time windows and count-based windows.
//!
//! Processing-time windows are built on [`per_time`] with [`EmitEmpty::AllWorkers`]: every
//! worker finishes every batch in batch-time order, keeps the *per-batch* partial result of the
//! batches still inside the longest window (each record or per-key partial stored once), and at
//! the batches that end a window writes the window's result. Timing follows Spark: the zero time
//! is `t0 = first batch time - interval`; a window ends at batch time `t` when `(t - t0)` is a
//! multiple of the slide and holds the batches in `(t - len, t]`.
//!
//! Count windows order the records of a batch by (source worker, position on that worker), then
//! batch after batch; they gather on one worker (whole stream) or on the key's owner (per key).
//!
//! # Checkpoints
//!
//! Every operator here registers what it keeps across batches (see
//! [`checkpointed`](super::checkpointed)); a checkpoint taken after batch `t` holds exactly the
//! batches up to `t`. Window timing uses [`WorkerEnv::origin`], the first batch time of the
//! pipeline's first run, so the window grid is the same after a recovery. On restore:
//! - per-key state (the per-batch partials of the keyed windows, the running values of the
//!   incremental windows, per-key count buffers) goes to the key's owner, so the worker count
//!   may change;
//! - per-worker partials that are not keyed (`window`, `count_by_window`, `reduce_by_window`)
//!   go from old worker `i` to worker `i % peers`, merged per batch time (a window's result
//!   combines every worker's partials, so it is unchanged);
//! - the whole-stream count window's buffer lives on worker 0 and goes back to worker 0.

use super::keyed::{combine_by_key, combine_by_key_in, exchange_in, Combiner};
use super::narrow::narrow;
use super::state::owner;
use super::{checkpointed, parts_for, per_time, route, EmitEmpty, FastMap};
use crate::data::{Data, Key};
use crate::durability::encode_state;
use crate::plan::{TStream, WorkerEnv};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};

/// When windows end and which batches they hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    first: u64,
    interval: u64,
    /// Window length in milliseconds (a multiple of the interval).
    pub len: u64,
    /// Slide in milliseconds (a multiple of the interval).
    pub slide: u64,
}

impl Timing {
    /// Windows of `len` every `slide` ms, aligned on the pipeline's first batch time (which
    /// survives recoveries from checkpoints).
    pub fn new(env: &WorkerEnv, len: u64, slide: u64) -> Self {
        Timing {
            first: env.origin,
            interval: env.interval,
            len,
            slide,
        }
    }

    /// Whether a window ends at batch time `t`.
    pub fn is_end(&self, t: u64) -> bool {
        (t + self.interval - self.first).is_multiple_of(self.slide)
    }

    /// Whether batch `b` is inside the window ending at `t`.
    pub fn holds(&self, t: u64, b: u64) -> bool {
        b + self.len > t
    }
}

/// Per-batch partials of the batches still in a window: `(batch time, partial)`, oldest first.
type Kept<B> = VecDeque<(u64, B)>;

/// Rebuilds per-worker partials that are not keyed from the old workers' `parts`: worker
/// `index` takes those of the old workers `i` with `i % peers == index`, merged per batch time.
fn restore_unkeyed<B>(
    parts: Vec<Kept<B>>,
    index: usize,
    peers: usize,
    merge: impl Fn(&mut B, B),
) -> Kept<B> {
    let mut by_time: BTreeMap<u64, B> = BTreeMap::new();
    for part in parts_for(parts, index, peers) {
        for (t, p) in part {
            match by_time.get_mut(&t) {
                Some(acc) => merge(acc, p),
                None => {
                    by_time.insert(t, p);
                }
            }
        }
    }
    by_time.into_iter().collect()
}

/// Rebuilds per-key partials from the old workers' `parts`: worker `index` keeps the keys it
/// owns (keys are owned by the first `peers` workers), per batch time (in old worker order; a
/// key was on one old worker).
fn restore_keyed<K: Key, V>(
    parts: Vec<Kept<Vec<(K, V)>>>,
    index: usize,
    peers: usize,
) -> Kept<Vec<(K, V)>> {
    let mut by_time: BTreeMap<u64, Vec<(K, V)>> = BTreeMap::new();
    for part in parts {
        for (t, recs) in part {
            by_time
                .entry(t)
                .or_default()
                .extend(recs.into_iter().filter(|(k, _)| owner(k, peers) == index));
        }
    }
    by_time.into_iter().collect()
}

/// Keeps the per-batch partials (`B`, made by `add` from each batch's records) of the batches in
/// the window, and calls `emit` with them (oldest first) at every batch that ends a window.
/// The partials are checkpointed; `restore(old parts, index, peers)` rebuilds them on recovery.
#[allow(clippy::too_many_arguments)]
fn sliding<'s, T, B, U, P, I, A, E, R>(
    s: TStream<'s, T>,
    pact: P,
    name: &str,
    env: &Rc<WorkerEnv>,
    len: u64,
    slide: u64,
    init: I,
    add: A,
    mut emit: E,
    restore: R,
) -> TStream<'s, U>
where
    T: 'static,
    B: Serialize + DeserializeOwned + 'static,
    U: 'static,
    P: ParallelizationContract<u64, Vec<T>>,
    I: Fn() -> B + 'static,
    A: FnMut(&mut B, &mut Vec<T>) + 'static,
    E: FnMut(&Kept<B>, &mut Vec<U>) + 'static,
    R: FnOnce(Vec<Kept<B>>, usize, usize) -> Kept<B>,
{
    let timing = Timing::new(env, len, slide);
    let kept: Rc<RefCell<Kept<B>>> = Rc::new(RefCell::new(VecDeque::new()));
    let snap = Rc::clone(&kept);
    let parts = checkpointed(env, move || encode_state(&*snap.borrow()));
    if !parts.is_empty() {
        *kept.borrow_mut() = restore(parts, env.index, env.peers);
    }
    per_time(
        s,
        pact,
        name,
        env,
        EmitEmpty::AllWorkers,
        init,
        add,
        move |t, batch, out| {
            let mut kept = kept.borrow_mut();
            while kept.front().is_some_and(|(bt, _)| !timing.holds(t, *bt)) {
                kept.pop_front();
            }
            kept.push_back((t, batch));
            if timing.is_end(t) {
                emit(&kept, out);
            }
        },
    )
}

/// `window(len, slide)`: every window's records, on the workers that hold them.
pub(crate) fn window<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    len: u64,
    slide: u64,
) -> TStream<'s, T> {
    sliding(
        s,
        Pipeline,
        "window",
        env,
        len,
        slide,
        Vec::new,
        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
        |kept, out| {
            for (_, recs) in kept {
                out.extend(recs.iter().cloned());
            }
        },
        |parts, index, peers| {
            restore_unkeyed(parts, index, peers, |a: &mut Vec<T>, mut p| {
                a.append(&mut p)
            })
        },
    )
}

/// `count_by_window`: one count per window (zero for an empty window), on worker 0.
pub(crate) fn count_by_window<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    len: u64,
    slide: u64,
) -> TStream<'s, u64> {
    let partial = sliding(
        s,
        Pipeline,
        "count_by_window-partial",
        env,
        len,
        slide,
        || 0u64,
        |n: &mut u64, data: &mut Vec<T>| {
            *n += data.len() as u64;
            data.clear();
        },
        |kept, out| out.push(kept.iter().map(|(_, n)| *n).sum()),
        |parts, index, peers| restore_unkeyed(parts, index, peers, |a: &mut u64, p| *a += p),
    );
    per_time(
        partial,
        Exchange::new(|_: &u64| 0),
        "count_by_window",
        env,
        EmitEmpty::Never,
        || 0u64,
        |n, data: &mut Vec<u64>| *n += data.drain(..).sum::<u64>(),
        |_t, n, out| out.push(n),
    )
}

/// `reduce_by_window`: the fold of every non-empty window, on worker 0.
pub(crate) fn reduce_by_window<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    f: Arc<dyn Fn(T, T) -> T + Send + Sync>,
    len: u64,
    slide: u64,
) -> TStream<'s, T> {
    let fold = {
        let f = f.clone();
        move |acc: &mut Option<T>, data: &mut Vec<T>| {
            for x in data.drain(..) {
                *acc = Some(match acc.take() {
                    Some(a) => f(a, x),
                    None => x,
                });
            }
        }
    };
    let g = f.clone();
    let h = f.clone();
    let partial = sliding(
        s,
        Pipeline,
        "reduce_by_window-partial",
        env,
        len,
        slide,
        || None,
        fold.clone(),
        move |kept, out| {
            let mut acc: Option<T> = None;
            for x in kept.iter().filter_map(|(_, p)| p.as_ref()) {
                acc = Some(match acc.take() {
                    Some(a) => g(a, x.clone()),
                    None => x.clone(),
                });
            }
            out.extend(acc);
        },
        move |parts, index, peers| {
            restore_unkeyed(parts, index, peers, |a: &mut Option<T>, p| {
                *a = match (a.take(), p) {
                    (Some(x), Some(y)) => Some(h(x, y)),
                    (x, y) => x.or(y),
                }
            })
        },
    );
    per_time(
        partial,
        Exchange::new(|_: &T| 0),
        "reduce_by_window",
        env,
        EmitEmpty::Never,
        || None,
        fold,
        |_t, acc, out| out.extend(acc),
    )
}

fn reduce_combiner<V: Data>(f: &Arc<dyn Fn(V, V) -> V + Send + Sync>) -> Combiner<V, V> {
    Combiner {
        create: Arc::new(|v| v),
        merge_value: f.clone(),
        merge_combiners: f.clone(),
    }
}

/// `reduce_by_key_and_window`: every window recomputed from the per-batch, per-key partials,
/// the keys owned by the first `parts` workers.
pub(crate) fn reduce_by_key_and_window<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    len: u64,
    slide: u64,
    parts: usize,
) -> TStream<'s, (K, V)> {
    let per_batch = combine_by_key_in(
        s,
        env,
        "reduce_by_key_and_window-batch",
        reduce_combiner(&f),
        parts,
    );
    sliding(
        per_batch,
        Pipeline,
        "reduce_by_key_and_window",
        env,
        len,
        slide,
        Vec::new,
        |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
        move |kept, out| {
            let mut window: FastMap<K, V> = FastMap::default();
            for (_, part) in kept {
                for (k, v) in part {
                    match window.remove(k) {
                        Some(acc) => window.insert(k.clone(), f(acc, v.clone())),
                        None => window.insert(k.clone(), v.clone()),
                    };
                }
            }
            out.extend(window);
        },
        move |old, index, _peers| restore_keyed(old, index, parts),
    )
}

/// A key's running value in an incremental window and the number of batches of the window in
/// which the key has values (the key leaves the window when that drops to zero).
#[derive(Serialize, Deserialize)]
struct Running<V> {
    value: Option<V>,
    batches: u32,
}

/// What an incremental window keeps across batches on one worker.
struct IncrementalState<K, V> {
    /// The per-key partials of the batches in the window that had data.
    kept: Kept<Vec<(K, V)>>,
    running: FastMap<K, Running<V>>,
}

/// How [`IncrementalState`] is checkpointed: the kept partials and the running values.
type IncrementalSnapshot<K, V> = (Kept<Vec<(K, V)>>, Vec<(K, Running<V>)>);

/// A filter applied to the output of an incremental window.
pub(crate) type KeepFn<K, V> = Arc<dyn Fn(&(K, V)) -> bool + Send + Sync>;

/// `reduce_by_key_and_window_inv`: keeps each key's running value; at every batch adds the
/// entering batch's partials with `f` and subtracts the leaving batch's partials with `inv`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce_by_key_and_window_inv<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    inv: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    len: u64,
    slide: u64,
    keep: Option<KeepFn<K, V>>,
) -> TStream<'s, (K, V)> {
    let per_batch = combine_by_key(
        s,
        env,
        "reduce_by_key_and_window_inv-batch",
        reduce_combiner(&f),
    );
    let timing = Timing::new(env, len, slide);
    let state: Rc<RefCell<IncrementalState<K, V>>> = Rc::new(RefCell::new(IncrementalState {
        kept: VecDeque::new(),
        running: FastMap::default(),
    }));
    let snap = Rc::clone(&state);
    let parts: Vec<IncrementalSnapshot<K, V>> = checkpointed(env, move || {
        let st = snap.borrow();
        let running: Vec<(&K, &Running<V>)> = st.running.iter().collect();
        encode_state(&(&st.kept, running))
    });
    if !parts.is_empty() {
        let (index, peers) = (env.index, env.peers);
        let mut olds = Vec::with_capacity(parts.len());
        let mut running = FastMap::default();
        for (kept, keys) in parts {
            olds.push(kept);
            running.extend(keys.into_iter().filter(|(k, _)| owner(k, peers) == index));
        }
        let mut kept = restore_keyed(olds, index, peers);
        kept.retain(|(_, p)| !p.is_empty());
        *state.borrow_mut() = IncrementalState { kept, running };
    }
    per_time(
        per_batch,
        Pipeline,
        "reduce_by_key_and_window_inv",
        env,
        EmitEmpty::AllWorkers,
        Vec::new,
        |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
        move |t, batch, out| {
            let mut st = state.borrow_mut();
            let IncrementalState { kept, running } = &mut *st;
            while kept.front().is_some_and(|(bt, _)| !timing.holds(t, *bt)) {
                let Some((_, leaving)) = kept.pop_front() else {
                    break;
                };
                for (k, v) in leaving {
                    let Some(r) = running.get_mut(&k) else {
                        continue;
                    };
                    r.batches -= 1;
                    if r.batches == 0 {
                        running.remove(&k);
                    } else if let Some(acc) = r.value.take() {
                        r.value = Some(inv(acc, v));
                    }
                }
            }
            for (k, v) in &batch {
                match running.get_mut(k) {
                    Some(r) => {
                        r.batches += 1;
                        r.value = Some(match r.value.take() {
                            Some(acc) => f(acc, v.clone()),
                            None => v.clone(),
                        });
                    }
                    None => {
                        running.insert(
                            k.clone(),
                            Running {
                                value: Some(v.clone()),
                                batches: 1,
                            },
                        );
                    }
                }
            }
            if !batch.is_empty() {
                kept.push_back((t, batch));
            }
            if timing.is_end(t) {
                out.reserve(running.len());
                for (k, r) in running.iter() {
                    if let Some(v) = &r.value {
                        let kv = (k.clone(), v.clone());
                        if keep.as_ref().is_none_or(|keep| keep(&kv)) {
                            out.push(kv);
                        }
                    }
                }
            }
        },
    )
}

/// `group_by_key_and_window`: the values of each key in each window, oldest batch first, the
/// keys owned by the first `parts` workers.
pub(crate) fn group_by_key_and_window<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    len: u64,
    slide: u64,
    parts: usize,
) -> TStream<'s, (K, Vec<V>)> {
    sliding(
        s,
        exchange_in::<K, V>(parts),
        "group_by_key_and_window",
        env,
        len,
        slide,
        Vec::new,
        |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
        |kept, out| {
            let mut window: FastMap<K, Vec<V>> = FastMap::default();
            for (_, part) in kept {
                for (k, v) in part {
                    match window.get_mut(k) {
                        Some(vs) => vs.push(v.clone()),
                        None => {
                            window.insert(k.clone(), vec![v.clone()]);
                        }
                    }
                }
            }
            out.extend(window);
        },
        move |old, index, _peers| restore_keyed(old, index, parts),
    )
}

/// The last `n` records, emitted every `step` records.
#[derive(Serialize, Deserialize)]
struct CountBuffer<T> {
    last: VecDeque<T>,
    since: usize,
}

impl<T: Clone> CountBuffer<T> {
    fn new() -> Self {
        CountBuffer {
            last: VecDeque::new(),
            since: 0,
        }
    }

    /// Adds `x`; returns the window to emit, if `x` completes one.
    fn push(&mut self, x: T, n: usize, step: usize) -> Option<Vec<T>> {
        if self.last.len() == n {
            self.last.pop_front();
        }
        self.last.push_back(x);
        self.since += 1;
        if self.since == step {
            self.since = 0;
            Some(self.last.iter().cloned().collect())
        } else {
            None
        }
    }
}

/// Tags each container with the worker it comes from, so the receiver can order a batch.
fn tag_worker<'s, T: Data>(s: TStream<'s, T>, index: usize) -> TStream<'s, (usize, Vec<T>)> {
    narrow(
        s,
        "tag-worker",
        move |data: &mut Vec<T>, out: &mut Vec<(usize, Vec<T>)>| {
            out.push((index, std::mem::take(data)))
        },
    )
}

/// `count_window(n, step)` over the whole stream, on worker 0.
pub(crate) fn count_window<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    n: usize,
    step: usize,
) -> TStream<'s, Vec<T>> {
    let tagged = tag_worker(s, env.index);
    // Only worker 0's buffer holds records; it goes back to worker 0 whatever the worker count.
    let buffer = Rc::new(RefCell::new(CountBuffer::new()));
    let snap = Rc::clone(&buffer);
    let parts: Vec<CountBuffer<T>> = checkpointed(env, move || encode_state(&*snap.borrow()));
    if env.index == 0 {
        if let Some(old) = parts.into_iter().next() {
            *buffer.borrow_mut() = old;
        }
    }
    per_time(
        tagged,
        Exchange::new(|_: &(usize, Vec<T>)| 0),
        "count_window",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(usize, Vec<T>)>, data| acc.append(data),
        move |_t, mut parts, out| {
            let mut buffer = buffer.borrow_mut();
            parts.sort_by_key(|p| p.0);
            for (_, part) in parts {
                for x in part {
                    out.extend(buffer.push(x, n, step));
                }
            }
        },
    )
}

/// `count_window_by_key(n, step)`: per key, on the key's owner.
pub(crate) fn count_window_by_key<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    n: usize,
    step: usize,
) -> TStream<'s, (K, Vec<V>)> {
    let index = env.index;
    // Keyed records keep their source worker so that each key's order is well defined.
    let tagged = narrow(
        s,
        "tag-worker",
        move |data: &mut Vec<(K, V)>, out: &mut Vec<(usize, K, V)>| {
            out.extend(data.drain(..).map(|(k, v)| (index, k, v)))
        },
    );
    let buffers: Rc<RefCell<FastMap<K, CountBuffer<V>>>> = Rc::default();
    let snap = Rc::clone(&buffers);
    let parts: Vec<Vec<(K, CountBuffer<V>)>> = checkpointed(env, move || {
        let buffers = snap.borrow();
        let entries: Vec<(&K, &CountBuffer<V>)> = buffers.iter().collect();
        encode_state(&entries)
    });
    let peers = env.peers;
    buffers.borrow_mut().extend(
        parts
            .into_iter()
            .flatten()
            .filter(|(k, _)| owner(k, peers) == index),
    );
    per_time(
        tagged,
        Exchange::new(|x: &(usize, K, V)| route(&x.1)),
        "count_window_by_key",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(usize, K, V)>, data| acc.append(data),
        move |_t, mut recs, out| {
            // Stable: records of one source worker keep their order.
            recs.sort_by_key(|r| r.0);
            let mut buffers = buffers.borrow_mut();
            for (_, k, v) in recs {
                let buf = match buffers.get_mut(&k) {
                    Some(buf) => buf,
                    None => buffers.entry(k.clone()).or_insert_with(CountBuffer::new),
                };
                if let Some(w) = buf.push(v, n, step) {
                    out.push((k, w));
                }
            }
        },
    )
}
