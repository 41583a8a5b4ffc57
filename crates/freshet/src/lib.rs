//! # Freshet
//!
//! Micro-batch stream processing in Rust: a live stream is cut into batches at a fixed interval,
//! each batch is a finite partitioned dataset, and the same operators serve batch jobs
//! ([`Dataset`]) and streams ([`DStream`]). Execution runs on timely-dataflow: each batch time is
//! a timely timestamp, workers are threads, keyed operators exchange records by key hash, and a
//! batch is complete when the dataflow's frontier passes its time.
//!
//! ```
//! use std::time::Duration;
//! use freshet::{Dataset, StreamingConfig, StreamingContext};
//!
//! // One function for batch jobs and streams.
//! fn errors(lines: Dataset<String>) -> Dataset<String> {
//!     lines.filter(|l| l.contains("ERROR"))
//! }
//!
//! let batch = Dataset::parallelize(vec!["ok".to_string(), "ERROR disk".to_string()], 2);
//! assert_eq!(errors(batch).collect()?, vec!["ERROR disk".to_string()]);
//!
//! let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
//! let found = ctx
//!     .queue_stream(vec![vec!["ERROR a".to_string(), "fine".to_string()]])
//!     .transform(errors)
//!     .collect_batches();
//! ctx.run_available_now()?;
//! assert_eq!(found.batches()[0].1, vec!["ERROR a".to_string()]);
//! # Ok::<(), freshet::Error>(())
//! ```
//!
//! See [`StreamingContext`] for the life cycle of a job, [`source`] for the inputs, and
//! [`DStream`] for the operators.

#![deny(missing_docs)]

mod clock;
pub mod cluster;
mod codec;
mod collection;
mod config;
mod context;
mod data;
mod dataset;
mod disk;
mod dstream;
mod durability;
mod each_batch;
mod error;
pub mod event_time;
mod job_failure;
mod listener;
pub mod metrics;
mod ops;
pub mod ordering;
mod partitions;
mod pipeline;
mod plan;
pub mod rate;
pub mod remember;
mod run;
mod running;
mod runtime;
pub mod sink;
pub mod source;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod window;
mod window_every_batch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{DamagePolicy, DiskFullPolicy, FsyncPolicy, StreamingConfig};
pub use context::StreamingContext;
pub use data::{Data, Key};
pub use dataset::{Dataset, MAX_BATCH_WORKERS};
pub use dstream::{CollectedBatches, DStream};
pub use error::{ConnectorError, Error, ErrorDomain, Result, RetryHint, SinkError, SourceError};
pub use event_time::{
    EventTimeStream, EventWindow, EventWindows, LatePolicy, WatermarkOptions, WindowSpec,
};
pub use job_failure::{fail_job, JobFailure};
pub use listener::{
    BatchInfo, CheckpointInfo, OutputOperationInfo, ReceiverEvent, StreamingListener,
};
pub use metrics::Backlog;
pub use pipeline::Output;
pub use remember::RememberedBatches;
pub use state::{MapWithStateStream, State, StateSpec, UpdateStateSpec};
pub use time::{current_batch_time, BatchTime};
