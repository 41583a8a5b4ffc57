//! A testing kit for pipelines and connectors (behind the `testing` feature).
//!
//! - [`run_operation`] (and [`run_operation2`]) is Spark's `testOperation`: queued input
//!   batches through a pipeline on a manual clock, every output batch returned.
//! - [`BatchStepper`] drives a context on a [`ManualClock`](crate::ManualClock): each
//!   [`step`](BatchStepper::step) advances the clock one batch interval and waits until that
//!   batch has completed, so tests never race the clock.
//! - [`laws`] holds the checks every connector must pass: replaying a logged range yields the
//!   same records, offsets round-trip through the checkpoint encoding, `stop` returns, a dropped
//!   connection is retryable, and a sink written twice equals a sink written once.
//! - [`crash`] holds the pieces of a crash test: a pipeline killed with SIGKILL at random
//!   moments and compared with an uninterrupted run.
//!
//! ```
//! use freshet::testing::BatchStepper;
//! use freshet::StreamingConfig;
//! use std::time::Duration;
//!
//! let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)))?;
//! let out = stepper
//!     .context()
//!     .queue_stream(vec![vec![1, 2], vec![3]])
//!     .map(|x: i32| x * 10)
//!     .collect_batches();
//! stepper.start()?;
//! stepper.steps(2)?;
//! stepper.stop()?;
//! assert_eq!(out.sorted_batches(), vec![vec![10, 20], vec![30]]);
//! # Ok::<(), freshet::Error>(())
//! ```

pub mod crash;
pub mod laws;
mod operation;
mod stepper;

pub use operation::{run_operation, run_operation2, OperationOutput, OPERATION_INTERVAL};
pub use stepper::BatchStepper;
