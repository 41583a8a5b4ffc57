//! The reliable receiver: its settings, their validation, and the [`Receiver`] it plugs into a
//! streaming context.

use super::message::Json;
use super::message::{Bytes, Messages, RabbitMqDecoder, Utf8};
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext};
use freshet::SourceError;
use lapin::uri::{AMQPScheme, AMQPUri};
use std::sync::Arc;
use std::time::Duration;

/// The largest `block_size`.
pub const MAX_BLOCK_SIZE: usize = 1_000_000;
/// The longest `block_max_wait`.
const MAX_BLOCK_WAIT: Duration = Duration::from_secs(60);
/// The longest `poll_timeout`.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest `block_max_wait` and `poll_timeout`.
pub(super) const MIN_WAIT: Duration = Duration::from_millis(1);
/// The range of `request_timeout`.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest queue name or consumer tag (an AMQP short string).
const MAX_NAME: usize = 255;

/// Where RabbitMQ streams come from: see [`RabbitMqSource::receiver`].
#[derive(Clone, Copy, Debug)]
pub struct RabbitMqSource;

impl RabbitMqSource {
    /// A reliable receiver of the queue `queue` on the broker at `uri`
    /// (`amqp://user:password@host:port/vhost`, the default virtual host `/` spelled `%2f`:
    /// `amqp://guest:guest@127.0.0.1:5672/%2f`), producing the payloads as UTF-8 text; plug it
    /// in with [`StreamingContext::receiver_stream`](freshet::StreamingContext::receiver_stream).
    /// See [`RabbitMqReceiver`].
    pub fn receiver(uri: impl Into<String>, queue: impl Into<String>) -> RabbitMqReceiver<Utf8> {
        RabbitMqReceiver {
            uri: uri.into(),
            queue: queue.into(),
            prefetch: 1000,
            block_size: 1000,
            block_max_wait: Duration::from_millis(200),
            poll_timeout: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
            declare: None,
            consumer_tag: String::new(),
            bad_records: BadRecordPolicy::Skip,
            decoder: Arc::new(Utf8),
        }
    }
}

/// A reliable RabbitMQ receiver: a consumer of one queue with manual acknowledgements, which
/// stores what the broker delivers in blocks with [`ReceiverContext::store_reliably`] and,
/// only once a block is stored (in the receiver write-ahead log when the context has a
/// checkpoint directory), acknowledges every delivery up to the block's last one
/// (`basic.ack` with `multiple`). See the [module documentation](super) for the guarantees.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::rabbitmq::RabbitMqSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::get_or_create("/var/lib/orders", || {
///     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
///     let receiver = RabbitMqSource::receiver("amqp://guest:guest@127.0.0.1:5672/%2f", "orders")
///         .prefetch(2000)
///         .block_max_wait(Duration::from_millis(200));
///     ctx.receiver_stream(receiver).uid("orders").count().print(1);
///     Ok(ctx)
/// })?;
/// ctx.start()?;
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct RabbitMqReceiver<D: RabbitMqDecoder = Utf8> {
    pub(super) uri: String,
    pub(super) queue: String,
    pub(super) prefetch: u16,
    pub(super) block_size: usize,
    pub(super) block_max_wait: Duration,
    pub(super) poll_timeout: Duration,
    pub(super) request_timeout: Duration,
    /// `Some(durable)`: declare the queue; `None`: it must exist.
    pub(super) declare: Option<bool>,
    pub(super) consumer_tag: String,
    pub(super) bad_records: BadRecordPolicy,
    pub(super) decoder: Arc<D>,
}

impl<D: RabbitMqDecoder> RabbitMqReceiver<D> {
    /// At most `n` deliveries unacknowledged at a time (`basic.qos`, 1 ..= 65535; default
    /// 1000): the broker sends no more until a stored block is acknowledged, so a pipeline that
    /// falls behind holds the messages back in the queue. A block holds at most `n` deliveries.
    pub fn prefetch(mut self, n: u16) -> Self {
        self.prefetch = n;
        self
    }

    /// Stores a block once it has `n` deliveries (1 ..= [`MAX_BLOCK_SIZE`]; default 1000), or
    /// `prefetch` if that is fewer.
    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n;
        self
    }

    /// Stores a block at the latest this long after its first delivery (1 ms ..= 60 s; default
    /// 200 ms, Spark's block interval).
    pub fn block_max_wait(mut self, wait: Duration) -> Self {
        self.block_max_wait = wait;
        self
    }

    /// How long the receiver waits for a delivery before it looks again whether it must stop
    /// (1 ms ..= 10 s; default 100 ms).
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// How long connecting and each request to the broker (opening a channel, declaring the
    /// queue, starting the consumer, an acknowledgement) may take before the receiver is
    /// restarted (100 ms ..= 5 min; default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Declares the queue (`durable` or not) before consuming, creating it if it does not
    /// exist. By default the queue must exist, and a missing one fails the job.
    pub fn declare_queue(mut self, durable: bool) -> Self {
        self.declare = Some(durable);
        self
    }

    /// The consumer tag (at most 255 bytes; default empty: the broker makes one up).
    pub fn consumer_tag(mut self, tag: impl Into<String>) -> Self {
        self.consumer_tag = tag.into();
        self
    }

    /// What to do with a message that does not decode (default: skip and count it). A skipped
    /// message is acknowledged with its block; under [`BadRecordPolicy::Fail`] it is not
    /// acknowledged and stays in the queue.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: RabbitMqDecoder>(self, decoder: E) -> RabbitMqReceiver<E> {
        RabbitMqReceiver {
            uri: self.uri,
            queue: self.queue,
            prefetch: self.prefetch,
            block_size: self.block_size,
            block_max_wait: self.block_max_wait,
            poll_timeout: self.poll_timeout,
            request_timeout: self.request_timeout,
            declare: self.declare,
            consumer_tag: self.consumer_tag,
            bad_records: self.bad_records,
            decoder: Arc::new(decoder),
        }
    }

    /// Produces the payloads as UTF-8 `String`s ([`Utf8`], the default).
    pub fn utf8_payloads(self) -> RabbitMqReceiver<Utf8> {
        self.decode(Utf8)
    }

    /// Produces the payloads as raw bytes ([`Bytes`]).
    pub fn byte_payloads(self) -> RabbitMqReceiver<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the payloads decoded from JSON into `T` ([`Json`]).
    pub fn json_payloads<T: freshet::Data + serde::de::DeserializeOwned>(
        self,
    ) -> RabbitMqReceiver<Json<T>> {
        self.decode(Json::new())
    }

    /// Produces whole messages with their exchange, routing key and headers
    /// ([`Messages`]).
    pub fn messages(self) -> RabbitMqReceiver<Messages> {
        self.decode(Messages)
    }

    /// Connects to the broker and returns the number of messages ready in the queue (a passive
    /// declare: nothing is created or consumed). A check before starting a pipeline, or for
    /// monitoring: a bad setting, a missing queue or a refused access is the user's error, a
    /// broker that cannot be reached is retryable.
    pub fn ready_messages(&self) -> Result<u32, SourceError> {
        self.validate()?;
        runtime()?.block_on(self.probe())
    }

    /// The broker's address without the credentials: `amqp://host:port/vhost`.
    pub(super) fn address(&self) -> String {
        match self.uri.parse::<AMQPUri>() {
            Ok(u) => format!(
                "{}://{}:{}/{}",
                match u.scheme {
                    AMQPScheme::AMQP => "amqp",
                    AMQPScheme::AMQPS => "amqps",
                },
                u.authority.host,
                u.authority.port,
                u.vhost
            ),
            Err(_) => "an unparsable uri".to_string(),
        }
    }

    /// Checks every setting; the error names the setting and its range.
    pub(super) fn validate(&self) -> Result<(), SourceError> {
        let uri = self.uri.parse::<AMQPUri>().map_err(|e| {
            SourceError::user(format!(
                "rabbitmq receiver: uri is not an AMQP URI (amqp://user:password@host:port/vhost): {e}"
            ))
        })?;
        if uri.scheme == AMQPScheme::AMQPS {
            return Err(SourceError::user(
                "rabbitmq receiver: uri: amqps (TLS) is not supported by this build; use amqp",
            ));
        }
        if self.queue.is_empty() || self.queue.len() > MAX_NAME {
            return Err(SourceError::user(format!(
                "rabbitmq receiver: queue must be a name of 1 to {MAX_NAME} bytes, not `{}`",
                self.queue
            )));
        }
        if self.consumer_tag.len() > MAX_NAME {
            return Err(SourceError::user(format!(
                "rabbitmq receiver: consumer_tag must be at most {MAX_NAME} bytes, not {}",
                self.consumer_tag.len()
            )));
        }
        if self.prefetch == 0 {
            return Err(SourceError::user(
                "rabbitmq receiver: prefetch must be between 1 and 65535 deliveries, not 0",
            ));
        }
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            return Err(SourceError::user(format!(
                "rabbitmq receiver: block_size must be between 1 and {MAX_BLOCK_SIZE} deliveries, not {}",
                self.block_size
            )));
        }
        let ranges = [
            (
                "block_max_wait",
                self.block_max_wait,
                MIN_WAIT,
                MAX_BLOCK_WAIT,
            ),
            (
                "poll_timeout",
                self.poll_timeout,
                MIN_WAIT,
                MAX_POLL_TIMEOUT,
            ),
            (
                "request_timeout",
                self.request_timeout,
                MIN_REQUEST_TIMEOUT,
                MAX_REQUEST_TIMEOUT,
            ),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(SourceError::user(format!(
                    "rabbitmq receiver: {name} must be between {min:?} and {max:?}, not {value:?}"
                )));
            }
        }
        Ok(())
    }
}

impl<D: RabbitMqDecoder> Receiver for RabbitMqReceiver<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!("rabbitmq queue {} at {}", self.queue, self.address())
    }

    fn kind(&self) -> &'static str {
        "rabbitmq_receiver"
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.validate()
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        // A new connection for every run: the deliveries a failed run did not acknowledge
        // went back to the queue when its connection closed, and come again.
        runtime()?.block_on(self.session(ctx))
    }
}

/// The small runtime a run drives lapin's futures on (lapin does its I/O on its own thread).
fn runtime() -> Result<tokio::runtime::Runtime, SourceError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            SourceError::external(format!("rabbitmq receiver: starting its runtime: {e}"))
                .with_cause(e)
        })
}
