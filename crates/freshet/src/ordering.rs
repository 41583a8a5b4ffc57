//! Ordering operators on [`Dataset`]s and on every batch of a [`DStream`]: Spark's
//! `sortByKey`, `sortBy`, `top` and `takeOrdered`.
//!
//! A sorted batch is *totally* ordered: worker `i` holds the `i`-th range of keys, in order (range
//! partitioning on bounds sampled from every worker's records, as Spark's `RangePartitioner`), so
//! the outputs that read a batch worker by worker (`collect`, `foreach_batch`,
//! `collect_batches`, `print`) read it in order, and so do narrow operators after the sort
//! (`map`, `filter`, `flat_map` keep the order; anything that moves records between workers —
//! `union`, `repartition`, keyed operators — does not, as in Spark). Records with equal keys
//! keep their arrival order (the sort is stable). The cost: every record crosses the exchange
//! once, each worker sorts its own records and then merges the runs it receives, and a batch is
//! sorted only when it is complete (like `reduce_by_key`).
//!
//! `top(n)` and `take_ordered(n)` keep at most `2n` candidates per worker and batch and merge the
//! workers' best `n` on worker 0: on a `Dataset` they are actions that return a `Vec`; on a
//! `DStream` they give a stream whose batch is the `n` records, in order, on worker 0.

use crate::data::Data;
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::error::Result;
use crate::ops::narrow;
use crate::ops::sort::{self, Direction, Order};
use crate::plan::Plan;
use std::sync::Arc;

/// A key function, shared by the workers.
type KeyFn<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

fn sorted_by_key<K: Data + Ord, V: Data>(plan: &Plan<(K, V)>, ascending: bool) -> Plan<(K, V)> {
    plan.derive("sort_by_key", move |s, b| {
        sort::sort_by_key(s, &b.env, Direction { ascending })
    })
}

fn sorted_by<T: Data, K: Data + Ord>(plan: &Plan<T>, key: KeyFn<T, K>, ascending: bool) -> Plan<T> {
    plan.derive("sort_by", move |s, b| {
        let key = Arc::clone(&key);
        let keyed = narrow(
            s,
            "sort_by-key",
            move |data: &mut Vec<T>, out: &mut Vec<(K, T)>| {
                out.extend(data.drain(..).map(|x| (key(&x), x)))
            },
        );
        let sorted = sort::sort_by_key(keyed, &b.env, Direction { ascending });
        narrow(
            sorted,
            "sort_by-values",
            |data: &mut Vec<(K, T)>, out: &mut Vec<T>| out.extend(data.drain(..).map(|(_, x)| x)),
        )
    })
}

/// The `n` first records of each batch in `order` (`descending`: the largest first).
fn first_n<T: Data + Ord>(plan: &Plan<T>, name: &str, n: usize, descending: bool) -> Plan<T> {
    let order: Order<T> = if descending {
        Arc::new(|a: &T, b: &T| b.cmp(a))
    } else {
        Arc::new(|a: &T, b: &T| a.cmp(b))
    };
    plan.derive(name, move |s, b| {
        sort::first_n(s, &b.env, n, Arc::clone(&order))
    })
}

/// The `n` first records of each batch by `key` (`descending`: the largest keys first).
fn first_n_by<T: Data, K: Data + Ord>(
    plan: &Plan<T>,
    name: &str,
    n: usize,
    key: KeyFn<T, K>,
    descending: bool,
) -> Plan<T> {
    let order: Order<(K, T)> = if descending {
        Arc::new(|a: &(K, T), b: &(K, T)| b.0.cmp(&a.0))
    } else {
        Arc::new(|a: &(K, T), b: &(K, T)| a.0.cmp(&b.0))
    };
    plan.derive(name, move |s, b| {
        let key = Arc::clone(&key);
        let keyed = narrow(
            s,
            "take_ordered-key",
            move |data: &mut Vec<T>, out: &mut Vec<(K, T)>| {
                out.extend(data.drain(..).map(|x| (key(&x), x)))
            },
        );
        let best = sort::first_n(keyed, &b.env, n, Arc::clone(&order));
        narrow(
            best,
            "take_ordered-values",
            |data: &mut Vec<(K, T)>, out: &mut Vec<T>| out.extend(data.drain(..).map(|(_, x)| x)),
        )
    })
}

impl<K: Data + Ord, V: Data> DStream<(K, V)> {
    /// Every batch sorted by key (Spark's `sortByKey`), smallest key first if `ascending`.
    ///
    /// The batch is totally ordered across the workers (see the [module docs](crate::ordering)),
    /// so `foreach_batch`, `print` and `collect_batches` see it in order; records with equal
    /// keys keep their arrival order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('c', 3), ('a', 1), ('b', 2)]])
    ///     .sort_by_key(false)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec![('c', 3), ('b', 2), ('a', 1)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "sortByKey")]
    pub fn sort_by_key(&self, ascending: bool) -> DStream<(K, V)> {
        self.wrap(sorted_by_key(&self.plan, ascending))
    }
}

impl<T: Data> DStream<T> {
    /// Every batch sorted by `key(record)` (Spark's `sortBy`), smallest key first if
    /// `ascending`. The key is computed once per record; the batch is totally ordered across
    /// the workers, and records with equal keys keep their arrival order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let words = vec!["kiwi", "fig", "banana"].into_iter().map(String::from).collect();
    /// let out = ctx
    ///     .queue_stream(vec![words])
    ///     .sort_by(|w: &String| w.len(), true)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec!["fig", "kiwi", "banana"]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "sortBy")]
    pub fn sort_by<K, F>(&self, key: F, ascending: bool) -> DStream<T>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.wrap(sorted_by(&self.plan, Arc::new(key), ascending))
    }

    /// The `n` records of every batch with the largest `key(record)`, largest first (ties in
    /// arrival order). See [`top`](Self::top).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let views = vec![('h', 5u64), ('c', 9), ('x', 1)]; // (page, views)
    /// let out = ctx
    ///     .queue_stream(vec![views])
    ///     .top_by(2, |(_, n): &(char, u64)| *n)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec![('c', 9), ('h', 5)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn top_by<K, F>(&self, n: usize, key: F) -> DStream<T>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.wrap(first_n_by(&self.plan, "top_by", n, Arc::new(key), true))
    }

    /// The `n` records of every batch with the smallest `key(record)`, smallest first (ties in
    /// arrival order). See [`take_ordered`](Self::take_ordered).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![(1u32, 250u64), (2, 40), (3, 90)]])
    ///     .take_ordered_by(2, |(_, latency): &(u32, u64)| *latency)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec![(2, 40), (3, 90)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn take_ordered_by<K, F>(&self, n: usize, key: F) -> DStream<T>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.wrap(first_n_by(
            &self.plan,
            "take_ordered_by",
            n,
            Arc::new(key),
            false,
        ))
    }
}

impl<T: Data + Ord> DStream<T> {
    /// The `n` largest records of every batch, largest first (Spark's `rdd.top(n)` applied to
    /// every batch): the result's batch holds those records, on worker 0, in that order (so
    /// `foreach_batch` and `collect_batches` read them in order). A batch with fewer than `n`
    /// records gives all of them; an empty batch (or `n == 0`) gives an empty batch. Equal
    /// records are taken in arrival order.
    ///
    /// Each worker keeps at most `2n` candidates per batch, so `n` should be small next to a
    /// batch; to order a whole batch use [`sort_by`](Self::sort_by).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let out = ctx.queue_stream(vec![vec![5, 1, 4, 2, 3]]).top(3).collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec![5, 4, 3]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn top(&self, n: usize) -> DStream<T> {
        self.wrap(first_n(&self.plan, "top", n, true))
    }

    /// The `n` smallest records of every batch, smallest first (Spark's `rdd.takeOrdered(n)`
    /// applied to every batch), as that batch of the result, on worker 0. Otherwise as
    /// [`top`](Self::top).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let out = ctx.queue_stream(vec![vec![5, 1, 4, 2, 3]]).take_ordered(2).collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.batches()[0].1, vec![1, 2]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "takeOrdered")]
    pub fn take_ordered(&self, n: usize) -> DStream<T> {
        self.wrap(first_n(&self.plan, "take_ordered", n, false))
    }
}

impl<K: Data + Ord, V: Data> Dataset<(K, V)> {
    /// The records sorted by key (Spark's `sortByKey`), smallest key first if `ascending`.
    /// Partition `i` holds the `i`-th range of keys, so `collect` returns them in order;
    /// records with equal keys keep their partition order.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![(3, 'c'), (1, 'a'), (2, 'b'), (0, 'z')], 2);
    /// assert_eq!(ds.sort_by_key(true).collect()?, vec![(0, 'z'), (1, 'a'), (2, 'b'), (3, 'c')]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "sortByKey")]
    pub fn sort_by_key(&self, ascending: bool) -> Dataset<(K, V)> {
        self.wrap(sorted_by_key(&self.plan, ascending))
    }
}

impl<T: Data> Dataset<T> {
    /// The records sorted by `key(record)` (Spark's `sortBy`), smallest key first if
    /// `ascending`; the key is computed once per record. See
    /// [`sort_by_key`](Dataset::sort_by_key).
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![-3, 1, -2, 4], 2);
    /// assert_eq!(ds.sort_by(|x: &i32| x.abs(), false).collect()?, vec![4, -3, -2, 1]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "sortBy")]
    pub fn sort_by<K, F>(&self, key: F, ascending: bool) -> Dataset<T>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.wrap(sorted_by(&self.plan, Arc::new(key), ascending))
    }

    /// The `n` records with the largest `key(record)`, largest first (ties in partition
    /// order): Spark's `top(n)(Ordering.by(key))`.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![("a".to_string(), 3), ("b".into(), 7), ("c".into(), 5)], 2);
    /// let top = ds.top_by(2, |(_, n): &(String, i32)| *n)?;
    /// assert_eq!(top, vec![("b".to_string(), 7), ("c".to_string(), 5)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn top_by<K, F>(&self, n: usize, key: F) -> Result<Vec<T>>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        Dataset::from_plan(first_n_by(&self.plan, "top_by", n, Arc::new(key), true)).collect()
    }

    /// The `n` records with the smallest `key(record)`, smallest first (ties in partition
    /// order): Spark's `takeOrdered(n)(Ordering.by(key))`.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ages = Dataset::parallelize(vec![("ann".to_string(), 31), ("bob".into(), 25)], 2);
    /// let youngest = ages.take_ordered_by(1, |(_, age): &(String, u32)| *age)?;
    /// assert_eq!(youngest, vec![("bob".to_string(), 25)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn take_ordered_by<K, F>(&self, n: usize, key: F) -> Result<Vec<T>>
    where
        K: Data + Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        Dataset::from_plan(first_n_by(
            &self.plan,
            "take_ordered_by",
            n,
            Arc::new(key),
            false,
        ))
        .collect()
    }
}

impl<T: Data + Ord> Dataset<T> {
    /// The `n` largest records, largest first (Spark's `top`). Each partition keeps at most
    /// `2n` candidates; the partitions' best meet on one worker. Fewer than `n` records give
    /// all of them; `n == 0` gives none.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![10, 4, 8, 1, 9, 2], 3);
    /// assert_eq!(ds.top(2)?, vec![10, 9]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn top(&self, n: usize) -> Result<Vec<T>> {
        Dataset::from_plan(first_n(&self.plan, "top", n, true)).collect()
    }

    /// The `n` smallest records, smallest first (Spark's `takeOrdered`). Otherwise as
    /// [`top`](Dataset::top).
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![10, 4, 8, 1, 9, 2], 3);
    /// assert_eq!(ds.take_ordered(3)?, vec![1, 2, 4]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "takeOrdered")]
    pub fn take_ordered(&self, n: usize) -> Result<Vec<T>> {
        Dataset::from_plan(first_n(&self.plan, "take_ordered", n, false)).collect()
    }
}
