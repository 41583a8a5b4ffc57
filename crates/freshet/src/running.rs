//! Running aggregates: totals per key since the start of the stream, emitted for the keys that
//! changed in each batch (Structured Streaming's *update* output mode).
//!
//! `reduce_by_key` gives each batch's totals; `update_state_by_key` keeps totals since the
//! start but emits every key at every batch (the *complete* mode), which a sink then rewrites
//! whole. `running_reduce_by_key` keeps the same totals, checkpointed like any state, and emits
//! only `(key, new total)` for the keys of the batch: a sink that upserts by key (a database
//! table, a key-value store) then holds the complete totals.

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::state::{State, StateSpec};
use std::sync::Arc;

impl<K: Key, V: Data> DStream<(K, V)> {
    /// The running total of each key since the start, folded with `f` (associative and
    /// commutative), emitted for the keys that have values in the batch: `(key, total)`. The
    /// totals are state: checkpointed, restored on recovery, and shown in the UI's state keys.
    ///
    /// ```
    /// use freshet::testing::run_operation;
    /// use freshet::DStream;
    ///
    /// let out = run_operation(
    ///     vec![vec![('a', 1), ('b', 1), ('a', 1)], vec![('b', 5)], vec![]],
    ///     2,
    ///     |s: DStream<(char, u64)>| s.running_reduce_by_key(|a, b| a + b),
    /// )?;
    /// assert_eq!(out.sorted(), vec![vec![('a', 2), ('b', 1)], vec![('b', 6)], vec![]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn running_reduce_by_key<F>(&self, f: F) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let fold = Arc::clone(&f);
        let spec = StateSpec::function_with(
            move |_time, key: &K, value: Option<V>, state: &mut State<V>| {
                // No timeout is set, so every call carries the key's value of this batch.
                let value = value?;
                let total = match state.get() {
                    Some(old) => fold(old.clone(), value),
                    None => value,
                };
                state.update(total.clone());
                Some((key.clone(), total))
            },
        );
        self.reduce_by_key(move |a, b| f(a, b))
            .map_with_state(spec)
            .values()
    }
}

impl<K: Key> DStream<K> {
    /// The running count of each record since the start, emitted for the records of the batch:
    /// `(record, count)` (a running `count_by_value`).
    ///
    /// ```
    /// use freshet::testing::run_operation;
    /// use freshet::DStream;
    ///
    /// let out = run_operation(vec![vec!['x', 'y', 'x'], vec!['x']], 1, |s: DStream<char>| {
    ///     s.running_count_by_value()
    /// })?;
    /// assert_eq!(out.sorted(), vec![vec![('x', 2), ('y', 1)], vec![('x', 3)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn running_count_by_value(&self) -> DStream<(K, u64)> {
        self.map(|k| (k, 1u64)).running_reduce_by_key(|a, b| a + b)
    }
}
