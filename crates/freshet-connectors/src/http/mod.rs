//! HTTP ingest: records POSTed to an endpoint, acknowledged once they are safe.
//!
//! # [`HttpIngest`]
//!
//! A reliable [`Receiver`](freshet::source::Receiver) that serves HTTP/1.1 (axum, on a tokio
//! runtime owned by the receiver thread). It binds its address when the context starts, so an
//! address in use fails `start()` with a user error naming it; port 0 picks a free port,
//! which [`HttpIngest::local_addr_handle`] reports.
//!
//! **Protocol**: `POST /ingest` (see [`HttpIngest::path`]) with one record per line
//! (`Content-Type: application/x-ndjson`, `application/jsonl`, `text/plain`, or none; empty
//! lines and a trailing `\r` are dropped) or a JSON array, one record per element
//! (`application/json`). Records are `String`s by default ([`Text`]: a line as it is, an
//! element as its compact JSON text); [`HttpIngest::json_records`] deserializes each into a
//! serde type instead. `GET /healthz` answers `200 ok` without authentication. The answers:
//!
//! | status | when |
//! |---|---|
//! | `200 {"accepted": n, "skipped": k}` | every record of the request is stored (skipped ones per the bad-record policy) |
//! | `400 {"error": ...}` | a record does not decode under [`BadRecordPolicy::Fail`](freshet::source::BadRecordPolicy) (the default), or a JSON body is not an array: nothing of the request is stored |
//! | `401` | [`bearer_token`](HttpIngest::bearer_token) is set and `Authorization: Bearer <token>` is missing or wrong |
//! | `404` / `405` | another path / another method |
//! | `413` | the body is larger than [`max_body_bytes`](HttpIngest::max_body_bytes) (8 MiB) |
//! | `415` | another `Content-Type` |
//! | `429` + `Retry-After` | the queue is full, the records waited longer than [`max_queue_wait`](HttpIngest::max_queue_wait), or too many requests at once: nothing stored |
//! | `503` | the records could not be stored (the write-ahead log failed) or the receiver is stopping: nothing stored |
//!
//! **Guarantee**: a `200` is sent only after
//! [`store_reliably`](freshet::source::ReceiverContext::store_reliably) returned `Ok` for all
//! of the request's records — with a checkpoint directory, after they are in the receiver
//! write-ahead log — so a sender that got a `200` never loses its records, whatever crashes
//! follow. Any other answer means nothing of the request was stored, with one exception: when
//! the connection breaks (or the process dies) after the records were stored and before the
//! `200` reached the sender. So the delivery is **exactly-once for a request answered `200`
//! on its first attempt, and at-least-once for a sender that retries** after an error or a
//! lost answer: the retried records may be counted twice. Make records unique (an event id)
//! and deduplicate downstream when that matters. Without a checkpoint directory a `200` means
//! the records are in the receiver's memory buffer, and a crash loses what was not processed.
//!
//! **Backpressure and memory**: handlers decode a request and put it on a bounded queue
//! ([`queue_capacity`](HttpIngest::queue_capacity), 64 requests); the receiver thread stores
//! one request at a time, and waits while the receiver buffer is full, until the next batch
//! takes it. A full queue, or a request not taken within `max_queue_wait` (2 s), is answered
//! `429` with `Retry-After` ([`retry_after`](HttpIngest::retry_after), 1 s).
//! [`max_concurrent_requests`](HttpIngest::max_concurrent_requests) (256) requests are served
//! at a time, more get `429` before their body is read, so memory stays below that many
//! bodies.
//!
//! **Stopping**: when the context stops, the server stops accepting, requests still queued
//! get `503`, and those being stored are answered first.
//!
//! **Available-now runs** end once no request arrived for [`AVAILABLE_NOW_IDLE`] (1 s).
//!
//! ```no_run
//! use freshet::{StreamingConfig, StreamingContext};
//! use freshet_connectors::http::HttpIngest;
//! use std::time::Duration;
//!
//! #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
//! struct Click {
//!     page: String,
//! }
//!
//! let ctx = StreamingContext::get_or_create("/var/lib/clicks", || {
//!     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
//!     let ingest = HttpIngest::new("0.0.0.0:8080")
//!         .bearer_token("s3cret")
//!         .json_records::<Click>();
//!     ctx.receiver_stream(ingest)
//!         .uid("clicks")
//!         .map(|c: Click| (c.page, 1u64))
//!         .reduce_by_key(|a, b| a + b)
//!         .print(10);
//!     Ok(ctx)
//! })?;
//! ctx.start()?;
//! # Ok::<(), freshet::Error>(())
//! ```
//!
//! ```sh
//! curl -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/x-ndjson' \
//!     --data-binary $'{"page":"/"}\n{"page":"/about"}\n' http://localhost:8080/ingest
//! ```

mod decode;
mod receiver;
mod server;

pub use decode::{HttpDecoder, Json, Text};
pub use receiver::{
    HttpIngest, LocalAddr, AVAILABLE_NOW_IDLE, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_QUEUE_CAPACITY, MAX_BODY_BYTES,
    MAX_CONCURRENT_REQUESTS, MAX_QUEUE_CAPACITY,
};
