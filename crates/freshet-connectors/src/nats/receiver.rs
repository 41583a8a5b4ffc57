//! Plain NATS subjects through a receiver: at-most-once, as core NATS delivers.

use super::connection::{check_name, check_subject, check_timeout, classify, Connection};
use super::message::{Bytes, Json, Messages, NatsDecoder, NatsMessage, Utf8};
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext};
use freshet::{Data, SourceError};
use futures_util::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The most messages stored as one block.
pub const MAX_BLOCK_SIZE: usize = 100_000;
/// How long the receiver waits for a message before it looks at whether it should stop.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// A receiver of a core NATS subject. See the [module documentation](super).
///
/// Core NATS has no acknowledgements and keeps nothing: a message published while the
/// receiver is not subscribed (before it starts, while it reconnects, after a crash) is not
/// delivered to it, and a message the receiver received but the job lost is gone. With a
/// checkpoint directory, what reached the receiver's write-ahead log is kept across a crash.
/// For input that must not be lost, store the subject in a JetStream stream and read it with
/// [`NatsSource::jetstream`](super::NatsSource::jetstream). In an available-now run the
/// receiver ends at once: core NATS holds nothing that is available now.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::nats::NatsSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
/// let receiver = NatsSource::subject("nats://localhost:4222", "sensors.*.temperature");
/// ctx.receiver_stream(receiver).count().print(1);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct NatsSubjectReceiver<D: NatsDecoder = Utf8> {
    url: String,
    subject: String,
    queue_group: Option<String>,
    timeout: Duration,
    block_size: usize,
    bad_records: BadRecordPolicy,
    decoder: D,
}

impl NatsSubjectReceiver<Utf8> {
    pub(crate) fn new(url: String, subject: String) -> Self {
        NatsSubjectReceiver {
            url,
            subject,
            queue_group: None,
            timeout: Duration::from_secs(10),
            block_size: 1000,
            bad_records: BadRecordPolicy::Skip,
            decoder: Utf8,
        }
    }
}

impl<D: NatsDecoder> NatsSubjectReceiver<D> {
    /// Subscribes in the queue group `group`: the server hands each message to one member of
    /// the group, so several jobs (or other subscribers) share the subject's messages.
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = Some(group.into());
        self
    }

    /// How long connecting to the server may take (100 ms ..= 5 min; default 10 s). A
    /// receiver that cannot connect is restarted with back-off.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Stores at most `n` messages as one block (1 ..= [`MAX_BLOCK_SIZE`]; default 1000): the
    /// messages waiting when one arrives are stored with it.
    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n;
        self
    }

    /// What to do with a message that does not decode (default: skip it and count it).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: NatsDecoder>(self, decoder: E) -> NatsSubjectReceiver<E> {
        NatsSubjectReceiver {
            url: self.url,
            subject: self.subject,
            queue_group: self.queue_group,
            timeout: self.timeout,
            block_size: self.block_size,
            bad_records: self.bad_records,
            decoder,
        }
    }

    /// Produces the messages as they are ([`NatsMessage`]s; their sequence is 0 and their
    /// timestamp the time they were received).
    pub fn messages(self) -> NatsSubjectReceiver<Messages> {
        self.decode(Messages)
    }

    /// Produces the payloads as raw bytes ([`Bytes`]).
    pub fn bytes(self) -> NatsSubjectReceiver<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the payloads decoded from JSON into `T` ([`Json`]).
    pub fn json<T: Data + DeserializeOwned>(self) -> NatsSubjectReceiver<Json<T>> {
        self.decode(Json::new())
    }

    fn validate(&self) -> Result<(), SourceError> {
        if self.url.trim().is_empty() {
            return Err(SourceError::user("nats: the server URL is empty"));
        }
        check_subject("subject", &self.subject)?;
        if let Some(group) = &self.queue_group {
            check_name("queue group", group)?;
        }
        check_timeout("connect_timeout", self.timeout)?;
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            return Err(SourceError::user(format!(
                "nats: block_size must be between 1 and {MAX_BLOCK_SIZE}, not {}",
                self.block_size
            )));
        }
        Ok(())
    }

    fn store(&self, ctx: &ReceiverContext<D::Item>, block: Vec<async_nats::Message>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut items = Vec::with_capacity(block.len());
        for m in block {
            match self.decoder.decode(NatsMessage::from_core(&m, 0, now)) {
                Ok(item) => items.push(item),
                Err(why) => ctx.bad_record_raw(
                    self.bad_records,
                    &format!("nats: a message on {}: {why}", m.subject),
                    &m.payload,
                ),
            }
        }
        ctx.store_many(items);
    }
}

impl<D: NatsDecoder> Receiver for NatsSubjectReceiver<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!("nats subject {} at {}", self.subject, self.url)
    }

    fn kind(&self) -> &'static str {
        "nats_subject"
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.validate()
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        if ctx.available_now() {
            // Core NATS keeps nothing: nothing is available now.
            return Ok(());
        }
        let conn = Connection::open(&self.url, self.timeout, "freshet nats receiver")?;
        let _in_runtime = conn.enter();
        let what = format!("nats: subscribing to {} at {}", self.subject, self.url);
        let mut subscriber = conn.block_on(async {
            let sub = match &self.queue_group {
                Some(group) => {
                    conn.client
                        .queue_subscribe(self.subject.clone(), group.clone())
                        .await
                }
                None => conn.client.subscribe(self.subject.clone()).await,
            }
            .map_err(|e| classify(&what, e))?;
            conn.client.flush().await.map_err(|e| classify(&what, e))?;
            Ok::<_, SourceError>(sub)
        })?;
        while !ctx.is_stopped() {
            let first =
                conn.block_on(async { tokio::time::timeout(IDLE_POLL, subscriber.next()).await });
            let first = match first {
                Err(_) => continue,
                Ok(None) => {
                    return Err(SourceError::external(format!(
                        "nats: the subscription to {} at {} ended (connection closed)",
                        self.subject, self.url
                    )))
                }
                Ok(Some(m)) => m,
            };
            let mut block = vec![first];
            while block.len() < self.block_size {
                match subscriber.next().now_or_never() {
                    Some(Some(m)) => block.push(m),
                    _ => break,
                }
            }
            self.store(ctx, block);
        }
        let _ = conn.block_on(subscriber.unsubscribe());
        Ok(())
    }
}
