//! Keyed state across batches: [`DStream::update_state_by_key`] and [`DStream::map_with_state`].
//!
//! # Placement
//!
//! State is hash-partitioned by key: records are routed to the worker that owns their key, and
//! each worker keeps its keys' state in one hash map, each key stored once with its state (and,
//! for timeouts, the batch time of its last data). The per-worker store lists its entries as
//! `(key, state, last data time)` for snapshots and loads them back on restore; keys and states
//! are [`Data`], so serde can write them.
//!
//! A key's records are handled in arrival order: batch after batch; within a batch, those read
//! by worker 0 first, then worker 1's, and so on, each worker's in the order it read them.
//!
//! # `update_state_by_key` (Spark's `updateStateByKey`)
//!
//! At every batch, the update function is called once for every key that has new values in the
//! batch or existing state, with the key's new values (empty if none) and its previous state.
//! Returning `None` removes the key. The output stream's batch is `(key, state)` for every key
//! with state after the batch.
//!
//! # `map_with_state` (Spark's `mapWithState`)
//!
//! The function of a [`StateSpec`] is called for every record `(key, value)` with
//! `Some(value)` and the key's [`State`], which it may read, update or remove; what it returns
//! is the output stream's record. Only keys with data are visited, except with a
//! [timeout](StateSpec::timeout): a key that receives no data for longer than the timeout (in
//! batch time) gets one last call with `None` and [`State::is_timing_out`] set, then is removed.
//! [`MapWithStateStream::state_snapshots`] gives every key's state after every batch.
//!
//! See `docs/windows-and-state.md` for examples and figures.

use crate::data::{Data, Key};
use crate::dstream::DStream;
pub use crate::ops::state::State;
use crate::ops::state::{self as st, MapOut};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What [`DStream::map_with_state`] does: the function, the initial state and the timeout.
///
/// ```
/// use std::time::Duration;
/// use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
///
/// let ms = Duration::from_millis;
/// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
/// // A running total per key, starting from 100 for "a".
/// let spec = StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
///     let total = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
///     st.update(total);
///     (k.clone(), total)
/// })
/// .initial_state(vec![("a".to_string(), 100)]);
/// let totals = ctx
///     .queue_stream(vec![vec![("a".to_string(), 1)], vec![("a".to_string(), 2)]])
///     .map_with_state(spec);
/// let out = totals.collect_batches();
/// ctx.run_available_now()?;
/// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 101)], vec![("a".to_string(), 103)]]);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct StateSpec<K, V, S, U> {
    func: st::MapFn<K, V, S, U>,
    initial: Arc<Vec<(K, S)>>,
    timeout: Option<Duration>,
}

impl<K, V, S, U> Clone for StateSpec<K, V, S, U> {
    fn clone(&self) -> Self {
        StateSpec {
            func: self.func.clone(),
            initial: self.initial.clone(),
            timeout: self.timeout,
        }
    }
}

impl<K: Key, V: Data, S: Data, U: Data> StateSpec<K, V, S, U> {
    /// A spec calling `f(key, value, state)` for every record (`value` is `None` only in the
    /// last call of a key that times out).
    pub fn function<F>(f: F) -> Self
    where
        F: Fn(&K, Option<V>, &mut State<S>) -> U + Send + Sync + 'static,
    {
        StateSpec {
            func: Arc::new(f),
            initial: Arc::new(Vec::new()),
            timeout: None,
        }
    }

    /// The state the keys start with.
    pub fn initial_state(mut self, initial: Vec<(K, S)>) -> Self {
        self.initial = Arc::new(initial);
        self
    }

    /// Removes a key that receives no data for longer than `timeout` of batch time, after one
    /// last call with [`State::is_timing_out`]. Keys are checked at every batch.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The output of [`DStream::map_with_state`]: a stream of the function's results (it derefs to
/// that [`DStream`]), plus [`state_snapshots`](Self::state_snapshots).
pub struct MapWithStateStream<U, K, S> {
    values: DStream<U>,
    snapshots: DStream<(K, S)>,
    wanted: Arc<AtomicBool>,
}

impl<U: Data, K: Key, S: Data> MapWithStateStream<U, K, S> {
    /// The stream of the function's results.
    pub fn values(&self) -> DStream<U> {
        self.values.clone()
    }

    /// Every key's state after every batch (Spark's `stateSnapshots`).
    pub fn state_snapshots(&self) -> DStream<(K, S)> {
        self.wanted.store(true, Ordering::SeqCst);
        self.snapshots.clone()
    }
}

impl<U, K, S> Deref for MapWithStateStream<U, K, S> {
    type Target = DStream<U>;

    fn deref(&self) -> &DStream<U> {
        &self.values
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Keeps a state per key across batches (Spark's `updateStateByKey`): at every batch,
    /// `f(new values, previous state)` is called for every key with new values or state;
    /// returning `None` removes the key. Every batch of the result is `(key, state)` for every
    /// key that has state.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let counts = ctx
    ///     .queue_stream(vec![vec![('a', 1u64), ('b', 1)], vec![('a', 1)]])
    ///     .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
    ///         Some(old.unwrap_or(0) + new.iter().sum::<u64>())
    ///     })
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(counts.sorted_batches(), vec![vec![('a', 1), ('b', 1)], vec![('a', 2), ('b', 1)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn update_state_by_key<S, F>(&self, f: F) -> DStream<(K, S)>
    where
        S: Data,
        F: Fn(Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        self.update_state_by_key_with_initial(f, Vec::new())
    }

    /// [`update_state_by_key`](Self::update_state_by_key) with the keys of `initial` starting
    /// with that state.
    pub fn update_state_by_key_with_initial<S, F>(
        &self,
        f: F,
        initial: Vec<(K, S)>,
    ) -> DStream<(K, S)>
    where
        S: Data,
        F: Fn(Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        let f: st::UpdateFn<V, S> = Arc::new(f);
        let initial = Arc::new(initial);
        self.wrap(self.plan.derive("update_state_by_key", move |s, b| {
            st::update_state_by_key(s, &b.env, f.clone(), initial.clone())
        }))
    }

    /// Calls the spec's function for every record with the key's [`State`] (Spark's
    /// `mapWithState`); see the [module docs](crate::state).
    pub fn map_with_state<S, U>(&self, spec: StateSpec<K, V, S, U>) -> MapWithStateStream<U, K, S>
    where
        S: Data,
        U: Data,
    {
        let wanted = Arc::new(AtomicBool::new(false));
        let want = wanted.clone();
        let both = self.wrap(self.plan.derive("map_with_state", move |s, b| {
            st::map_with_state(
                s,
                &b.env,
                spec.func.clone(),
                spec.initial.clone(),
                spec.timeout,
                want.load(Ordering::SeqCst),
            )
        }));
        let values = both.flat_map(|o: MapOut<U, K, S>| match o {
            MapOut::Value(u) => Some(u),
            MapOut::Snapshot(..) => None,
        });
        let snapshots = both.flat_map(|o: MapOut<U, K, S>| match o {
            MapOut::Snapshot(k, s) => Some((k, s)),
            MapOut::Value(_) => None,
        });
        MapWithStateStream {
            values,
            snapshots,
            wanted,
        }
    }
}
