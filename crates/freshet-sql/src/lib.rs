//! SQL over Freshet streams and datasets, planned and evaluated by
//! [Apache DataFusion](https://datafusion.apache.org).
//!
//! Register streams (or datasets) and static tables with a [`SqlContext`], then turn a query
//! into a stream of rows with [`SqlContext::sql_stream`] (or a batch job with
//! [`SqlContext::sql_dataset`]). Records cross into SQL as Arrow record batches ([`Rows`]),
//! one per worker and batch.
//!
//! # How a query runs
//!
//! DataFusion parses, plans and optimizes the query. Freshet then cuts the plan where it has
//! operators of its own ([`SqlContext::explain`] shows the cut):
//!
//! - **No aggregation** (projections, filters, scalar functions, `UNNEST`, joins with static
//!   tables): every worker evaluates the whole plan over its partition of each batch. Nothing
//!   is exchanged and nothing is kept.
//! - **`GROUP BY` without a window**: a *running aggregate*. Each worker evaluates the group
//!   keys and the aggregates' arguments, Freshet combines them per group (`combine_by_key`),
//!   exchanges the partial aggregates by key, and merges them into state kept per group
//!   (`map_with_state`, checkpointed). Each batch emits the groups it updated, with their
//!   aggregates over the whole stream so far (Spark's *update* mode). Over a dataset, each
//!   group comes out once.
//! - **`GROUP BY tumble(time, size)`**, **`hop(time, slide, size)`** or **`session(time,
//!   gap)`** (with any other keys): Freshet's event-time windows. A window is emitted once,
//!   when the watermark of the stream ([`StreamOptions`]) passes its end; late rows are
//!   dropped and counted. The window column is a struct `{start, end}` of millisecond
//!   timestamps (`end` exclusive); the time is a timestamp column or an integer of
//!   milliseconds.
//!
//! What is above the aggregation (`HAVING`, expressions of the groups in the `SELECT` list)
//! is evaluated by DataFusion on each worker's groups.
//!
//! The aggregate functions are `count`, `sum`, `min`, `max` and `avg`. A query that cannot
//! run continuously (`ORDER BY` or `LIMIT` on a stream, window functions with `OVER`, `DISTINCT`
//! aggregates, a join keeping a static table's unmatched rows, more than one stream) is
//! refused when it is planned, with a [`SqlError::Unsupported`] naming the construct.

mod accumulate;
mod context;
mod error;
mod exec;
mod explain;
pub mod files;
pub mod formats;
mod options;
mod output;
mod pipeline;
mod rows;
mod split;
mod stages;
mod value;
mod windows;

pub use context::SqlContext;
pub use error::{Result, SqlError};
pub use options::StreamOptions;
pub use output::{SqlDataset, SqlStream};
pub use rows::Rows;
pub use value::Value;

/// The Arrow crates DataFusion uses, for building record batches and schemas.
pub use datafusion::arrow;
