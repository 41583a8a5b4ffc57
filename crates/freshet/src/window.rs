//! Processing-time windows and count-based windows on [`DStream`]s.
//!
//! # Processing-time windows
//!
//! A window has a length `len` and a slide `slide`, both multiples of the batch interval `I`
//! (anything else is an [`Error::Plan`] when the pipeline is built). As in Spark, the zero time
//! is `t0 = first batch time - I`; a window ends at every batch time `t` where `t - t0` is a
//! multiple of `slide`, and holds the batches in `(t - len, t]`. The first windows, before `len`
//! has elapsed, hold the batches there are. At batch times that end no window the windowed
//! stream's batch is empty.
//!
//! The incremental forms ([`DStream::reduce_by_key_and_window_inv`],
//! [`DStream::reduce_by_window_inv`]) keep each key's running value and, at every batch, add the
//! entering batch with `f` and subtract the leaving batch with `inv`. A key leaves the window when
//! no batch of the window has values for it (so the result equals recomputing the window); the
//! optional filter further drops keys from the output, such as zero counts.
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
use crate::ops::window as w;
use std::sync::Arc;
use std::time::Duration;

/// The most batch intervals a window may span (a window keeps a result per batch it spans).
pub const MAX_WINDOW_BATCHES: u64 = 1_000_000;

/// Checks `len` and `slide` against the batch interval; returns them in milliseconds.
fn window_millis<T>(s: &DStream<T>, len: Duration, slide: Duration) -> Result<(u64, u64)> {
    let interval = s.ctx.config.batch_interval();
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

impl<T: Data> DStream<T> {
    /// The records of every window of length `len` sliding by `slide`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(1))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1], vec![2], vec![3]])
    ///     .window(ms(20), ms(10))?
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1], vec![1, 2], vec![2, 3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn window(&self, len: Duration, slide: Duration) -> Result<DStream<T>> {
        let (len, slide) = window_millis(self, len, slide)?;
        Ok(self.wrap(
            self.plan
                .derive("window", move |s, b| w::window(s, &b.env, len, slide)),
        ))
    }

    /// The number of records of every window: one record per window, `0` for an empty one.
    pub fn count_by_window(&self, len: Duration, slide: Duration) -> Result<DStream<u64>> {
        let (len, slide) = window_millis(self, len, slide)?;
        Ok(self.wrap(self.plan.derive("count_by_window", move |s, b| {
            w::count_by_window(s, &b.env, len, slide)
        })))
    }

    /// The fold of every non-empty window with `f` (associative and commutative), recomputed
    /// from per-batch partial results.
    pub fn reduce_by_window<F>(&self, f: F, len: Duration, slide: Duration) -> Result<DStream<T>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let (len, slide) = window_millis(self, len, slide)?;
        let f: Arc<dyn Fn(T, T) -> T + Send + Sync> = Arc::new(f);
        Ok(self.wrap(self.plan.derive("reduce_by_window", move |s, b| {
            w::reduce_by_window(s, &b.env, f.clone(), len, slide)
        })))
    }

    /// Like [`reduce_by_window`](Self::reduce_by_window), computed incrementally: `inv` undoes
    /// `f` (`inv(f(a, b), b) == a`) and subtracts the batches that leave the window.
    pub fn reduce_by_window_inv<F, G>(
        &self,
        f: F,
        inv: G,
        len: Duration,
        slide: Duration,
    ) -> Result<DStream<T>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
        G: Fn(T, T) -> T + Send + Sync + 'static,
    {
        Ok(self
            .map(|x| ((), x))
            .reduce_by_key_and_window_inv(f, inv, len, slide, None::<fn(&((), T)) -> bool>)?
            .map(|(_, x)| x))
    }

    /// The last `n` records every `step` records, over the whole stream (gathered on one
    /// worker). `step == n` gives tumbling windows; see the [module docs](crate::window) for the
    /// arrival order.
    pub fn count_window(&self, n: usize, step: usize) -> Result<DStream<Vec<T>>> {
        check_count(n, step)?;
        Ok(self.wrap(self.plan.derive("count_window", move |s, b| {
            w::count_window(s, &b.env, n, step)
        })))
    }
}

impl<T: Key> DStream<T> {
    /// The number of occurrences of each distinct record in every window (incremental; keys
    /// whose count drops to zero disappear).
    pub fn count_by_value_and_window(
        &self,
        len: Duration,
        slide: Duration,
    ) -> Result<DStream<(T, u64)>> {
        self.map(|x| (x, 1u64)).reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            len,
            slide,
            Some(|kv: &(T, u64)| kv.1 > 0),
        )
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Merges the values of each key in every window with `f` (associative and commutative),
    /// recomputing each window from per-batch, per-key partials.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2), ('b', 5)], vec![]])
    ///     .reduce_by_key_and_window(|a, b| a + b, ms(20), ms(10))?
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
    ) -> Result<DStream<(K, V)>>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let (len, slide) = window_millis(self, len, slide)?;
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        Ok(
            self.wrap(self.plan.derive("reduce_by_key_and_window", move |s, b| {
                w::reduce_by_key_and_window(s, &b.env, f.clone(), len, slide)
            })),
        )
    }

    /// Incremental [`reduce_by_key_and_window`](Self::reduce_by_key_and_window): each key's
    /// running value gets the entering batches added with `f` and the leaving batches
    /// subtracted with `inv` (`inv(f(a, b), b) == a`). A key leaves the window when no batch of
    /// the window has values for it; `filter`, if given, also drops keys from the output (for
    /// example zero counts).
    pub fn reduce_by_key_and_window_inv<F, G, P>(
        &self,
        f: F,
        inv: G,
        len: Duration,
        slide: Duration,
        filter: Option<P>,
    ) -> Result<DStream<(K, V)>>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        G: Fn(V, V) -> V + Send + Sync + 'static,
        P: Fn(&(K, V)) -> bool + Send + Sync + 'static,
    {
        let (len, slide) = window_millis(self, len, slide)?;
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        let inv: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(inv);
        let keep = filter.map(|p| Arc::new(p) as w::KeepFn<K, V>);
        Ok(self.wrap(
            self.plan
                .derive("reduce_by_key_and_window_inv", move |s, b| {
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
        ))
    }

    /// The values of each key in every window, oldest batch first.
    pub fn group_by_key_and_window(
        &self,
        len: Duration,
        slide: Duration,
    ) -> Result<DStream<(K, Vec<V>)>> {
        let (len, slide) = window_millis(self, len, slide)?;
        Ok(
            self.wrap(self.plan.derive("group_by_key_and_window", move |s, b| {
                w::group_by_key_and_window(s, &b.env, len, slide)
            })),
        )
    }

    /// Per key, the last `n` values every `step` values of that key. `step == n` gives
    /// tumbling windows; see the [module docs](crate::window) for the arrival order.
    pub fn count_window_by_key(&self, n: usize, step: usize) -> Result<DStream<(K, Vec<V>)>> {
        check_count(n, step)?;
        Ok(
            self.wrap(self.plan.derive("count_window_by_key", move |s, b| {
                w::count_window_by_key(s, &b.env, n, step)
            })),
        )
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
    pub fn count_window_by_key(&self, n: usize, step: usize) -> Result<Dataset<(K, Vec<V>)>> {
        check_count(n, step)?;
        Ok(
            self.wrap(self.plan.derive("count_window_by_key", move |s, b| {
                w::count_window_by_key(s, &b.env, n, step)
            })),
        )
    }
}
