//! Starting and stopping the UI server.

use crate::events::UiListener;
use crate::prom::Prometheus;
use crate::{api, assets, auth, events};
use axum::routing::get;
use axum::Router;
use freshet::StreamingContext;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{broadcast, watch};

/// The address the UI binds to unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4040";

/// Where and how the UI serves.
#[derive(Clone, Debug)]
pub struct UiConfig {
    /// The address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The token every request must carry. Required for a non-loopback address.
    pub token: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            addr: DEFAULT_ADDR.parse().expect("a valid default address"),
            token: None,
        }
    }
}

impl UiConfig {
    /// Serves on `addr` without a token (allowed on loopback only).
    pub fn new(addr: SocketAddr) -> Self {
        UiConfig { addr, token: None }
    }

    /// Requires `token` on every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
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
    /// The UI's runtime or thread could not be created.
    #[error("cannot start the UI runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// What every request handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub ctx: StreamingContext,
    pub events: broadcast::Sender<events::UiEvent>,
    pub prometheus: Arc<Prometheus>,
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
    /// non-loopback address without a token and [`UiError::AddrInUse`] when the address is
    /// taken.
    pub fn start(ctx: &StreamingContext, config: UiConfig) -> Result<UiServer, UiError> {
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

        let (events, _) = broadcast::channel(1024);
        let prometheus = Arc::new(Prometheus::new(ctx.clone()));
        ctx.add_listener(Arc::new(UiListener::new(
            events.clone(),
            prometheus.histograms(),
        )));
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            ctx: ctx.clone(),
            events,
            prometheus,
            token: config.token.as_deref().map(Arc::from),
            shutdown: shutdown.clone(),
        };
        let app = router(state);

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
                    let mut shutdown = shutdown;
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = shutdown.wait_for(|s| *s).await;
                    });
                    if let Err(e) = serve.await {
                        tracing::error!("the UI stopped serving: {e}");
                    }
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

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/static/app.js", get(assets::app_js))
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
        .route("/api/v1/events", get(events::stream))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        .with_state(state)
}
