//! RabbitMQ: queues as a reliable receiver stream (AMQP 0-9-1, manual acknowledgements).
//!
//! # [`RabbitMqSource::receiver`]
//!
//! A [`RabbitMqReceiver`] consumes one queue through [lapin](https://docs.rs/lapin) with
//! manual acknowledgements (`basic.consume` with `no_ack = false`). It gathers deliveries into
//! blocks ([`block_size`](RabbitMqReceiver::block_size) deliveries, or
//! [`block_max_wait`](RabbitMqReceiver::block_max_wait) after the first one), stores each block
//! with [`ReceiverContext::store_reliably`](freshet::source::ReceiverContext::store_reliably)
//! and only once that returns `Ok` — with a checkpoint directory, once the block is in the
//! receiver write-ahead log — acknowledges every delivery up to the block's last one
//! (`basic.ack` with `multiple = true`). A block that cannot be stored is rejected back to the
//! queue (`basic.nack` with `requeue = true`) and the receiver restarts.
//!
//! ```no_run
//! use freshet::{StreamingConfig, StreamingContext};
//! use freshet_connectors::rabbitmq::RabbitMqSource;
//! use std::time::Duration;
//!
//! let ctx = StreamingContext::get_or_create("/var/lib/orders", || {
//!     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
//!     let orders = RabbitMqSource::receiver("amqp://guest:guest@127.0.0.1:5672/%2f", "orders")
//!         .prefetch(2000);
//!     ctx.receiver_stream(orders).uid("orders").count().print(1);
//!     Ok(ctx)
//! })?;
//! ctx.start()?;
//! # Ok::<(), freshet::Error>(())
//! ```
//!
//! **Guarantee: at-least-once** with a checkpoint directory. Nothing acknowledged is lost: it
//! is in the write-ahead log, and a restart replays it. Whatever was delivered and not
//! acknowledged when the receiver or the process stopped goes back to the queue when the
//! connection closes and comes again, with [`RabbitMqMessage::redelivered`] set; so a crash
//! between a store and its acknowledgement delivers that block twice. Without a checkpoint
//! directory a block is acknowledged once it is in memory, and a crash loses the blocks not yet
//! processed. Write to an idempotent sink (or deduplicate on a message id) for exactly-once
//! results.
//!
//! **Backpressure**: [`prefetch`](RabbitMqReceiver::prefetch) (`basic.qos`, default 1000)
//! bounds the deliveries not yet acknowledged. When the pipeline falls behind, the receiver's
//! buffer fills, storing waits, no acknowledgement goes out, and the broker stops sending: the
//! messages wait in the queue, not in memory.
//!
//! **The queue** must exist, unless [`declare_queue`](RabbitMqReceiver::declare_queue) asks the
//! receiver to declare it. Bind it to the exchanges you publish to; the receiver declares no
//! exchange or binding.
//!
//! **Items**: UTF-8 payloads by default ([`Utf8`]), raw bytes ([`Bytes`]), JSON into a serde
//! type (`Json`, with `serde_json` from the `files` or `kafka` feature), or whole
//! [`RabbitMqMessage`]s with exchange, routing key, headers and payload ([`Messages`]); any
//! [`RabbitMqDecoder`]. A payload that does not decode follows the receiver's
//! [`bad_records`](RabbitMqReceiver::bad_records) policy: skipped, counted and acknowledged
//! with its block, or failing the job (it then stays in the queue).
//!
//! **Errors**: a refused or dropped connection, a broker restarting, a channel closed by the
//! broker for a transient reason, a timeout are the outside world's: the receiver is restarted
//! with back-off and reconnects. A missing queue (404 NOT_FOUND), a refused access (403), a
//! virtual host that does not exist or may not be opened (530, 402), a queue declared with other
//! arguments (406) and a bad setting are the user's: the job fails, and the message names the
//! queue or the setting. [`RabbitMqReceiver::ready_messages`] makes the same checks without
//! consuming.
//!
//! **Available-now runs** end when the queue has no message ready and every delivery taken is
//! stored and acknowledged.
//!
//! **Runtime**: each run of the receiver drives lapin on a current-thread tokio runtime of its
//! own, waiting at most [`poll_timeout`](RabbitMqReceiver::poll_timeout) for a delivery before
//! it looks whether the stream is stopping. `amqps` (TLS) is not built in.

mod consume;
mod error;
mod message;
mod receiver;

pub use message::Json;
pub use message::{Bytes, Messages, RabbitMqDecoder, RabbitMqHeader, RabbitMqMessage, Utf8};
pub use receiver::{RabbitMqReceiver, RabbitMqSource, MAX_BLOCK_SIZE};
