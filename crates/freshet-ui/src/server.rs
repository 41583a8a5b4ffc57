//! Starting and stopping the UI server.

use crate::events::UiListener;
use crate::prom::Prometheus;
use crate::view::{LiveView, View};
use crate::{api, assets, auth, events};
use axum::routing::get;
use axum::Router;
use freshet::StreamingContext;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::{SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The address the UI binds to unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4040";

/// How long a connection may take to send a request's line and headers unless told otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request line and headers, in bytes, the UI accepts unless told otherwise.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

const HEADER_READ_TIMEOUT_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(300);
const MAX_HEADER_BYTES_RANGE: RangeInclusive<usize> = 1024..=1024 * 1024;

/// Where and how the UI serves.
#[derive(Clone, Debug)]
pub struct UiConfig {
    /// The address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The token every request must carry. Required for a non-loopback address.
    pub token: Option<String>,
    /// How long a connection may take to send a complete request line and headers, counted from
    /// when the server starts waiting for them (on a new connection, or after the previous
    /// response on a kept-alive one); the connection is closed when it runs out. 100 ms to
    /// 5 min; [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s) by default.
    pub header_read_timeout: Duration,
    /// The largest request line plus headers, in bytes; a larger request gets
    /// `431 Request Header Fields Too Large` and the connection is closed. 1 KiB to 1 MiB;
    /// [`DEFAULT_MAX_HEADER_BYTES`] (16 KiB) by default.
    pub max_header_bytes: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig::new(DEFAULT_ADDR.parse().expect("a valid default address"))
    }
}

impl UiConfig {
    /// Serves on `addr` without a token (allowed on loopback only), with the default limits.
    pub fn new(addr: SocketAddr) -> Self {
        UiConfig {
            addr,
            token: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }

    /// Requires `token` on every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets [`header_read_timeout`](UiConfig::header_read_timeout) (100 ms to 5 min).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`max_header_bytes`](UiConfig::max_header_bytes) (1 KiB to 1 MiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Checks the settings that have a range.
    fn validate(&self) -> Result<(), UiError> {
        if !HEADER_READ_TIMEOUT_RANGE.contains(&self.header_read_timeout) {
            return Err(UiError::OutOfRange {
                setting: "header_read_timeout",
                value: format!("{:?}", self.header_read_timeout),
                allowed: "100ms to 300s",
            });
        }
        if !MAX_HEADER_BYTES_RANGE.contains(&self.max_header_bytes) {
            return Err(UiError::OutOfRange {
                setting: "max_header_bytes",
                value: self.max_header_bytes.to_string(),
                allowed: "1024 to 1048576 bytes",
            });
        }
        Ok(())
    }
}

/// Why the UI could not start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A non-loopback address was asked for without a token.
    #[error(
        "the UI would be reachable from other machines on {0}; give it a token (--ui-token) \
         or bind a loopback address"
    )]
    TokenRequired(SocketAddr),
    /// The token is empty or contains characters that cannot travel in a header.
    #[error("the UI token must be non-empty visible ASCII without spaces")]
    InvalidToken,
    /// A setting of [`UiConfig`] is outside its allowed range.
    #[error("the UI setting {setting} = {value} is out of range (allowed: {allowed})")]
    OutOfRange {
        /// The setting's name, as the field of [`UiConfig`].
        setting: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// Another process holds the address.
    #[error(
        "the UI address {0} is already in use; choose another with --ui-addr \
         (port 0 picks a free one) or turn the UI off with --ui-addr off"
    )]
    AddrInUse(SocketAddr),
    /// Binding failed for another reason.
    #[error("cannot bind the UI to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The event log of a recorded run could not be read.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// The UI's runtime or thread could not be created.
    #[error("cannot start the UI runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// What every request handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    /// What is shown: a running context or a recorded run.
    pub view: Arc<dyn View>,
    pub events: broadcast::Sender<events::UiEvent>,
    /// The metrics registry (a recorded run has none).
    pub prometheus: Option<Arc<Prometheus>>,
    pub token: Option<Arc<str>>,
    pub shutdown: watch::Receiver<bool>,
}

/// A running UI server. Dropping it shuts it down.
pub struct UiServer {
    addr: SocketAddr,
    token: Option<String>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for UiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl UiServer {
    /// Binds `config.addr` and serves the UI of `ctx` from a background thread.
    ///
    /// May be called before or after the context starts; start it before `ctx.start()` to see
    /// the events of the first batches. Fails with [`UiError::TokenRequired`] for a
    /// non-loopback address without a token, [`UiError::OutOfRange`] for a limit outside its
    /// range and [`UiError::AddrInUse`] when the address is taken.
    pub fn start(ctx: &StreamingContext, config: UiConfig) -> Result<UiServer, UiError> {
        config.validate()?;
        let (events, _) = broadcast::channel(1024);
        let prometheus = Arc::new(Prometheus::new(ctx.clone()));
        let listener = Arc::new(UiListener::new(events.clone(), prometheus.histograms()));
        let view = Arc::new(LiveView { ctx: ctx.clone() });
        let server = Self::serve_view(view, events, Some(prometheus), config)?;
        ctx.add_listener(listener);
        Ok(server)
    }

    /// Serves the UI of a recorded run read-only (`freshet history`): the newest run of the
    /// event log in `dir`, or run `run` (see [`EventLog`](crate::EventLog)). The page, the
    /// JSON API and the event stream answer as for a running job that has stopped; `/metrics`
    /// answers `404`. Fails with [`UiError::History`] when the log cannot be read.
    pub fn start_history(
        dir: &Path,
        run: Option<&str>,
        config: UiConfig,
    ) -> Result<UiServer, UiError> {
        config.validate()?;
        let recorded = crate::history::load(dir, run)?;
        let (events, _) = broadcast::channel(1);
        Self::serve_view(Arc::new(recorded), events, None, config)
    }

    fn serve_view(
        view: Arc<dyn View>,
        events: broadcast::Sender<events::UiEvent>,
        prometheus: Option<Arc<Prometheus>>,
        config: UiConfig,
    ) -> Result<UiServer, UiError> {
        if let Some(t) = &config.token {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(UiError::InvalidToken);
            }
        }
        if !config.addr.ip().is_loopback() && config.token.is_none() {
            return Err(UiError::TokenRequired(config.addr));
        }
        let listener = TcpListener::bind(config.addr).map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => UiError::AddrInUse(config.addr),
            _ => UiError::Bind {
                addr: config.addr,
                source: e,
            },
        })?;
        let addr = listener.local_addr().map_err(|e| UiError::Bind {
            addr: config.addr,
            source: e,
        })?;
        listener.set_nonblocking(true).map_err(|e| UiError::Bind {
            addr: config.addr,
            source: e,
        })?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("freshet-ui")
            .enable_all()
            .build()
            .map_err(UiError::Runtime)?;

        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            view,
            events,
            prometheus,
            token: config.token.as_deref().map(Arc::from),
            shutdown: shutdown.clone(),
        };
        let app = router(state);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_header_size(config.max_header_bytes);

        let thread = std::thread::Builder::new()
            .name("freshet-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("the UI cannot serve: {e}");
                            return;
                        }
                    };
                    serve(listener, http, app, shutdown).await;
                });
                runtime.shutdown_background();
            })
            .map_err(UiError::Runtime)?;

        Ok(UiServer {
            addr,
            token: config.token,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, with the token when there is one.
    pub fn url(&self) -> String {
        match &self.token {
            Some(t) => format!("http://{}/?token={}", self.addr, auth::encode_query(t)),
            None => format!("http://{}/", self.addr),
        }
    }

    /// Stops serving, ends open event streams and waits for the UI thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Serves HTTP/1.1 connections on `listener` until `shutdown` turns true, then stops accepting
/// and waits for the open connections to finish their current response and close.
async fn serve(
    mut listener: tokio::net::TcpListener,
    http: http1::Builder,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            // axum's accept retries after errors (and pauses after running out of descriptors).
            (stream, _) = axum::serve::Listener::accept(&mut listener) => stream,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("a UI connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/static/app.js", get(assets::app_js))
        .route("/static/health.js", get(assets::health_js))
        .route("/static/style.css", get(assets::style_css))
        .route("/favicon.ico", get(assets::favicon))
        .route("/metrics", get(crate::prom::metrics))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/batches", get(api::batches))
        .route("/api/v1/batches/active", get(api::active_batches))
        .route("/api/v1/batches/{time}", get(api::batch_detail))
        .route("/api/v1/graph", get(api::graph))
        .route("/api/v1/sources", get(api::sources))
        .route("/api/v1/outputs", get(api::outputs))
        .route("/api/v1/outputs/{name}", get(api::output))
        .route("/api/v1/health", get(api::health))
        .route("/api/v1/cluster", get(api::cluster))
        .route("/api/v1/events", get(events::stream))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        .with_state(state)
}
