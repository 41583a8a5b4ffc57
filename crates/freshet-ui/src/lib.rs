//! # freshet-ui
//!
//! The web UI of a running Freshet job: a live streaming page, a JSON API under `/api/v1/`, a
//! server-sent event stream of batch events, and Prometheus text at `/metrics`.
//!
//! ```no_run
//! use std::time::Duration;
//! use freshet::{StreamingConfig, StreamingContext};
//! use freshet_ui::{UiConfig, UiServer};
//!
//! let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
//! // ... build the pipeline ...
//! let ui = UiServer::start(&ctx, UiConfig::default())?;
//! println!("UI at {}", ui.url());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Serving
//!
//! [`UiServer::start`] binds the address at once (so an address in use is reported to the
//! caller), then serves from its own small tokio runtime on a background thread: the job's
//! workers never run UI code. The UI registers a [`StreamingListener`](freshet::StreamingListener)
//! on the context that turns batch events into server-sent events and histogram observations;
//! everything else (graph, sources, published outputs, batch details) is read from the
//! context's snapshots when a request asks for it. With no page open and no scraper, the UI
//! costs one channel send per event.
//!
//! # Access
//!
//! The UI binds to loopback (`127.0.0.1:4040`) by default. Any other address requires a token
//! ([`UiConfig::token`]): every request must then carry `Authorization: Bearer <token>` or
//! `?token=<token>`, or gets `401 Unauthorized`. The page passes the token it was opened with
//! to its API and event requests.
//!
//! # Limits
//!
//! A connection must send a complete request line and headers within
//! [`UiConfig::header_read_timeout`] (10 s by default) or is closed, and the request line plus
//! headers may take at most [`UiConfig::max_header_bytes`] (16 KiB by default) or get
//! `431 Request Header Fields Too Large`. Values outside their ranges are refused with
//! [`UiError::OutOfRange`].
//!
//! # Shutdown
//!
//! [`UiServer::shutdown`] (or dropping the server) stops accepting connections, ends open event
//! streams and joins the UI thread. The context keeps running; the UI may also outlive it and
//! then shows the final figures.
//!
//! # After the job
//!
//! An [`EventLog`] records what a job did as it runs (JSON lines next to the checkpoint, or in
//! a chosen directory); [`UiServer::start_history`] serves the same page and API, read-only,
//! for a run that has finished or crashed (`freshet history DIR`), as Spark's history server
//! does.
//!
//! # Alerts
//!
//! A [`Webhook`] watches the job and POSTs a JSON alert to a URL when it starts falling
//! behind, a receiver keeps failing, checkpoints fail or the job stops on an error (and when
//! each is resolved). For Prometheus, `deploy/prometheus` holds alerting rules.
//!
//! The endpoints are documented in `docs/monitoring.md`.

#![deny(missing_docs)]

mod api;
mod assets;
mod auth;
mod event_log;
mod events;
mod history;
mod json;
mod prom;
mod prom_health;
mod server;
mod view;
mod webhook;

pub use event_log::{EventLog, EventLogConfig, EventLogError, EVENT_LOG_FORMAT};
pub use history::{runs as recorded_runs, HistoryError};
pub use server::{
    UiConfig, UiError, UiServer, DEFAULT_ADDR, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_HEADER_BYTES,
};
pub use webhook::{Webhook, WebhookConfig, WebhookError};
