//! Keyed aggregations with a partition count: Spark's `reduceByKey(f, numPartitions)`,
//! `groupByKey(numPartitions)` and `combineByKey(..., numPartitions)`.
//!
//! Partitions are workers (see `docs/semantics.md`): a keyed operator routes each key to the
//! worker that owns it. With a partition count `n`, the keys are owned by the first
//! `min(n, workers)` workers only (`hash(key) % n`), so the result has exactly that many
//! non-empty partitions at most, and the others are empty:
//!
//! - on a [`DStream`], whose worker count is the context's, `n` bounds the parallelism of the
//!   keyed step; `n` at least the worker count changes nothing, and `n == 1` gathers every key
//!   on worker 0 (one output file per batch, for example). A count of 0 fails `start()`.
//! - on a [`Dataset`], `n` is also the dataset's partition count, as for
//!   [`repartition`](Dataset::repartition): a batch job over the result runs on `n` workers (at
//!   most [`MAX_BATCH_WORKERS`](crate::MAX_BATCH_WORKERS)) and each holds the keys of one
//!   partition. A count of 0 counts as 1, as for `repartition`.
//!
//! The windowed and stateful forms are [`DStream::reduce_by_key_and_window_with_partitions`],
//! [`DStream::group_by_key_and_window_with_partitions`],
//! [`UpdateStateSpec::num_partitions`](crate::UpdateStateSpec::num_partitions) and
//! [`StateSpec::num_partitions`](crate::StateSpec::num_partitions).

use crate::data::{Data, Key};
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::ops::keyed::{self, partitions_of, Combiner};
use crate::plan::{Lineage, Plan};
use crate::state::check_partitions;
use std::sync::Arc;

/// The plan of `combine_by_key` over `n` partitions, named `name`.
fn combined<K: Key, V: Data, C: Data>(
    plan: &Plan<(K, V)>,
    name: &'static str,
    c: Combiner<V, C>,
    n: usize,
) -> Plan<(K, C)> {
    let lineage = Lineage {
        partitions: n.max(1),
        ..plan.lineage().clone()
    };
    plan.derive_fused_with(name, lineage, move |input, b| {
        let parts = partitions_of(Some(n), b.env.peers);
        keyed::combine_by_key_fused(input, b, name, c.clone(), parts)
    })
}

/// The plan of `group_by_key` over `n` partitions.
fn grouped<K: Key, V: Data>(plan: &Plan<(K, V)>, n: usize) -> Plan<(K, Vec<V>)> {
    let lineage = Lineage {
        partitions: n.max(1),
        ..plan.lineage().clone()
    };
    plan.derive_with("group_by_key", lineage, move |s, b| {
        let parts = partitions_of(Some(n), b.env.peers);
        keyed::group_by_key_in(s, &b.env, parts)
    })
}

fn reducer<V: Data>(f: impl Fn(V, V) -> V + Send + Sync + 'static) -> Combiner<V, V> {
    let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
    Combiner {
        create: Arc::new(|v| v),
        merge_value: f.clone(),
        merge_combiners: f,
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// [`reduce_by_key`](Self::reduce_by_key) with the keys spread over `partitions`
    /// partitions (Spark's `reduceByKey(f, numPartitions)`). Partitions are workers: the keys
    /// go to the first `min(partitions, workers)` workers, by hash, so `partitions` at least
    /// the worker count changes nothing and 1 gathers every key on worker 0. 0 fails `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let parts = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('b', 2), ('a', 3)]])
    ///     .reduce_by_key_with_partitions(|x, y| x + y, 1)
    ///     .glom()
    ///     .map(|mut p| {
    ///         p.sort();
    ///         p
    ///     })
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(parts.sorted_batches(), vec![vec![vec![], vec![('a', 4), ('b', 2)]]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_with_partitions<F>(&self, f: F, partitions: usize) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        check_partitions(self, "reduce_by_key_with_partitions", Some(partitions));
        self.wrap(combined(
            &self.plan,
            "reduce_by_key",
            reducer(f),
            partitions,
        ))
    }

    /// [`group_by_key`](Self::group_by_key) with the keys spread over `partitions` partitions
    /// (Spark's `groupByKey(numPartitions)`): the first `min(partitions, workers)` workers, by
    /// hash. 0 fails `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('a', 3)]])
    ///     .group_by_key_with_partitions(1)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', vec![1, 3])]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn group_by_key_with_partitions(&self, partitions: usize) -> DStream<(K, Vec<V>)> {
        check_partitions(self, "group_by_key_with_partitions", Some(partitions));
        self.wrap(grouped(&self.plan, partitions))
    }

    /// [`combine_by_key`](Self::combine_by_key) with the keys spread over `partitions`
    /// partitions (Spark's `combineByKey(create, mergeValue, mergeCombiners, numPartitions)`):
    /// the first `min(partitions, workers)` workers, by hash. 0 fails `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// // (sum, count) per key.
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('a', 3), ('b', 2)]])
    ///     .combine_by_key_with_partitions(
    ///         |v| (v, 1),
    ///         |(s, n), v| (s + v, n + 1),
    ///         |(s, n), (t, m)| (s + t, n + m),
    ///         1,
    ///     )
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', (4, 2)), ('b', (2, 1))]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn combine_by_key_with_partitions<C, F1, F2, F3>(
        &self,
        create: F1,
        merge_value: F2,
        merge_combiners: F3,
        partitions: usize,
    ) -> DStream<(K, C)>
    where
        C: Data,
        F1: Fn(V) -> C + Send + Sync + 'static,
        F2: Fn(C, V) -> C + Send + Sync + 'static,
        F3: Fn(C, C) -> C + Send + Sync + 'static,
    {
        check_partitions(self, "combine_by_key_with_partitions", Some(partitions));
        let c = Combiner {
            create: Arc::new(create),
            merge_value: Arc::new(merge_value),
            merge_combiners: Arc::new(merge_combiners),
        };
        self.wrap(combined(&self.plan, "combine_by_key", c, partitions))
    }
}

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// [`reduce_by_key`](Self::reduce_by_key) into `partitions` partitions (Spark's
    /// `reduceByKey(f, numPartitions)`): the result has `partitions` partitions (0 counts as
    /// 1, as for [`repartition`](Self::repartition)), each holding the keys that hash to it; a
    /// batch job over it runs on that many workers.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let sums = Dataset::parallelize(vec![('a', 1), ('b', 2), ('a', 3)], 1)
    ///     .reduce_by_key_with_partitions(|x, y| x + y, 3);
    /// assert_eq!(sums.partitions(), 3);
    /// let mut got = sums.collect()?;
    /// got.sort();
    /// assert_eq!(got, vec![('a', 4), ('b', 2)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_with_partitions<F>(&self, f: F, partitions: usize) -> Dataset<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.wrap(combined(
            &self.plan,
            "reduce_by_key",
            reducer(f),
            partitions.max(1),
        ))
    }

    /// [`group_by_key`](Self::group_by_key) into `partitions` partitions (Spark's
    /// `groupByKey(numPartitions)`; 0 counts as 1).
    ///
    /// ```
    /// use freshet::Dataset;
    /// let groups = Dataset::parallelize(vec![('a', 1), ('b', 2), ('a', 3)], 2)
    ///     .group_by_key_with_partitions(1);
    /// assert_eq!(groups.partitions(), 1);
    /// let mut got = groups.collect()?;
    /// got.sort();
    /// assert_eq!(got, vec![('a', vec![1, 3]), ('b', vec![2])]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn group_by_key_with_partitions(&self, partitions: usize) -> Dataset<(K, Vec<V>)> {
        self.wrap(grouped(&self.plan, partitions.max(1)))
    }

    /// [`combine_by_key`](Self::combine_by_key) into `partitions` partitions (Spark's
    /// `combineByKey(create, mergeValue, mergeCombiners, numPartitions)`; 0 counts as 1).
    ///
    /// ```
    /// use freshet::Dataset;
    /// let maxima = Dataset::parallelize(vec![('a', 1), ('a', 3), ('b', 2)], 2)
    ///     .combine_by_key_with_partitions(|v| v, i32::max, i32::max, 2);
    /// let mut got = maxima.collect()?;
    /// got.sort();
    /// assert_eq!(got, vec![('a', 3), ('b', 2)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn combine_by_key_with_partitions<C, F1, F2, F3>(
        &self,
        create: F1,
        merge_value: F2,
        merge_combiners: F3,
        partitions: usize,
    ) -> Dataset<(K, C)>
    where
        C: Data,
        F1: Fn(V) -> C + Send + Sync + 'static,
        F2: Fn(C, V) -> C + Send + Sync + 'static,
        F3: Fn(C, C) -> C + Send + Sync + 'static,
    {
        let c = Combiner {
            create: Arc::new(create),
            merge_value: Arc::new(merge_value),
            merge_combiners: Arc::new(merge_combiners),
        };
        self.wrap(combined(&self.plan, "combine_by_key", c, partitions.max(1)))
    }
}
