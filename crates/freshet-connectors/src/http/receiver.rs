//! [`HttpIngest`]: its settings, and the receiver thread that runs the server and stores the
//! queued requests.

use super::decode::{HttpDecoder, Json, Text};
use super::server::{router, Job, Shared};
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext};
use freshet::{Data, SourceError};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{sync_channel, Receiver as Queue, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest body by default (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 << 20;
/// The largest `max_body_bytes` (1 GiB).
pub const MAX_BODY_BYTES: usize = 1 << 30;
/// Requests waiting to be stored, by default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;
/// The largest `queue_capacity`.
pub const MAX_QUEUE_CAPACITY: usize = 65_536;
/// Requests served at a time, by default.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
/// The largest `max_concurrent_requests`.
pub const MAX_CONCURRENT_REQUESTS: usize = 65_536;
/// In an available-now run, the receiver ends after this long without a request.
pub const AVAILABLE_NOW_IDLE: Duration = Duration::from_secs(1);

/// How often the receiver thread looks at `is_stopped` while the queue is empty.
const POLL: Duration = Duration::from_millis(50);
/// How long a stop waits for requests in flight to be answered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The reliable HTTP ingest receiver: an HTTP/1.1 server whose `POST` endpoint takes records
/// and answers `200` only once all of a request's records are stored with
/// [`ReceiverContext::store_reliably`] — in the receiver write-ahead log when the context has
/// a checkpoint directory. See the [module documentation](super) for the protocol and the
/// guarantee.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::http::HttpIngest;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::get_or_create("/var/lib/events", || {
///     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
///     let ingest = HttpIngest::new("0.0.0.0:8080").bearer_token("s3cret");
///     ctx.receiver_stream(ingest).uid("events").count().print(1);
///     Ok(ctx)
/// })?;
/// ctx.start()?;
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct HttpIngest<D: HttpDecoder = Text> {
    addr: String,
    path: String,
    max_body_bytes: usize,
    queue_capacity: usize,
    max_queue_wait: Duration,
    max_concurrent_requests: usize,
    retry_after: Duration,
    bearer_token: Option<String>,
    bad_records: BadRecordPolicy,
    decoder: Arc<D>,
    listener: Option<TcpListener>,
    bound: LocalAddr,
}

/// Where an [`HttpIngest`] listens, once its context has started: a handle kept before the
/// receiver moves into the context ([`HttpIngest::local_addr_handle`]).
#[derive(Clone, Debug, Default)]
pub struct LocalAddr(Arc<Mutex<Option<SocketAddr>>>);

impl LocalAddr {
    /// The bound address (with the port chosen for port 0), or `None` before the start.
    pub fn get(&self) -> Option<SocketAddr> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, addr: Option<SocketAddr>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = addr;
    }
}

impl HttpIngest<Text> {
    /// An endpoint on `addr` (`host:port`; port 0 picks a free one), bound when the context
    /// starts, producing each record as a `String` ([`Text`]). Plug it in with
    /// [`StreamingContext::receiver_stream`](freshet::StreamingContext::receiver_stream).
    pub fn new(addr: impl Into<String>) -> Self {
        HttpIngest {
            addr: addr.into(),
            path: "/ingest".into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_queue_wait: Duration::from_secs(2),
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            retry_after: Duration::from_secs(1),
            bearer_token: None,
            bad_records: BadRecordPolicy::Fail,
            decoder: Arc::new(Text),
            listener: None,
            bound: LocalAddr::default(),
        }
    }
}

fn check_range<T: PartialOrd + std::fmt::Debug>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), SourceError> {
    if value < min || value > max {
        return Err(SourceError::user(format!(
            "http ingest: {name} must be between {min:?} and {max:?}, not {value:?}"
        )));
    }
    Ok(())
}

impl<D: HttpDecoder> HttpIngest<D> {
    /// The path of the ingest endpoint (default `/ingest`): starts with `/`, at most 256
    /// bytes of visible ASCII without `{`, `}`, `*`, `?` or `#`, and not `/healthz`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The largest request body, in bytes (1 ..= [`MAX_BODY_BYTES`]; default
    /// [`DEFAULT_MAX_BODY_BYTES`], 8 MiB). A larger body is refused with `413`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How many decoded requests may wait to be stored (1 ..= [`MAX_QUEUE_CAPACITY`];
    /// default [`DEFAULT_QUEUE_CAPACITY`]). When the queue is full, a request is refused with
    /// `429` and `Retry-After`.
    pub fn queue_capacity(mut self, requests: usize) -> Self {
        self.queue_capacity = requests;
        self
    }

    /// How long a queued request waits for its turn to be stored before it is refused with
    /// `429` and nothing of it is stored (1 ms ..= 10 min; default 2 s). The store waits while
    /// the receiver buffer is full, until the next batch takes it: the request being stored
    /// then is answered after that, whatever this says.
    pub fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.max_queue_wait = wait;
        self
    }

    /// How many requests are served at a time (1 ..= [`MAX_CONCURRENT_REQUESTS`]; default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`]); more are refused with `429` before their body is
    /// read. Memory is bounded by this times `max_body_bytes`.
    pub fn max_concurrent_requests(mut self, requests: usize) -> Self {
        self.max_concurrent_requests = requests;
        self
    }

    /// The `Retry-After` of a `429`, in whole seconds (1 s ..= 1 h; default 1 s).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Requires `Authorization: Bearer <token>` on the ingest endpoint; a request without it
    /// is refused with `401`. The token is 1 to 4096 bytes of visible ASCII. `GET /healthz`
    /// stays open.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// What to do with a record that does not decode (default [`BadRecordPolicy::Fail`]):
    /// `Fail` refuses the whole request with `400` and stores nothing of it (the job goes
    /// on: the sender has the reason); `Skip` counts it and stores the rest; `DeadLetter`
    /// writes it to the dead-letter directory and stores the rest.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: HttpDecoder>(self, decoder: E) -> HttpIngest<E> {
        HttpIngest {
            addr: self.addr,
            path: self.path,
            max_body_bytes: self.max_body_bytes,
            queue_capacity: self.queue_capacity,
            max_queue_wait: self.max_queue_wait,
            max_concurrent_requests: self.max_concurrent_requests,
            retry_after: self.retry_after,
            bearer_token: self.bearer_token,
            bad_records: self.bad_records,
            decoder: Arc::new(decoder),
            listener: self.listener,
            bound: self.bound,
        }
    }

    /// Produces each record deserialized from JSON into `T` ([`Json`]).
    pub fn json_records<T: Data>(self) -> HttpIngest<Json<T>> {
        self.decode(Json::new())
    }

    /// The address it listens on, once its context has started (the port chosen for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.bound.get()
    }

    /// A handle on [`local_addr`](Self::local_addr) that stays usable after the receiver has
    /// moved into its context.
    pub fn local_addr_handle(&self) -> LocalAddr {
        self.bound.clone()
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        let path_ok = self.path.starts_with('/')
            && self.path.len() <= 256
            && self.path != "/healthz"
            && self
                .path
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"{}*?#".contains(&b));
        if !path_ok {
            return Err(SourceError::user(format!(
                "http ingest: path `{}` is not valid: it must start with `/`, hold at most 256 \
                 visible ASCII characters without `{{`, `}}`, `*`, `?` or `#`, and not be \
                 `/healthz`",
                self.path
            )));
        }
        check_range("max_body_bytes", self.max_body_bytes, 1, MAX_BODY_BYTES)?;
        check_range("queue_capacity", self.queue_capacity, 1, MAX_QUEUE_CAPACITY)?;
        check_range(
            "max_concurrent_requests",
            self.max_concurrent_requests,
            1,
            MAX_CONCURRENT_REQUESTS,
        )?;
        check_range(
            "max_queue_wait",
            self.max_queue_wait,
            Duration::from_millis(1),
            Duration::from_secs(600),
        )?;
        check_range(
            "retry_after",
            self.retry_after,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        if let Some(token) = &self.bearer_token {
            if token.is_empty()
                || token.len() > 4096
                || !token.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(SourceError::user(
                    "http ingest: bearer_token must be 1 to 4096 visible ASCII characters \
                     without spaces",
                ));
            }
        }
        Ok(())
    }

    /// Takes queued requests and stores them until the context stops.
    fn store_queued(
        &self,
        ctx: &ReceiverContext<D::Item>,
        queue: &Queue<Job<D::Item>>,
        server: &tokio::task::JoinHandle<std::io::Result<()>>,
    ) -> Result<(), SourceError> {
        let mut last_request = Instant::now();
        loop {
            if ctx.is_stopped() {
                return Ok(());
            }
            if server.is_finished() {
                return Err(SourceError::external(format!(
                    "http ingest on {}: the server stopped",
                    self.addr
                )));
            }
            let job = match queue.recv_timeout(POLL) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    if ctx.available_now() && last_request.elapsed() >= AVAILABLE_NOW_IDLE {
                        return Ok(());
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(SourceError::internal(format!(
                        "http ingest on {}: the request queue closed",
                        self.addr
                    )))
                }
            };
            last_request = Instant::now();
            if !job.claim() {
                continue;
            }
            self.store_job(ctx, job)?;
        }
    }

    /// Stores one request's records, reports its bad records, and answers its handler.
    fn store_job(
        &self,
        ctx: &ReceiverContext<D::Item>,
        mut job: Job<D::Item>,
    ) -> Result<(), SourceError> {
        let items = std::mem::take(&mut job.items);
        let n = items.len();
        match ctx.store_reliably(items) {
            Ok(()) => {
                for bad in std::mem::take(&mut job.bad) {
                    ctx.bad_record_raw(
                        self.bad_records,
                        &format!("http ingest on {}: {}", self.addr, bad.what),
                        &bad.raw,
                    );
                }
                job.answer(Ok(n));
                Ok(())
            }
            Err(e) => {
                let why = e.error.to_string();
                job.answer(Err(why.clone()));
                Err(SourceError::external(format!(
                    "http ingest on {}: cannot store {n} records: {why}",
                    self.addr
                )))
            }
        }
    }
}

impl<D: HttpDecoder> Receiver for HttpIngest<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!("http ingest {}{}", self.addr, self.path)
    }

    fn kind(&self) -> &'static str {
        "http_ingest"
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.validate()?;
        let listener = TcpListener::bind(&self.addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| {
                SourceError::io(format!("http ingest: cannot listen on {}", self.addr), e)
            })?;
        self.bound.set(listener.local_addr().ok());
        self.listener = Some(listener);
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        let what = format!("http ingest on {}", self.addr);
        let listener = self
            .listener
            .as_ref()
            .ok_or_else(|| SourceError::internal(format!("{what}: run before on_start")))?
            .try_clone()
            .map_err(|e| SourceError::io(&what, e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("freshet-http-ingest")
            .enable_all()
            .build()
            .map_err(|e| SourceError::io(format!("{what}: cannot start its runtime"), e))?;
        let (jobs, queue) = sync_channel(self.queue_capacity);
        let shared = Arc::new(Shared {
            decoder: Arc::clone(&self.decoder),
            jobs,
            authorization: self.bearer_token.as_ref().map(|t| format!("Bearer {t}")),
            permits: Arc::new(tokio::sync::Semaphore::new(self.max_concurrent_requests)),
            policy: self.bad_records,
            max_queue_wait: self.max_queue_wait,
            retry_after_secs: self.retry_after.as_secs().max(1),
        });
        let app = router(shared, &self.path, self.max_body_bytes);
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|e| SourceError::io(&what, e))?
        };
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let server = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        let result = self.store_queued(ctx, &queue, &server);
        // Stop accepting; requests still queued are answered 503 as their jobs drop.
        let _ = stop.send(true);
        drop(queue);
        runtime.block_on(async {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, server).await;
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }
}
