//! Processing-time windows and count-based windows on [`DStream`]s.
//!
//! # Processing-time windows
//!
//! A window has a length `len` and a slide `slide`, both multiples of the batch interval `I`
//! (anything else makes [`StreamingContext::start`](crate::StreamingContext::start) fail with
//! an [`Error::Plan`] naming the operator and the setting). As in Spark, the zero time
//! is `t0 = first batch time - I`; a window ends at every batch time `t` where `t - t0` is a
//! multiple of `slide`, and holds the batches in `(t - len, t]`. The first windows, before `len`
//! has elapsed, hold the batches there are. At batch times that end no window the windowed
//! stream has no batch, as in Spark: its output operations are not called there.
//!
//! The incremental forms ([`DStream::reduce_by_key_and_window_inv`],
//! [`DStream::reduce_by_window_inv`]) keep each key's running value and, at every batch, add the
//! entering batch with `f` and subtract the leaving batch with `inv`. A key leaves the window when
//! no batch of the window has values for it (so the result equals recomputing the window); the
//! filter of [`DStream::reduce_by_key_and_window_inv_filtered`] further drops keys from the
//! output, such as zero counts.
//!
//! The windowed operators of a [`DStream`] return the windowed stream, as Spark's do; invalid
//! lengths, slides or counts are pipeline mistakes that `start()` reports (the `Dataset` count
//! windows, which have no `start()`, return a `Result`).
//!
//! # Partitions
//!
//! [`DStream::reduce_by_key_and_window_with_partitions`] and
//! [`DStream::group_by_key_and_window_with_partitions`] take Spark's `numPartitions`: the keys
//! are spread over the first `min(n, workers)` workers (partitions are workers), so a count at
//! least the worker count changes nothing; a count of 0 fails `start()`.
//!
//! # Count-based windows
//!
//! [`DStream::count_window`] and [`DStream::count_window_by_key`] emit the last `n` records every
//! `step` records (`step == n`: tumbling; `step < n`: sliding, and the first windows hold fewer
//! than `n` records). Arrival order is batch after batch; within a batch, the records read by
//! worker 0, then worker 1's, and so on, each worker's in the order it read them (for a queue
//! stream: the queue's order). A partial window at the end of the input is not emitted.
//!
//! On a [`Dataset`] (one finite batch) only the count windows apply
//! ([`Dataset::count_window`], [`Dataset::count_window_by_key`]): the arrival order is the
//! partition order, partition 0 first.
//!
//! See `docs/windows-and-state.md` for the full semantics.

use crate::data::{Data, Key};
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::error::{Error, Result};
use crate::ops::keyed::partitions_of;
use crate::ops::window as w;
use crate::state::check_partitions;
use std::sync::Arc;
use std::time::Duration;

/// The most batch intervals a window may span (a window keeps a result per batch it spans).
pub const MAX_WINDOW_BATCHES: u64 = 1_000_000;

/// Checks `len` and `slide` against the batch interval; returns them in milliseconds.
fn window_millis(interval: Duration, len: Duration, slide: Duration) -> Result<(u64, u64)> {
    let i = crate::time::millis(interval).max(1);
    let check = |what: &str, d: Duration| -> Result<u64> {
        let ms = crate::time::millis(d);
        if d.is_zero() || !d.subsec_nanos().is_multiple_of(1_000_000) || !ms.is_multiple_of(i) {
            return Err(Error::Plan(format!(
                "the window {what} ({d:?}) must be a positive multiple of the batch interval ({interval:?})"
            )));
        }
        if ms / i > MAX_WINDOW_BATCHES {
            return Err(Error::Plan(format!(
                "the window {what} ({d:?}) spans {} batch intervals; at most {MAX_WINDOW_BATCHES} are allowed",
                ms / i
            )));
        }
        Ok(ms)
    };
    Ok((check("length", len)?, check("slide", slide)?))
}

/// Records `error` (a plan error of `operator`) for `start()` to report.
fn report<T>(s: &DStream<T>, operator: &str, error: Error) {
    let message = match error {
        Error::Plan(m) => m,
        other => other.to_string(),
    };
    s.ctx.problem(format!("`{operator}`: {message}"));
}

/// `len` and `slide` of `operator` in milliseconds; invalid ones are recorded for `start()` to
/// report, and replaced by one batch interval (the stream never runs then).
fn window_of<T>(s: &DStream<T>, operator: &str, len: Duration, slide: Duration) -> (u64, u64) {
    let interval = s.ctx.config.batch_interval();
    window_millis(interval, len, slide).unwrap_or_else(|e| {
        report(s, operator, e);
        let i = crate::time::millis(interval).max(1);
        (i, i)
    })
}

fn check_count(n: usize, step: usize) -> Result<()> {
    if n == 0 || step == 0 {
        return Err(Error::Plan(format!(
            "a count window needs a size and a step of at least 1, got size {n} and step {step}"
        )));
    }
    if step > n {
        return Err(Error::Plan(format!(
            "a count window's step ({step}) cannot exceed its size ({n}): records would be skipped"
        )));
    }
    Ok(())
}

/// `n` and `step` of the count window `operator`; invalid ones are recorded for `start()` to
/// report, and replaced by 1 (the stream never runs then).
fn count_of<T>(s: &DStream<T>, operator: &str, n: usize, step: usize) -> (usize, usize) {
    match check_count(n, step) {
        Ok(()) => (n, step),
        Err(e) => {
            report(s, operator, e);
            (1, 1)
        }
    }
}

impl<T: Data> DStream<T> {
    /// Wraps the windowed `plan` (a window of `len` sliding by `slide`, in ms), noting it for
    /// the remember duration of the streams it reads (see [`crate::remember`]).
    fn windowed<U: Data>(&self, len: u64, slide: u64, plan: crate::plan::Plan<U>) -> DStream<U> {
        self.ctx.note_window(plan.id(), len, slide);
        self.wrap(plan)
    }

    /// The records of every window of length `len` sliding by `slide` (Spark's `window`).
    /// `len` and `slide` must be multiples of the batch interval, else `start()` fails.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(1))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1], vec![2], vec![3]])
    ///     .window(ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1], vec![1, 2], vec![2, 3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn window(&self, len: Duration, slide: Duration) -> DStream<T> {
        let (len, slide) = window_of(self, "window", len, slide);
        self.windowed(
            len,
            slide,
            self.plan.derive_windowed("window", slide, move |s, b| {
                w::window(s, &b.env, len, slide)
            }),
        )
    }

    /// The number of records of every window: one record per window, `0` for an empty one
    /// (Spark's `countByWindow`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec!['a', 'b'], vec!['c'], vec![]])
    ///     .count_by_window(ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![2], vec![3], vec![1]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_by_window(&self, len: Duration, slide: Duration) -> DStream<u64> {
        let (len, slide) = window_of(self, "count_by_window", len, slide);
        self.windowed(
            len,
            slide,
            self.plan
                .derive_windowed("count_by_window", slide, move |s, b| {
                    w::count_by_window(s, &b.env, len, slide)
                }),
        )
    }

    /// The fold of every non-empty window with `f` (associative and commutative), recomputed
    /// from per-batch partial results (Spark's `reduceByWindow`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1, 2], vec![3], vec![]])
    ///     .reduce_by_window(|a, b| a + b, ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![3], vec![6], vec![3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_window<F>(&self, f: F, len: Duration, slide: Duration) -> DStream<T>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let (len, slide) = window_of(self, "reduce_by_window", len, slide);
        let f: Arc<dyn Fn(T, T) -> T + Send + Sync> = Arc::new(f);
        self.windowed(
            len,
            slide,
            self.plan
                .derive_windowed("reduce_by_window", slide, move |s, b| {
                    w::reduce_by_window(s, &b.env, f.clone(), len, slide)
                }),
        )
    }

    /// Like [`reduce_by_window`](Self::reduce_by_window), computed incrementally: `inv` undoes
    /// `f` (`inv(f(a, b), b) == a`) and subtracts the batches that leave the window (Spark's
    /// `reduceByWindow(f, inv, len, slide)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1, 2], vec![3], vec![]])
    ///     .reduce_by_window_inv(|a, b| a + b, |a, b| a - b, ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![3], vec![6], vec![3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_window_inv<F, G>(
        &self,
        f: F,
        inv: G,
        len: Duration,
        slide: Duration,
    ) -> DStream<T>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
        G: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let (len, slide) = window_of(self, "reduce_by_window_inv", len, slide);
        self.map(|x| ((), x))
            .incremental(f, inv, len, slide, None)
            .map(|(_, x)| x)
    }

    /// The last `n` records every `step` records, over the whole stream (gathered on one
    /// worker). `step == n` gives tumbling windows; see the [module docs](crate::window) for the
    /// arrival order. Zero sizes, or a step larger than `n`, fail `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1, 2, 3], vec![4, 5]])
    ///     .count_window(2, 2)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![vec![1, 2]], vec![vec![3, 4]]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_window(&self, n: usize, step: usize) -> DStream<Vec<T>> {
        let (n, step) = count_of(self, "count_window", n, step);
        self.wrap(self.plan.derive("count_window", move |s, b| {
            w::count_window(s, &b.env, n, step)
        }))
    }
}

impl<T: Key> DStream<T> {
    /// The number of occurrences of each distinct record in every window (incremental; keys
    /// whose count drops to zero disappear; Spark's `countByValueAndWindow`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec!['x', 'y', 'x'], vec!['y'], vec![]])
    ///     .count_by_value_and_window(ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(
    ///     out.sorted_batches(),
    ///     vec![vec![('x', 2), ('y', 1)], vec![('x', 2), ('y', 2)], vec![('y', 1)]]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_by_value_and_window(&self, len: Duration, slide: Duration) -> DStream<(T, u64)> {
        let (len, slide) = window_of(self, "count_by_value_and_window", len, slide);
        self.map(|x| (x, 1u64)).incremental(
            |a, b| a + b,
            |a, b| a - b,
            len,
            slide,
            Some(Arc::new(|kv: &(T, u64)| kv.1 > 0)),
        )
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Merges the values of each key in every window with `f` (associative and commutative),
    /// recomputing each window from per-batch, per-key partials (Spark's
    /// `reduceByKeyAndWindow(f, len, slide)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2), ('b', 5)], vec![]])
    ///     .reduce_by_key_and_window(|a, b| a + b, ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// let (a, b) = (|v| ('a', v), |v| ('b', v));
    /// assert_eq!(out.sorted_batches(), vec![vec![a(1)], vec![a(3), b(5)], vec![a(2), b(5)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_and_window<F>(
        &self,
        f: F,
        len: Duration,
        slide: Duration,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.recomputed("reduce_by_key_and_window", f, len, slide, None)
    }

    /// [`reduce_by_key_and_window`](Self::reduce_by_key_and_window) with the keys spread over
    /// `partitions` partitions (Spark's `reduceByKeyAndWindow(f, len, slide, numPartitions)`):
    /// partitions are workers, so the keys go to the first `min(partitions, workers)` workers
    /// by hash; `partitions` at least the worker count changes nothing. 0 fails `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(3))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('b', 1), ('c', 1)], vec![('a', 2)]])
    ///     .reduce_by_key_and_window_with_partitions(|a, b| a + b, ms(20), ms(10), 1)
    ///     .glom()
    ///     .map(|mut part| {
    ///         part.sort();
    ///         part
    ///     })
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// // Every key on one worker: one non-empty partition, two empty ones.
    /// assert_eq!(
    ///     out.sorted_batches()[1],
    ///     vec![vec![], vec![], vec![('a', 3), ('b', 1), ('c', 1)]]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_and_window_with_partitions<F>(
        &self,
        f: F,
        len: Duration,
        slide: Duration,
        partitions: usize,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let name = "reduce_by_key_and_window_with_partitions";
        check_partitions(self, name, Some(partitions));
        self.recomputed(name, f, len, slide, Some(partitions))
    }

    fn recomputed<F>(
        &self,
        operator: &str,
        f: F,
        len: Duration,
        slide: Duration,
        partitions: Option<usize>,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let (len, slide) = window_of(self, operator, len, slide);
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        self.windowed(
            len,
            slide,
            self.plan
                .derive_windowed("reduce_by_key_and_window", slide, move |s, b| {
                    let parts = partitions_of(partitions, b.env.peers);
                    w::reduce_by_key_and_window(s, &b.env, f.clone(), len, slide, parts)
                }),
        )
    }

    /// Incremental [`reduce_by_key_and_window`](Self::reduce_by_key_and_window): each key's
    /// running value gets the entering batches added with `f` and the leaving batches
    /// subtracted with `inv` (`inv(f(a, b), b) == a`; Spark's
    /// `reduceByKeyAndWindow(f, inv, len, slide)`). A key leaves the window when no batch of
    /// the window has values for it, so no filter is needed to keep the state small; see
    /// [`reduce_by_key_and_window_inv_filtered`](Self::reduce_by_key_and_window_inv_filtered)
    /// to drop keys from the output.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2), ('b', 5)], vec![]])
    ///     .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, ms(20), ms(10))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// let (a, b) = (|v| ('a', v), |v| ('b', v));
    /// assert_eq!(out.sorted_batches(), vec![vec![a(1)], vec![a(3), b(5)], vec![a(2), b(5)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_and_window_inv<F, G>(
        &self,
        f: F,
        inv: G,
        len: Duration,
        slide: Duration,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        G: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let (len, slide) = window_of(self, "reduce_by_key_and_window_inv", len, slide);
        self.incremental(f, inv, len, slide, None)
    }

    /// [`reduce_by_key_and_window_inv`](Self::reduce_by_key_and_window_inv) whose output
    /// keeps only the `(key, value)` pairs for which `filter` returns `true` (Spark's
    /// `filterFunc`, for example dropping zero counts). The filter drops keys from the output
    /// only; the running state is not touched (a key leaves it by itself when no batch of the
    /// window has values for it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 2)], vec![('a', -2)], vec![]])
    ///     .reduce_by_key_and_window_inv_filtered(
    ///         |a, b| a + b,
    ///         |a, b| a - b,
    ///         ms(20),
    ///         ms(10),
    ///         |kv: &(char, i32)| kv.1 != 0,
    ///     )
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', 2)], vec![], vec![('a', -2)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn reduce_by_key_and_window_inv_filtered<F, G, P>(
        &self,
        f: F,
        inv: G,
        len: Duration,
        slide: Duration,
        filter: P,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        G: Fn(V, V) -> V + Send + Sync + 'static,
        P: Fn(&(K, V)) -> bool + Send + Sync + 'static,
    {
        let (len, slide) = window_of(self, "reduce_by_key_and_window_inv_filtered", len, slide);
        self.incremental(f, inv, len, slide, Some(Arc::new(filter)))
    }

    /// The incremental keyed window over checked `len` and `slide` (in milliseconds).
    fn incremental<F, G>(
        &self,
        f: F,
        inv: G,
        len: u64,
        slide: u64,
        keep: Option<w::KeepFn<K, V>>,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        G: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        let inv: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(inv);
        self.windowed(
            len,
            slide,
            self.plan
                .derive_windowed("reduce_by_key_and_window_inv", slide, move |s, b| {
                    w::reduce_by_key_and_window_inv(
                        s,
                        &b.env,
                        f.clone(),
                        inv.clone(),
                        len,
                        slide,
                        keep.clone(),
                    )
                }),
        )
    }

    /// The values of each key in every window, oldest batch first (Spark's
    /// `groupByKeyAndWindow(len, slide)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2), ('b', 5)]])
    ///     .group_by_key_and_window(ms(20), ms(20))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// // One window, ending at the second batch: the first batch ends none, so it has no batch.
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', vec![1, 2]), ('b', vec![5])]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn group_by_key_and_window(&self, len: Duration, slide: Duration) -> DStream<(K, Vec<V>)> {
        self.grouped("group_by_key_and_window", len, slide, None)
    }

    /// [`group_by_key_and_window`](Self::group_by_key_and_window) with the keys spread over
    /// `partitions` partitions (Spark's `groupByKeyAndWindow(len, slide, numPartitions)`): the
    /// first `min(partitions, workers)` workers, by hash. 0 fails `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('b', 5)]])
    ///     .group_by_key_and_window_with_partitions(ms(10), ms(10), 1)
    ///     .glom()
    ///     .map(|mut part| {
    ///         part.sort();
    ///         part
    ///     })
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![vec![], vec![('a', vec![1]), ('b', vec![5])]]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn group_by_key_and_window_with_partitions(
        &self,
        len: Duration,
        slide: Duration,
        partitions: usize,
    ) -> DStream<(K, Vec<V>)> {
        let name = "group_by_key_and_window_with_partitions";
        check_partitions(self, name, Some(partitions));
        self.grouped(name, len, slide, Some(partitions))
    }

    fn grouped(
        &self,
        operator: &str,
        len: Duration,
        slide: Duration,
        partitions: Option<usize>,
    ) -> DStream<(K, Vec<V>)> {
        let (len, slide) = window_of(self, operator, len, slide);
        self.windowed(
            len,
            slide,
            self.plan
                .derive_windowed("group_by_key_and_window", slide, move |s, b| {
                    let parts = partitions_of(partitions, b.env.peers);
                    w::group_by_key_and_window(s, &b.env, len, slide, parts)
                }),
        )
    }

    /// Per key, the last `n` values every `step` values of that key. `step == n` gives
    /// tumbling windows; see the [module docs](crate::window) for the arrival order. Zero
    /// sizes, or a step larger than `n`, fail `start()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1), ('b', 1), ('a', 2)]])
    ///     .count_window_by_key(2, 2)
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('a', vec![1, 2])]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_window_by_key(&self, n: usize, step: usize) -> DStream<(K, Vec<V>)> {
        let (n, step) = count_of(self, "count_window_by_key", n, step);
        self.wrap(self.plan.derive("count_window_by_key", move |s, b| {
            w::count_window_by_key(s, &b.env, n, step)
        }))
    }
}

impl<T: Data> Dataset<T> {
    /// The records, `n` at a time every `step` records, in partition order (partition 0
    /// first); a last partial window is not included. `step == n` gives consecutive chunks.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize((1..=7).collect::<Vec<i32>>(), 3);
    /// assert_eq!(
    ///     ds.count_window(3, 2)?.collect()?,
    ///     vec![vec![1, 2], vec![2, 3, 4], vec![4, 5, 6]]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_window(&self, n: usize, step: usize) -> Result<Dataset<Vec<T>>> {
        check_count(n, step)?;
        Ok(self.wrap(self.plan.derive("count_window", move |s, b| {
            w::count_window(s, &b.env, n, step)
        })))
    }
}

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// Per key, the last `n` values every `step` values of that key, in partition order.
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![('a', 1), ('b', 1), ('a', 2), ('a', 3)], 2);
    /// assert_eq!(ds.count_window_by_key(2, 2)?.collect()?, vec![('a', vec![1, 2])]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn count_window_by_key(&self, n: usize, step: usize) -> Result<Dataset<(K, Vec<V>)>> {
        check_count(n, step)?;
        Ok(
            self.wrap(self.plan.derive("count_window_by_key", move |s, b| {
                w::count_window_by_key(s, &b.env, n, step)
            })),
        )
    }
}
