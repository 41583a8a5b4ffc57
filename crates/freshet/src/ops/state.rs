//! Keyed state across batches: `update_state_by_key` and `map_with_state`.
//!
//! Records are routed to the worker that owns their key; each worker keeps the state of its keys
//! in a [`StateStore`] and updates it when the frontier passes a batch (every worker finishes
//! every batch, so keys without new values are visited too).

use super::narrow::narrow;
use super::{per_time, route, EmitEmpty, FastMap};
use crate::data::{Data, Key};
use crate::durability::{decode_state, encode_state};
use crate::error::Error;
use crate::plan::{TStream, WorkerEnv};
use crate::time::BatchTime;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use timely::dataflow::channels::pact::Exchange;

/// The state of one key, handed to the function of a [`StateSpec`](crate::StateSpec).
///
/// ```
/// use freshet::{State, StateSpec};
/// // Counts a key's records; emits the count when the key times out.
/// let spec = StateSpec::function_with(|_t, k: &String, v: Option<u64>, st: &mut State<u64>| {
///     if st.is_timing_out() {
///         return Some((k.clone(), st.get().copied().unwrap_or(0))); // no update here
///     }
///     st.update(st.get().copied().unwrap_or(0) + v.map_or(0, |_| 1));
///     None
/// });
/// # let _ = spec;
/// ```
#[derive(Debug)]
pub struct State<S> {
    value: Option<S>,
    timing_out: bool,
    /// What the function tried on a timing-out key (`"update"` or `"remove"`), if anything.
    misuse: Option<&'static str>,
}

impl<S> State<S> {
    pub(crate) fn new(value: Option<S>, timing_out: bool) -> Self {
        State {
            value,
            timing_out,
            misuse: None,
        }
    }

    /// What the function tried on a timing-out key, if it tried to change its state.
    pub(crate) fn misuse(&self) -> Option<&'static str> {
        self.misuse
    }

    pub(crate) fn into_inner(self) -> Option<S> {
        if self.timing_out {
            None
        } else {
            self.value
        }
    }

    /// Whether the key has state.
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The key's state, if any.
    pub fn get(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// Sets the key's state.
    ///
    /// Not allowed in a key's timeout call ([`is_timing_out`](Self::is_timing_out)), where the
    /// key is removed whatever the function does: the update is not applied, and the job fails
    /// with [`Error::Operator`](crate::Error::Operator) naming the operator around
    /// [`Error::StateTimingOut`](crate::Error::StateTimingOut) (Spark throws "Cannot update the
    /// state that is timing out").
    pub fn update(&mut self, value: S) {
        if self.timing_out {
            self.misuse.get_or_insert("update");
            return;
        }
        self.value = Some(value);
    }

    /// Removes the key's state.
    ///
    /// Not allowed in a key's timeout call, like [`update`](Self::update) (Spark: "Cannot
    /// remove the state that is timing out"); the key is removed after that call anyway.
    pub fn remove(&mut self) {
        if self.timing_out {
            self.misuse.get_or_insert("remove");
            return;
        }
        self.value = None;
    }

    /// Whether this call is the last one for a key that received no data for longer than the
    /// spec's timeout (the value is then `None`).
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }
}

/// The shape both keyed-state operators share: records are routed to their key's owner, and
/// when the frontier passes a batch, `update` runs with the batch's records (by source worker,
/// in arrival order) and this worker's state store, which is checkpointed and whose size is
/// reported after every batch.
fn keyed_state<'s, K, V, S, U, F>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    name: &str,
    initial: &[(K, S)],
    parts: usize,
    mut update: F,
) -> TStream<'s, U>
where
    K: Key,
    V: Data,
    S: Data,
    U: Data,
    F: FnMut(u64, BySource<K, V>, &mut StateStore<K, S>, &mut Vec<U>) + 'static,
{
    let store = Rc::new(RefCell::new(StateStore::initial(
        initial,
        env.index,
        parts,
        env.first_time,
    )));
    checkpointed(env, &store, parts);
    let sizes = StateSizes::new(env);
    let peers = env.peers;
    per_time(
        tag_source(s, env.index),
        exchange_tagged::<K, V>(parts),
        name,
        env,
        EmitEmpty::AllWorkers,
        move || BySource::new(peers),
        |acc, data| acc.add(data),
        move |t, batch, out| {
            let mut store = store.borrow_mut();
            update(t, batch, &mut store, out);
            sizes.record(store.map.len());
        },
    )
}

/// Reports how many keys this worker's part of a stateful operator holds.
struct StateSizes {
    node: u64,
    worker: usize,
    shared: std::sync::Arc<crate::run::Shared>,
}

impl StateSizes {
    fn new(env: &Rc<WorkerEnv>) -> Self {
        StateSizes {
            node: env.current_node(),
            worker: env.index,
            shared: env.shared.clone(),
        }
    }

    fn record(&self, keys: usize) {
        self.shared
            .metrics
            .set_state_size(self.node, self.worker, keys as u64);
    }
}

/// Registers `store` for checkpoints and, when the run recovers from one, replaces its
/// contents with the checkpointed entries this worker owns among the first `owners` workers
/// (whatever the old worker or partition count).
fn checkpointed<K: Key, S: Data>(
    env: &Rc<WorkerEnv>,
    store: &Rc<RefCell<StateStore<K, S>>>,
    owners: usize,
) {
    let snapshot = Rc::clone(store);
    let parts = env.register_state(Rc::new(move || encode_state(&snapshot.borrow().snapshot())));
    if parts.is_empty() {
        return;
    }
    let (index, peers) = (env.index, owners);
    let mut restored = StateStore::new();
    for part in parts {
        match decode_state::<Vec<(K, S, u64)>>(&part) {
            Ok(entries) => restored.restore(
                entries
                    .into_iter()
                    .filter(|(k, _, _)| owner(k, peers) == index),
            ),
            Err(e) => {
                env.shared.fail(env.operator_error(e));
                return;
            }
        }
    }
    *store.borrow_mut() = restored;
}

/// The worker that owns `key` among `peers` (the same choice as `exchange_by_key`).
pub(crate) fn owner<K: Key>(key: &K, peers: usize) -> usize {
    (route(key) % peers as u64) as usize
}

/// One worker's keyed state: each key once, with its state and the batch time of its last data.
///
/// This is the unit the checkpoint work snapshots and restores: [`snapshot`](Self::snapshot)
/// lists the entries (`K` and `S` are serde types), [`restore`](Self::restore) loads them.
pub(crate) struct StateStore<K, S> {
    /// `None` only transiently, while an update function owns the state.
    map: FastMap<K, Entry<S>>,
}

/// A key's state in a [`StateStore`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry<S> {
    /// The state (`None` only while an update function holds it).
    pub state: Option<S>,
    /// The batch time at which the key last received data (the first batch time for initial
    /// state).
    pub seen: u64,
}

impl<K: Key, S: Data> StateStore<K, S> {
    /// An empty store.
    pub fn new() -> Self {
        StateStore {
            map: FastMap::default(),
        }
    }

    /// A store holding the entries of `initial` that `worker` owns (keys are spread over the
    /// first `peers` workers), as if they had received data at batch time `seen`.
    pub fn initial(initial: &[(K, S)], worker: usize, peers: usize, seen: u64) -> Self {
        let mut st = StateStore::new();
        st.restore(
            initial
                .iter()
                .filter(|(k, _)| owner(k, peers) == worker)
                .map(|(k, s)| (k.clone(), s.clone(), seen)),
        );
        st
    }

    /// Every entry: key, state, batch time of the key's last data.
    // Used by checkpoints (the durability work) and the tests below.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn snapshot(&self) -> Vec<(K, S, u64)> {
        self.map
            .iter()
            .filter_map(|(k, e)| e.state.clone().map(|s| (k.clone(), s, e.seen)))
            .collect()
    }

    /// Loads entries (as [`snapshot`](Self::snapshot) lists them), replacing those with the
    /// same key.
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (K, S, u64)>) {
        for (k, s, seen) in entries {
            self.map.insert(
                k,
                Entry {
                    state: Some(s),
                    seen,
                },
            );
        }
    }

    /// Writes `(key, state)` for every key.
    pub fn emit(&self, out: &mut Vec<(K, S)>) {
        out.reserve(self.map.len());
        for (k, e) in &self.map {
            if let Some(s) = &e.state {
                out.push((k.clone(), s.clone()));
            }
        }
    }
}

/// Tags every record with the worker that read it, for [`BySource`].
fn tag_source<'s, K: Key, V: Data>(
    s: TStream<'s, (K, V)>,
    index: usize,
) -> TStream<'s, (u32, K, V)> {
    let index = index as u32;
    narrow(
        s,
        "tag-source",
        move |data: &mut Vec<(K, V)>, out: &mut Vec<(u32, K, V)>| {
            out.extend(data.drain(..).map(|(k, v)| (index, k, v)))
        },
    )
}

/// A record tagged with the worker that read it.
type Tagged<K, V> = (u32, K, V);

/// Routes tagged records to their key's owner among the first `parts` workers.
fn exchange_tagged<K: Key, V: Data>(
    parts: usize,
) -> Exchange<Tagged<K, V>, impl FnMut(&Tagged<K, V>) -> u64> {
    let parts = parts.max(1) as u64;
    Exchange::new(move |x: &(u32, K, V)| route(&x.1) % parts)
}

/// One batch's records on a key's owner, in arrival order: by source worker, then in the order
/// that worker read them (timely keeps the order of one sender's messages). So the order does
/// not depend on how the workers' messages interleave.
struct BySource<K, V> {
    buckets: Vec<Vec<(K, V)>>,
}

impl<K, V> BySource<K, V> {
    fn new(peers: usize) -> Self {
        BySource {
            buckets: (0..peers).map(|_| Vec::new()).collect(),
        }
    }

    fn add(&mut self, data: &mut Vec<(u32, K, V)>) {
        for (w, k, v) in data.drain(..) {
            self.buckets[w as usize].push((k, v));
        }
    }

    fn into_ordered(self) -> impl Iterator<Item = (K, V)> {
        self.buckets.into_iter().flatten()
    }
}

/// The function of `update_state_by_key`: `f(batch time, key, new values, old state)`.
pub(crate) type UpdateFn<K, V, S> =
    Arc<dyn Fn(BatchTime, &K, Vec<V>, Option<S>) -> Option<S> + Send + Sync>;

/// `update_state_by_key`: `f(time, key, new values, old state)` for every key with new values
/// or state; `None` removes the key. Every batch writes `(key, state)` for every key. A key's
/// new values are in arrival order (see [`BySource`]). Keys are owned by the first `parts`
/// workers.
pub(crate) fn update_state_by_key<'s, K: Key, V: Data, S: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    f: UpdateFn<K, V, S>,
    initial: Arc<Vec<(K, S)>>,
    parts: usize,
) -> TStream<'s, (K, S)> {
    keyed_state(
        s,
        env,
        "update_state_by_key",
        &initial,
        parts,
        move |t, batch, store: &mut StateStore<K, S>, out| {
            let time = BatchTime(t);
            let mut new: FastMap<K, Vec<V>> = FastMap::default();
            for (k, v) in batch.into_ordered() {
                match new.get_mut(&k) {
                    Some(vs) => vs.push(v),
                    None => {
                        new.insert(k, vec![v]);
                    }
                }
            }
            store.map.retain(|k, e| {
                let values = match new.remove(k) {
                    Some(vs) => {
                        e.seen = t;
                        vs
                    }
                    None => Vec::new(),
                };
                e.state = f(time, k, values, e.state.take());
                e.state.is_some()
            });
            for (k, vs) in new {
                if let Some(s) = f(time, &k, vs, None) {
                    store.map.insert(
                        k,
                        Entry {
                            state: Some(s),
                            seen: t,
                        },
                    );
                }
            }
            store.emit(out);
        },
    )
}

/// What the `map_with_state` operator writes: the function's outputs and, when asked for, the
/// state snapshot of every batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum MapOut<U, K, S> {
    /// A value returned by the function.
    Value(U),
    /// One key's state after the batch.
    Snapshot(K, S),
}

/// The function of `map_with_state`: `f(batch time, key, value, state)`; `None` emits nothing.
pub(crate) type MapFn<K, V, S, U> =
    Arc<dyn Fn(BatchTime, &K, Option<V>, &mut State<S>) -> Option<U> + Send + Sync>;

/// How `map_with_state` runs: its function, initial state, timeout, and partitions.
pub(crate) struct MapWithState<K, V, S, U> {
    pub func: MapFn<K, V, S, U>,
    pub initial: Arc<Vec<(K, S)>>,
    pub timeout: Option<Duration>,
    /// The number of workers owning keys (from [`partitions_of`](super::keyed::partitions_of)).
    pub parts: usize,
    /// Whether to write the state snapshot of every batch.
    pub snapshots: bool,
}

/// `map_with_state`: `f(time, key, Some(value), state)` for every record in arrival order (see
/// [`BySource`]), and `f(time, key, None, state)` once for a key that times out, after which it
/// is removed. A timeout call that updates or removes the state fails the run with
/// [`Error::StateTimingOut`] (and the batch writes nothing more on this worker).
pub(crate) fn map_with_state<'s, K: Key, V: Data, S: Data, U: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    how: MapWithState<K, V, S, U>,
) -> TStream<'s, MapOut<U, K, S>> {
    let MapWithState {
        func: f,
        initial,
        timeout,
        parts,
        snapshots,
    } = how;
    // A timeout longer than the clock can count never fires.
    let timeout = timeout.map(crate::time::millis);
    let mut snap: Vec<(K, S)> = Vec::new();
    let operator = env.operator_name();
    let shared = Arc::clone(&env.shared);
    keyed_state(
        s,
        env,
        "map_with_state",
        &initial,
        parts,
        move |t, records, store: &mut StateStore<K, S>, out| {
            let time = BatchTime(t);
            for (k, v) in records.into_ordered() {
                let mut entry = store.map.get_mut(&k);
                let mut state = State::new(entry.as_mut().and_then(|e| e.state.take()), false);
                if let Some(u) = f(time, &k, Some(v), &mut state) {
                    out.push(MapOut::Value(u));
                }
                match (state.into_inner(), entry) {
                    (Some(s), Some(e)) => {
                        e.state = Some(s);
                        e.seen = t;
                    }
                    (Some(s), None) => {
                        store.map.insert(
                            k,
                            Entry {
                                state: Some(s),
                                seen: t,
                            },
                        );
                    }
                    (None, Some(_)) => {
                        store.map.remove(&k);
                    }
                    (None, None) => {}
                }
            }
            if let Some(limit) = timeout {
                let expired: Vec<K> = store
                    .map
                    .iter()
                    .filter(|(_, e)| t.saturating_sub(e.seen) > limit)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in expired {
                    if let Some(e) = store.map.remove(&k) {
                        let mut state = State::new(e.state, true);
                        let u = f(time, &k, None, &mut state);
                        if let Some(action) = state.misuse() {
                            shared.fail(Error::Operator {
                                operator: operator.clone(),
                                error: Box::new(Error::StateTimingOut { action, time }),
                            });
                            out.clear();
                            return;
                        }
                        out.extend(u.map(MapOut::Value));
                    }
                }
            }
            if snapshots {
                store.emit(&mut snap);
                out.extend(snap.drain(..).map(|(k, s)| MapOut::Snapshot(k, s)));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_restore_round_trip_and_initial_partitioning() {
        let initial: Vec<(u32, String)> = (0..100).map(|k| (k, format!("s{k}"))).collect();
        let parts: Vec<StateStore<u32, String>> = (0..4)
            .map(|w| StateStore::initial(&initial, w, 4, 7))
            .collect();
        let mut all: Vec<(u32, String, u64)> = parts.iter().flat_map(|p| p.snapshot()).collect();
        all.sort();
        assert_eq!(all.len(), 100);
        assert!(all
            .iter()
            .all(|(k, s, seen)| *s == format!("s{k}") && *seen == 7));
        let mut copy = StateStore::new();
        copy.restore(parts[1].snapshot());
        let mut a = copy.snapshot();
        let mut b = parts[1].snapshot();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}
