//! Combining any number of streams: Spark's `StreamingContext.union` and
//! `StreamingContext.transform`.
//!
//! Both take a list of streams of the same context and type. A mistake (an empty list, a stream
//! of another context) is a pipeline mistake that `start()` reports, as for the windowed
//! operators; the stream returned then never runs.

use super::StreamingContext;
use crate::data::Data;
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::ops;
use crate::plan::{Builder, Lineage, Plan};
use std::sync::Arc;

impl StreamingContext {
    /// The records of every stream of `streams`, batch by batch (Spark's `ssc.union`): batch
    /// `t` of the result holds batch `t` of each of them. One operator merges them, however
    /// many there are; each record stays on its worker.
    ///
    /// `streams` must not be empty and must come from this context; otherwise `start()` fails
    /// and says which stream is wrong.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let a = ctx.queue_stream(vec![vec![1, 2]]);
    /// let b = ctx.queue_stream(vec![vec![3]]);
    /// let c = ctx.queue_stream(vec![vec![4, 5]]);
    /// let all = ctx.union(&[a, b, c]).collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(all.sorted_batches()[0], vec![1, 2, 3, 4, 5]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> DStream<T> {
        if !self.check_streams("union", streams) {
            return self.never_runs("union");
        }
        let plans: Vec<Plan<T>> = streams.iter().map(|s| s.plan.clone()).collect();
        self.stream_of(Plan::derive_many(&plans, "union", |inputs, _b| {
            ops::narrow::union_all(inputs)
        }))
    }

    /// Applies a batch function to the batches of several streams at once (Spark's
    /// `ssc.transform(dstreams, func)`): `f` receives one [`Dataset`] per stream, in the order
    /// of `streams`, each standing for that stream's current batch, and the dataset it returns
    /// is the result's batch.
    ///
    /// As with [`DStream::transform`], `f` is called once, when the pipeline is built, and
    /// the plan it returns runs on every batch: it may use every transformation (joins,
    /// unions, static datasets) but no actions on the batches. For streams of two different
    /// types use [`DStream::transform_with`]. `streams` must not be empty and must come from
    /// this context; otherwise `start()` fails (and `f` is not called).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{Dataset, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// let clicks = ctx.queue_stream(vec![vec![("ann".to_string(), 1u64)]]);
    /// let views = ctx.queue_stream(vec![vec![("ann".to_string(), 3u64), ("bob".to_string(), 2)]]);
    /// let totals = ctx
    ///     .transform(&[clicks, views], |batches: Vec<Dataset<(String, u64)>>| {
    ///         let mut all = batches[0].clone();
    ///         for b in &batches[1..] {
    ///             all = all.union(b);
    ///         }
    ///         all.reduce_by_key(|a, b| a + b)
    ///     })
    ///     .collect_batches();
    /// ctx.run_available_now()?;
    /// assert_eq!(
    ///     totals.sorted_batches()[0],
    ///     vec![("ann".to_string(), 4), ("bob".to_string(), 2)]
    /// );
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn transform<T, U, F>(&self, streams: &[DStream<T>], f: F) -> DStream<U>
    where
        T: Data,
        U: Data,
        F: FnOnce(Vec<Dataset<T>>) -> Dataset<U>,
    {
        if !self.check_streams("transform", streams) {
            return self.never_runs("transform");
        }
        let batches = streams
            .iter()
            .map(|s| Dataset::from_plan(s.plan.clone()))
            .collect();
        self.stream_of(f(batches).plan)
    }

    /// Whether `streams` can be combined by `operator`; if not, records why for `start()`.
    fn check_streams<T>(&self, operator: &str, streams: &[DStream<T>]) -> bool {
        let pipeline = &self.inner.pipeline;
        if streams.is_empty() {
            pipeline.problem(format!(
                "`{operator}` needs at least one stream, and was given none"
            ));
            return false;
        }
        let foreign: Vec<String> = streams
            .iter()
            .enumerate()
            .filter(|(_, s)| !Arc::ptr_eq(&s.ctx, pipeline))
            .map(|(i, _)| i.to_string())
            .collect();
        if !foreign.is_empty() {
            pipeline.problem(format!(
                "`{operator}`: the stream(s) at index {} (of {}) belong to another StreamingContext; \
                 every stream must come from the context that combines them",
                foreign.join(", "),
                streams.len()
            ));
            return false;
        }
        true
    }

    /// A stream of this context made of `plan`.
    fn stream_of<T: Data>(&self, plan: Plan<T>) -> DStream<T> {
        DStream {
            plan,
            ctx: Arc::clone(&self.inner.pipeline),
            source: None,
        }
    }

    /// A stream with no records, returned by a combination that `start()` will refuse.
    fn never_runs<T: Data>(&self, name: &str) -> DStream<T> {
        let lineage = Lineage {
            streaming: true,
            partitions: 1,
            slide: 0,
        };
        self.stream_of(Plan::new(name, lineage, |b: &mut Builder<'_>| {
            b.static_input(Arc::new(|_worker, _peers, _env| Vec::new()))
        }))
    }
}
