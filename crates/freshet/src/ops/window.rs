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

use super::keyed::{combine_by_key, Combiner};
use super::narrow::{exchange_by_key, narrow};
use super::{per_time, route, EmitEmpty, FastMap};
use crate::data::{Data, Key};
use crate::plan::{Builder, TStream, WorkerEnv};
use std::collections::VecDeque;
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
    pub fn new(env: &WorkerEnv, len: u64, slide: u64) -> Self {
        Timing {
            first: env.first_time,
            interval: env.interval,
            len,
            slide,
        }
    }

    /// Whether a window ends at batch time `t`.
    pub fn is_end(&self, t: u64) -> bool {
        (t + self.interval - self.first) % self.slide == 0
    }

    /// Whether batch `b` is inside the window ending at `t`.
    pub fn holds(&self, t: u64, b: u64) -> bool {
        b + self.len > t
    }
}

/// Keeps the per-batch partials (`B`, made by `add` from each batch's records) of the batches in
/// the window, and calls `emit` with them (oldest first) at every batch that ends a window.
#[allow(clippy::too_many_arguments)]
fn sliding<'s, T, B, U, P, I, A, E>(
    s: TStream<'s, T>,
    pact: P,
    name: &str,
    b: &Builder<'s>,
    len: u64,
    slide: u64,
    init: I,
    add: A,
    mut emit: E,
) -> TStream<'s, U>
where
    T: 'static,
    B: 'static,
    U: 'static,
    P: ParallelizationContract<u64, Vec<T>>,
    I: Fn() -> B + 'static,
    A: FnMut(&mut B, &mut Vec<T>) + 'static,
    E: FnMut(&VecDeque<(u64, B)>, &mut Vec<U>) + 'static,
{
    let timing = Timing::new(&b.env, len, slide);
    let mut kept: VecDeque<(u64, B)> = VecDeque::new();
    per_time(
        s,
        pact,
        name,
        &b.env,
        EmitEmpty::AllWorkers,
        init,
        add,
        move |t, batch, out| {
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
    b: &mut Builder<'s>,
    len: u64,
    slide: u64,
) -> TStream<'s, T> {
    sliding(
        s,
        Pipeline,
        "window",
        b,
        len,
        slide,
        Vec::new,
        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
        |kept, out| {
            for (_, recs) in kept {
                out.extend(recs.iter().cloned());
            }
        },
    )
}

/// `count_by_window`: one count per window (zero for an empty window), on worker 0.
pub(crate) fn count_by_window<'s, T: Data>(
    s: TStream<'s, T>,
    b: &mut Builder<'s>,
    len: u64,
    slide: u64,
) -> TStream<'s, u64> {
    let partial = sliding(
        s,
        Pipeline,
        "count_by_window-partial",
        b,
        len,
        slide,
        || 0u64,
        |n: &mut u64, data: &mut Vec<T>| {
            *n += data.len() as u64;
            data.clear();
        },
        |kept, out| out.push(kept.iter().map(|(_, n)| *n).sum()),
    );
    per_time(
        partial,
        Exchange::new(|_: &u64| 0),
        "count_by_window",
        &b.env,
        EmitEmpty::Never,
        || 0u64,
        |n, data: &mut Vec<u64>| *n += data.drain(..).sum::<u64>(),
        |_t, n, out| out.push(n),
    )
}

/// `reduce_by_window`: the fold of every non-empty window, on worker 0.
pub(crate) fn reduce_by_window<'s, T: Data>(
    s: TStream<'s, T>,
    b: &mut Builder<'s>,
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
    let partial = sliding(
        s,
        Pipeline,
        "reduce_by_window-partial",
        b,
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
    );
    per_time(
        partial,
        Exchange::new(|_: &T| 0),
        "reduce_by_window",
        &b.env,
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

/// `reduce_by_key_and_window`: every window recomputed from the per-batch, per-key partials.
pub(crate) fn reduce_by_key_and_window<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    b: &mut Builder<'s>,
    f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    len: u64,
    slide: u64,
) -> TStream<'s, (K, V)> {
    let per_batch = combine_by_key(s, b, "reduce_by_key_and_window-batch", reduce_combiner(&f));
    sliding(
        per_batch,
        Pipeline,
        "reduce_by_key_and_window",
        b,
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
    )
}

/// A key's running value in an incremental window and the number of batches of the window in
/// which the key has values (the key leaves the window when that drops to zero).
struct Running<V> {
    value: Option<V>,
    batches: u32,
}

/// A filter applied to the output of an incremental window.
pub(crate) type KeepFn<K, V> = Arc<dyn Fn(&(K, V)) -> bool + Send + Sync>;

/// `reduce_by_key_and_window_inv`: keeps each key's running value; at every batch adds the
/// entering batch's partials with `f` and subtracts the leaving batch's partials with `inv`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce_by_key_and_window_inv<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    b: &mut Builder<'s>,
    f: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    inv: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    len: u64,
    slide: u64,
    keep: Option<KeepFn<K, V>>,
) -> TStream<'s, (K, V)> {
    let per_batch = combine_by_key(
        s,
        b,
        "reduce_by_key_and_window_inv-batch",
        reduce_combiner(&f),
    );
    let timing = Timing::new(&b.env, len, slide);
    let mut kept: VecDeque<(u64, Vec<(K, V)>)> = VecDeque::new();
    let mut running: FastMap<K, Running<V>> = FastMap::default();
    per_time(
        per_batch,
        Pipeline,
        "reduce_by_key_and_window_inv",
        &b.env,
        EmitEmpty::AllWorkers,
        Vec::new,
        |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
        move |t, batch, out| {
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
                for (k, r) in &running {
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

/// `group_by_key_and_window`: the values of each key in each window, oldest batch first.
pub(crate) fn group_by_key_and_window<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    b: &mut Builder<'s>,
    len: u64,
    slide: u64,
) -> TStream<'s, (K, Vec<V>)> {
    sliding(
        s,
        exchange_by_key::<K, V>(),
        "group_by_key_and_window",
        b,
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
    )
}

/// The last `n` records, emitted every `step` records.
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
    b: &mut Builder<'s>,
    n: usize,
    step: usize,
) -> TStream<'s, Vec<T>> {
    let tagged = tag_worker(s, b.env.index);
    let mut buffer = CountBuffer::new();
    per_time(
        tagged,
        Exchange::new(|_: &(usize, Vec<T>)| 0),
        "count_window",
        &b.env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(usize, Vec<T>)>, data| acc.append(data),
        move |_t, mut parts, out| {
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
    b: &mut Builder<'s>,
    n: usize,
    step: usize,
) -> TStream<'s, (K, Vec<V>)> {
    let index = b.env.index;
    // Keyed records keep their source worker so that each key's order is well defined.
    let tagged = narrow(
        s,
        "tag-worker",
        move |data: &mut Vec<(K, V)>, out: &mut Vec<(usize, K, V)>| {
            out.extend(data.drain(..).map(|(k, v)| (index, k, v)))
        },
    );
    let mut buffers: FastMap<K, CountBuffer<V>> = FastMap::default();
    per_time(
        tagged,
        Exchange::new(|x: &(usize, K, V)| route(&x.1)),
        "count_window_by_key",
        &b.env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(usize, K, V)>, data| acc.append(data),
        move |_t, mut recs, out| {
            // Stable: records of one source worker keep their order.
            recs.sort_by_key(|r| r.0);
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
