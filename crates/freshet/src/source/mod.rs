//! Sources: where a stream's records come from.
//!
//! Two kinds, as in Spark Streaming:
//!
//! - **Direct sources** ([`DirectSource`]) are read by offset ranges. At each batch boundary the
//!   engine fixes the batch's range, logs it before the batch runs, and the workers read their
//!   splits of it; after a crash the logged ranges are read again, so nothing is lost or counted
//!   twice. Built on it: [`queue`] (a list of batches, the workhorse of tests), [`generator`]
//!   (records made from sequence numbers at a fixed rate, used by the demo) and [`file_stream`]
//!   (lines of new text files in a directory).
//! - **Receivers** ([`Receiver`]) are pushed to and store what arrives; with a checkpoint
//!   directory what they store goes to a write-ahead log first. Built on it: [`socket`] (lines of
//!   text over TCP, as a client or a listener).
//!
//! Connectors outside this crate implement the same two traits and plug in with
//! [`StreamingContext::direct_stream`](crate::StreamingContext::direct_stream) and
//! [`StreamingContext::receiver_stream`](crate::StreamingContext::receiver_stream). Every source
//! has a stable id (its kind and ordinal, or what [`DStream::uid`](crate::DStream::uid) sets):
//! checkpoints and the batch log key its offsets by it.

mod data_loss;
pub(crate) mod direct;
pub(crate) mod direct_planner;
pub mod file_discovery;
pub mod file_stream;
pub mod generator;
pub(crate) mod planner;
pub mod queue;
pub mod receiver;
pub(crate) mod receiver_source;
mod receiver_wal;
pub mod socket;

pub use data_loss::{DataLoss, DataLossPolicy};
pub use direct::{
    BadRecordPolicy, DirectOptions, DirectSource, ReadContext, SplitReader, StartContext,
};
pub use receiver::{Backoff, Receiver, ReceiverContext, ReceiverOptions, StoreError};
