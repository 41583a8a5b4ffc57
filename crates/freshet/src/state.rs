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
//! batch or existing state, with the key's new values (empty if none) and its previous state
//! (and, in the `_with` form, the batch time and the key). Returning `None` removes the key.
//! The output stream's batch is `(key, state)` for every key with state after the batch.
//! [`UpdateStateSpec`] adds initial state and a partition count.
//!
//! # `map_with_state` (Spark's `mapWithState`)
//!
//! The function of a [`StateSpec`] is called for every record `(key, value)` with
//! `Some(value)` and the key's [`State`], which it may read, update or remove; what it returns
//! is the output stream's record ([`StateSpec::function_with`]: an `Option`, `None` emitting
//! nothing). Only keys with data are visited, except with a [timeout](StateSpec::timeout): a
//! key that receives no data for longer than the timeout (in batch time) gets one last call
//! with `None` and [`State::is_timing_out`] set, then is removed; updating or removing its
//! state in that call fails the job ([`Error::StateTimingOut`](crate::Error::StateTimingOut)).
//! [`MapWithStateStream::state_snapshots`] gives every key's state after every batch.
//!
//! # Partitions
//!
//! Keys are spread over the workers by hash. With a partition count `n`
//! ([`StateSpec::num_partitions`], [`UpdateStateSpec::num_partitions`]) they are spread over
//! the first `min(n, workers)` workers only, as Spark spreads them over `n` partitions (see
//! `docs/windows-and-state.md`). A count of 0 fails `start()`.
//!
//! See `docs/windows-and-state.md` for examples and figures.

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::ops::keyed::partitions_of;
pub use crate::ops::state::State;
use crate::ops::state::{self as st, MapOut};
use crate::time::BatchTime;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What [`DStream::map_with_state`] does: the function, the initial state, the timeout and
/// the partition count (Spark's `StateSpec`).
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
    partitions: Option<usize>,
}

impl<K, V, S, U> Clone for StateSpec<K, V, S, U> {
    fn clone(&self) -> Self {
        StateSpec {
            func: self.func.clone(),
            initial: self.initial.clone(),
            timeout: self.timeout,
            partitions: self.partitions,
        }
    }
}

impl<K: Key, V: Data, S: Data, U: Data> StateSpec<K, V, S, U> {
    /// A spec calling `f(key, value, state)` for every record (`value` is `None` only in the
    /// last call of a key that times out); every call emits what `f` returns (Spark's
    /// `StateSpec.function((K, Option[V], State[S]) => U)`).
    ///
    /// ```
    /// use freshet::{State, StateSpec};
    /// let spec = StateSpec::function(|k: &char, v: Option<u32>, st: &mut State<u32>| {
    ///     let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
    ///     if !st.is_timing_out() {
    ///         st.update(n);
    ///     }
    ///     (*k, n)
    /// });
    /// # let _ = spec;
    /// ```
    pub fn function<F>(f: F) -> Self
    where
        F: Fn(&K, Option<V>, &mut State<S>) -> U + Send + Sync + 'static,
    {
        Self::function_with(move |_t, k, v, st| Some(f(k, v, st)))
    }

    /// A spec calling `f(batch time, key, value, state)` for every record, which emits what
    /// `f` returns if it is `Some` and nothing for `None` (Spark's
    /// `StateSpec.function((Time, K, Option[V], State[S]) => Option[U])`). `value` is `None`
    /// only in the last call of a key that times out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{BatchTime, State, StateSpec, StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// // Emits a key's total only when it reaches 3 or more, with the batch time.
    /// let spec = StateSpec::function_with(
    ///     |t: BatchTime, k: &char, v: Option<u32>, st: &mut State<u32>| {
    ///         let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
    ///         st.update(n);
    ///         (n >= 3).then_some((t.millis() > 0, *k, n))
    ///     },
    /// );
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('b', 5)], vec![('a', 2)]])
    ///     .map_with_state(spec)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![(true, 'b', 5)], vec![(true, 'a', 3)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn function_with<F>(f: F) -> Self
    where
        F: Fn(BatchTime, &K, Option<V>, &mut State<S>) -> Option<U> + Send + Sync + 'static,
    {
        StateSpec {
            func: Arc::new(f),
            initial: Arc::new(Vec::new()),
            timeout: None,
            partitions: None,
        }
    }

    /// The state the keys start with (Spark's `initialState`).
    ///
    /// ```
    /// use freshet::{State, StateSpec};
    /// let spec = StateSpec::function(|_k: &char, v: Option<u32>, st: &mut State<u32>| v)
    ///     .initial_state(vec![('a', 10), ('b', 20)]);
    /// # let _ = spec;
    /// ```
    pub fn initial_state(mut self, initial: Vec<(K, S)>) -> Self {
        self.initial = Arc::new(initial);
        self
    }

    /// Removes a key that receives no data for longer than `timeout` of batch time, after one
    /// last call with [`State::is_timing_out`]. Keys are checked at every batch.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{State, StateSpec};
    /// let spec = StateSpec::function(|_k: &char, v: Option<u32>, _st: &mut State<u32>| v)
    ///     .timeout(Duration::from_secs(60));
    /// # let _ = spec;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Spreads the keys (their state, and the records the function emits) over `n` partitions
    /// (Spark's `numPartitions`). Partitions are workers: the keys go to the first
    /// `min(n, workers)` workers by hash, so `n` at least the worker count changes nothing and
    /// `num_partitions(1)` keeps every key on worker 0. `n == 0` fails `start()`.
    ///
    /// ```
    /// use freshet::{State, StateSpec};
    /// let spec = StateSpec::function(|_k: &char, v: Option<u32>, _st: &mut State<u32>| v)
    ///     .num_partitions(1);
    /// # let _ = spec;
    /// ```
    pub fn num_partitions(mut self, n: usize) -> Self {
        self.partitions = Some(n);
        self
    }
}

/// What [`DStream::update_state_by_key_spec`] does: the update function, the initial state
/// and the partition count (the arguments of Spark's `updateStateByKey` overloads).
///
/// ```
/// use std::time::Duration;
/// use freshet::{BatchTime, StreamingConfig, StreamingContext, UpdateStateSpec};
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
/// let spec = UpdateStateSpec::function_with(
///     |_t: BatchTime, _k: &char, new: Vec<u64>, old: Option<u64>| {
///         Some(old.unwrap_or(0) + new.iter().sum::<u64>())
///     },
/// )
/// .initial_state(vec![('a', 10)])
/// .num_partitions(1);
/// let out = ctx
///     .queue_stream(vec![vec![('a', 1), ('b', 2)]])
///     .update_state_by_key_spec(spec)
///     .collect_batches();
/// ctx.run_available_now()?;
/// assert_eq!(out.sorted_batches(), vec![vec![('a', 11), ('b', 2)]]);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct UpdateStateSpec<K, V, S> {
    func: st::UpdateFn<K, V, S>,
    initial: Arc<Vec<(K, S)>>,
    partitions: Option<usize>,
}

impl<K, V, S> Clone for UpdateStateSpec<K, V, S> {
    fn clone(&self) -> Self {
        UpdateStateSpec {
            func: self.func.clone(),
            initial: self.initial.clone(),
            partitions: self.partitions,
        }
    }
}

impl<K: Key, V: Data, S: Data> UpdateStateSpec<K, V, S> {
    /// A spec calling `f(new values, previous state)` for every key with new values or state
    /// at every batch (Spark's `(Seq[V], Option[S]) => Option[S]`); `None` removes the key.
    ///
    /// ```
    /// use freshet::UpdateStateSpec;
    /// let spec = UpdateStateSpec::<char, u64, u64>::function(|new, old| {
    ///     Some(old.unwrap_or(0) + new.len() as u64)
    /// });
    /// # let _ = spec;
    /// ```
    pub fn function<F>(f: F) -> Self
    where
        F: Fn(Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        Self::function_with(move |_t, _k, new, old| f(new, old))
    }

    /// A spec calling `f(batch time, key, new values, previous state)` for every key with new
    /// values or state at every batch (Spark's `(Time, K, Seq[V], Option[S]) => Option[S]`);
    /// `None` removes the key.
    ///
    /// ```
    /// use freshet::{BatchTime, UpdateStateSpec};
    /// // The batch time of each key's first value.
    /// let spec = UpdateStateSpec::function_with(
    ///     |t: BatchTime, _k: &String, _new: Vec<u8>, first: Option<BatchTime>| Some(first.unwrap_or(t)),
    /// );
    /// # let _ = spec;
    /// ```
    pub fn function_with<F>(f: F) -> Self
    where
        F: Fn(BatchTime, &K, Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        UpdateStateSpec {
            func: Arc::new(f),
            initial: Arc::new(Vec::new()),
            partitions: None,
        }
    }

    /// The state the keys of `initial` start with (Spark's `initialRDD`): they are visited from
    /// the first batch on, like keys with state.
    ///
    /// ```
    /// use freshet::UpdateStateSpec;
    /// let spec = UpdateStateSpec::function(|new: Vec<u64>, old: Option<u64>| {
    ///     Some(old.unwrap_or(0) + new.len() as u64)
    /// })
    /// .initial_state(vec![('a', 10)]);
    /// # let _ = spec;
    /// ```
    pub fn initial_state(mut self, initial: Vec<(K, S)>) -> Self {
        self.initial = Arc::new(initial);
        self
    }

    /// Spreads the keys over `n` partitions (Spark's `numPartitions`): the first
    /// `min(n, workers)` workers by hash, so `n` at least the worker count changes nothing and
    /// `num_partitions(1)` keeps every key on worker 0. `n == 0` fails `start()`.
    ///
    /// ```
    /// use freshet::UpdateStateSpec;
    /// let spec = UpdateStateSpec::function(|new: Vec<u64>, old: Option<u64>| {
    ///     Some(old.unwrap_or(0) + new.len() as u64)
    /// })
    /// .num_partitions(4);
    /// # let _: UpdateStateSpec<char, u64, u64> = spec;
    /// ```
    pub fn num_partitions(mut self, n: usize) -> Self {
        self.partitions = Some(n);
        self
    }
}

/// The output of [`DStream::map_with_state`]: a stream of the function's results (it derefs to
/// that [`DStream`]), plus [`state_snapshots`](Self::state_snapshots).
///
/// ```
/// use std::time::Duration;
/// use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
/// let spec = StateSpec::function(|_k: &char, v: Option<u32>, st: &mut State<u32>| {
///     st.update(v.unwrap_or(0));
///     v
/// });
/// let m = ctx.queue_stream(vec![vec![('a', 1)]]).map_with_state(spec);
/// let (values, states) = (m.collect_batches(), m.state_snapshots().collect_batches());
/// ctx.run_available_now()?;
/// assert_eq!(values.sorted_batches(), vec![vec![Some(1)]]);
/// assert_eq!(states.sorted_batches(), vec![vec![('a', 1)]]);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct MapWithStateStream<U, K, S> {
    values: DStream<U>,
    snapshots: DStream<(K, S)>,
    wanted: Arc<AtomicBool>,
}

impl<U: Data, K: Key, S: Data> MapWithStateStream<U, K, S> {
    /// The stream of the function's results.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let spec = StateSpec::function(|_k: &char, v: Option<u32>, _st: &mut State<u32>| v);
    /// let values = ctx.queue_stream(vec![vec![('a', 1)]]).map_with_state(spec).values();
    /// # let _ = values;
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn values(&self) -> DStream<U> {
        self.values.clone()
    }

    /// Every key's state after every batch (Spark's `stateSnapshots`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let spec = StateSpec::function(|_k: &char, v: Option<u32>, st: &mut State<u32>| {
    ///     st.update(v.unwrap_or(0));
    /// });
    /// let states = ctx.queue_stream(vec![vec![('a', 1)]]).map_with_state(spec).state_snapshots();
    /// # let _ = states;
    /// # Ok::<(), freshet::Error>(())
    /// ```
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

/// Records a partition count of 0 as a mistake that `start()` reports.
pub(crate) fn check_partitions<T>(s: &DStream<T>, operator: &str, n: Option<usize>) {
    if n == Some(0) {
        s.ctx.problem(format!(
            "`{operator}` was given 0 partitions: a partition count must be at least 1"
        ));
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
        self.update_state_by_key_spec(UpdateStateSpec::function(f))
    }

    /// [`update_state_by_key`](Self::update_state_by_key) with the keys of `initial` starting
    /// with that state (Spark's `updateStateByKey(f, partitioner, initialRDD)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let counts = ctx
    ///     .queue_stream(vec![vec![('a', 1u64)]])
    ///     .update_state_by_key_with_initial(
    ///         |new: Vec<u64>, old: Option<u64>| Some(old.unwrap_or(0) + new.iter().sum::<u64>()),
    ///         vec![('a', 10), ('z', 5)],
    ///     )
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(counts.sorted_batches(), vec![vec![('a', 11), ('z', 5)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn update_state_by_key_with_initial<S, F>(
        &self,
        f: F,
        initial: Vec<(K, S)>,
    ) -> DStream<(K, S)>
    where
        S: Data,
        F: Fn(Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        self.update_state_by_key_spec(UpdateStateSpec::function(f).initial_state(initial))
    }

    /// [`update_state_by_key`](Self::update_state_by_key) whose function also receives the
    /// batch time and the key: `f(time, key, new values, previous state)` (Spark's
    /// `updateStateByKey((Time, K, Seq[V], Option[S]) => Option[S], ...)`). For initial state
    /// or a partition count, use [`UpdateStateSpec::function_with`] with
    /// [`update_state_by_key_spec`](Self::update_state_by_key_spec).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{BatchTime, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// // Per key: its name's length and the number of batches with values, dropped after 2.
    /// let out = ctx
    ///     .queue_stream(vec![vec![("ab".to_string(), 1u8)], vec![("ab".to_string(), 1)], vec![]])
    ///     .update_state_by_key_with(
    ///         |_t: BatchTime, k: &String, new: Vec<u8>, old: Option<(usize, u32)>| {
    ///             let (len, n) = old.unwrap_or((k.len(), 0));
    ///             let n = n + u32::from(!new.is_empty());
    ///             (n < 2).then_some((len, n))
    ///         },
    ///     )
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("ab".to_string(), (2, 1))], vec![], vec![]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn update_state_by_key_with<S, F>(&self, f: F) -> DStream<(K, S)>
    where
        S: Data,
        F: Fn(BatchTime, &K, Vec<V>, Option<S>) -> Option<S> + Send + Sync + 'static,
    {
        self.update_state_by_key_spec(UpdateStateSpec::function_with(f))
    }

    /// [`update_state_by_key`](Self::update_state_by_key) as `spec` says: its function (with
    /// or without the batch time and key), initial state and partition count. Every Spark
    /// `updateStateByKey` overload maps to one spec (a `Partitioner` to a partition count).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext, UpdateStateSpec};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(4))?;
    /// // Spark: updateStateByKey(f, 2)
    /// let spec = UpdateStateSpec::function(|new: Vec<u64>, old: Option<u64>| {
    ///     Some(old.unwrap_or(0) + new.iter().sum::<u64>())
    /// })
    /// .num_partitions(2);
    /// let parts = ctx
    ///     .queue_stream(vec![(0..100u64).map(|k| (k, 1u64)).collect::<Vec<_>>()])
    ///     .update_state_by_key_spec(spec)
    ///     .glom()
    ///     .map(|p| !p.is_empty())
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// // One partition per worker, of which only two hold keys.
    /// assert_eq!(parts.sorted_batches(), vec![vec![false, false, true, true]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn update_state_by_key_spec<S: Data>(
        &self,
        spec: UpdateStateSpec<K, V, S>,
    ) -> DStream<(K, S)> {
        check_partitions(self, "update_state_by_key", spec.partitions);
        let UpdateStateSpec {
            func,
            initial,
            partitions,
        } = spec;
        self.wrap(self.plan.derive("update_state_by_key", move |s, b| {
            let parts = partitions_of(partitions, b.env.peers);
            st::update_state_by_key(s, &b.env, func.clone(), initial.clone(), parts)
        }))
    }

    /// Calls the spec's function for every record with the key's [`State`] (Spark's
    /// `mapWithState`); see the [module docs](crate::state).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let spec = StateSpec::function(|k: &char, v: Option<u32>, st: &mut State<u32>| {
    ///     let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
    ///     st.update(n);
    ///     (*k, n)
    /// });
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('a', 2)]])
    ///     .map_with_state(spec)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', 1), ('a', 3)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn map_with_state<S, U>(&self, spec: StateSpec<K, V, S, U>) -> MapWithStateStream<U, K, S>
    where
        S: Data,
        U: Data,
    {
        check_partitions(self, "map_with_state", spec.partitions);
        let wanted = Arc::new(AtomicBool::new(false));
        let want = wanted.clone();
        let both = self.wrap(self.plan.derive("map_with_state", move |s, b| {
            st::map_with_state(
                s,
                &b.env,
                st::MapWithState {
                    func: spec.func.clone(),
                    initial: spec.initial.clone(),
                    timeout: spec.timeout,
                    parts: partitions_of(spec.partitions, b.env.peers),
                    snapshots: want.load(Ordering::SeqCst),
                },
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
