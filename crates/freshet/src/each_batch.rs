//! `transform_each_batch`: Spark's `transform` with a function that looks at its batch.
//!
//! [`DStream::transform`] builds its plan once and runs it on every batch, in parallel, for
//! free; its function cannot run actions on the batch. `transform_each_batch` calls its
//! function at every batch, as Spark does, with the batch as a [`Dataset`] on which actions
//! run (as batch jobs), so it may count the batch, branch on it, load a reference dataset per
//! batch and join it. The price: the batch is gathered on worker 0, each action runs a batch
//! job, and the result is collected and spread over the workers again.

use crate::data::Data;
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::error::Result;
use crate::ops;
use crate::time::{with_batch_time, BatchTime};
use std::sync::Arc;

impl<T: Data> DStream<T> {
    /// Calls `f(time, batch)` at every batch, empty ones included, and makes the dataset it
    /// returns that batch of the result (Spark's `transform(rdd => ...)` with actions inside).
    ///
    /// `batch` holds the batch's records in as many partitions as the context has workers;
    /// actions on it and on datasets derived from it (`count`, `collect`, `take`, ...) run as
    /// batch jobs, so `f` can branch on what the batch holds, load a dataset for this batch
    /// (a reference table that changes) and join with it. An error `f` returns stops the job
    /// with [`Error::Operator`](crate::Error::Operator) naming the batch.
    ///
    /// Prefer [`transform`](Self::transform) when `f` only transforms (no actions, no
    /// per-batch decisions): it runs on every worker without gathering. This gathers each batch
    /// on one worker, runs `f` there, and spreads the result over the workers again.
    ///
    /// ```
    /// # use freshet::testing::run_operation;
    /// use freshet::{Dataset, DStream};
    ///
    /// // Batches of fewer than 3 records are dropped; others are doubled.
    /// let out = run_operation(vec![vec![1, 2], vec![3, 4, 5]], 2, |s: DStream<i32>| {
    ///     s.transform_each_batch(|_time, batch: Dataset<i32>| {
    ///         Ok(if batch.count()? < 3 {
    ///             Dataset::parallelize(vec![], 1)
    ///         } else {
    ///             batch.map(|x| x * 2)
    ///         })
    ///     })
    /// })?;
    /// assert_eq!(out.sorted(), vec![vec![], vec![6, 8, 10]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn transform_each_batch<U, F>(&self, f: F) -> DStream<U>
    where
        U: Data,
        F: Fn(BatchTime, Dataset<T>) -> Result<Dataset<U>> + Send + Sync + 'static,
    {
        let workers = self.ctx.config.worker_count();
        let f = Arc::new(f);
        let batch_fn: ops::each_batch::BatchFn<T, U> = Arc::new(move |t, records| {
            // `f` itself reads this batch's time through `current_batch_time`, as operator
            // closures do.
            with_batch_time(t, || {
                let batch = Dataset::parallelize(records, workers);
                f(BatchTime(t), batch)?.collect()
            })
        });
        let every = self.plan.lineage().slide;
        let gathered = self.wrap(self.plan.derive("transform_each_batch", move |s, b| {
            ops::each_batch::each_batch(
                s,
                &b.env,
                "transform_each_batch",
                every,
                Arc::clone(&batch_fn),
            )
        }));
        gathered.repartition(workers)
    }
}
