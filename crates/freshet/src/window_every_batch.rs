//! Windows that slide by one batch: Spark's one-duration forms `window(windowDuration)`,
//! `reduceByKeyAndWindow(f, windowDuration)`, `reduceByKeyAndWindow(f, inv, windowDuration)` and
//! `groupByKeyAndWindow(windowDuration)`, whose slide is the stream's slide.
//!
//! Freshet names them `*_every_batch`: they slide by the stream's own slide, as Spark's do: one
//! batch interval, or over a windowed stream its slide (a windowed stream has batches only where
//! its windows end). As with the two-duration forms, a length that is not a
//! positive multiple of the batch interval (or spans more than
//! [`MAX_WINDOW_BATCHES`](crate::window::MAX_WINDOW_BATCHES) intervals) makes `start()` fail,
//! naming the operator.

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::time::millis;
use crate::window::MAX_WINDOW_BATCHES;
use std::time::Duration;

impl<T: Data> DStream<T> {
    /// The stream's slide (the batch interval, or a windowed stream's slide), and `len` checked
    /// as the window length of `operator`. An invalid `len` is recorded for `start()` to report
    /// and replaced by one interval (the stream never runs then).
    fn every_batch(&self, operator: &str, len: Duration) -> (Duration, Duration) {
        let batch = self.ctx.config.batch_interval();
        let interval = Duration::from_millis(self.plan.lineage().slide).max(batch);
        let i = millis(interval).max(1);
        let ms = millis(len);
        let problem = if len.is_zero()
            || !len.subsec_nanos().is_multiple_of(1_000_000)
            || !ms.is_multiple_of(i)
        {
            Some(format!(
                "the window length ({len:?}) must be a positive multiple of the batch interval ({interval:?})"
            ))
        } else if ms / i > MAX_WINDOW_BATCHES {
            Some(format!(
                "the window length ({len:?}) spans {} batch intervals; at most {MAX_WINDOW_BATCHES} are allowed",
                ms / i
            ))
        } else {
            None
        };
        match problem {
            Some(p) => {
                self.ctx.problem(format!("`{operator}`: {p}"));
                (interval, interval)
            }
            None => (interval, len),
        }
    }

    /// Notes `windowed`, a window of `len` sliding by `slide` over this stream, so that the
    /// streams it reads remember their batches for it (see
    /// [`remembered`](DStream::remembered)).
    fn noted<U: Data>(&self, windowed: DStream<U>, len: Duration, slide: Duration) -> DStream<U> {
        self.ctx
            .note_window(windowed.plan.id(), millis(len), millis(slide));
        windowed
    }

    /// The records of the last `len` of batches, at every batch (Spark's
    /// `window(windowDuration)`): [`window(len, slide)`](DStream::window) with a slide of one
    /// batch interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![1], vec![2], vec![3]])
    ///     .window_every_batch(ms(20))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1], vec![1, 2], vec![2, 3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "window")]
    pub fn window_every_batch(&self, len: Duration) -> DStream<T> {
        let (slide, len) = self.every_batch("window_every_batch", len);
        self.noted(self.window(len, slide), len, slide)
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// The values of each key merged with `f` over the last `len` of batches, at every batch
    /// (Spark's `reduceByKeyAndWindow(f, windowDuration)`):
    /// [`reduce_by_key_and_window(f, len, slide)`](DStream::reduce_by_key_and_window) with a
    /// slide of one batch interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2), ('b', 5)], vec![]])
    ///     .reduce_by_key_and_window_every_batch(|a, b| a + b, ms(20))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(
    ///     out.sorted_batches(),
    ///     vec![vec![('a', 1)], vec![('a', 3), ('b', 5)], vec![('a', 2), ('b', 5)]]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "reduce_by_key_and_window")]
    #[doc(alias = "reduceByKeyAndWindow")]
    pub fn reduce_by_key_and_window_every_batch<F>(&self, f: F, len: Duration) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let (slide, len) = self.every_batch("reduce_by_key_and_window_every_batch", len);
        self.noted(self.reduce_by_key_and_window(f, len, slide), len, slide)
    }

    /// [`reduce_by_key_and_window_every_batch`](DStream::reduce_by_key_and_window_every_batch)
    /// computed incrementally with `inv` undoing `f` (Spark's
    /// `reduceByKeyAndWindow(f, inv, windowDuration)`):
    /// [`reduce_by_key_and_window_inv(f, inv, len, slide)`](DStream::reduce_by_key_and_window_inv)
    /// with a slide of one batch interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('x', 1)], vec![('x', 2)], vec![]])
    ///     .reduce_by_key_and_window_inv_every_batch(|a, b| a + b, |a, b| a - b, ms(20))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(out.sorted_batches(), vec![vec![('x', 1)], vec![('x', 3)], vec![('x', 2)]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "reduce_by_key_and_window_inv")]
    #[doc(alias = "reduceByKeyAndWindow")]
    pub fn reduce_by_key_and_window_inv_every_batch<F, G>(
        &self,
        f: F,
        inv: G,
        len: Duration,
    ) -> DStream<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        G: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let (slide, len) = self.every_batch("reduce_by_key_and_window_inv_every_batch", len);
        self.noted(
            self.reduce_by_key_and_window_inv(f, inv, len, slide),
            len,
            slide,
        )
    }

    /// The values of each key over the last `len` of batches, oldest batch first, at every
    /// batch (Spark's `groupByKeyAndWindow(windowDuration)`):
    /// [`group_by_key_and_window(len, slide)`](DStream::group_by_key_and_window) with a slide
    /// of one batch interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// let out = ctx
    ///     .queue_stream(vec![vec![('a', 1)], vec![('a', 2)], vec![('a', 3)]])
    ///     .group_by_key_and_window_every_batch(ms(20))
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(
    ///     out.sorted_batches(),
    ///     vec![vec![('a', vec![1])], vec![('a', vec![1, 2])], vec![('a', vec![2, 3])]]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    #[doc(alias = "group_by_key_and_window")]
    #[doc(alias = "groupByKeyAndWindow")]
    pub fn group_by_key_and_window_every_batch(&self, len: Duration) -> DStream<(K, Vec<V>)> {
        let (slide, len) = self.every_batch("group_by_key_and_window_every_batch", len);
        self.noted(self.group_by_key_and_window(len, slide), len, slide)
    }
}
