//! The reliable receiver: a persistent MQTT session subscribed with QoS 1 and manual
//! acknowledgements, which stores messages in blocks through the receiver write-ahead log and
//! acknowledges a block's messages only after the block is stored.

use super::connection::{Link, Received};
use super::error::{classify, store_error};
use super::message::{Bytes, Messages, MqttDecoder, MqttMessage, Utf8};
use super::settings::*;
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext};
use freshet::{Data, SourceError};
use rumqttc::{Event, Packet, Publish, QoS, SubscribeReasonCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds MQTT inputs. See [`MqttSource::receiver`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MqttSource;

/// A reliable MQTT receiver: a client with a persistent session (`clean_session = false`)
/// under `client_id`, subscribed to topic filters with QoS 1 and acknowledging by hand. It
/// stores what arrives in blocks with [`ReceiverContext::store_reliably`] and, only once a
/// block is stored (in the receiver write-ahead log when the context has a checkpoint
/// directory), sends the PUBACKs of the block's messages, in the order they arrived.
///
/// **Guarantee: at-least-once** with a checkpoint directory (exactly-once output with an
/// idempotent sink). The broker keeps the session's subscriptions and every unacknowledged
/// message while the receiver is down or reconnecting, and sends them again when it returns;
/// an acknowledged message is in the write-ahead log, so a crash loses nothing that was
/// acknowledged. A crash between a store and its acknowledgements delivers that block twice.
/// Without a checkpoint directory a block is acknowledged once it is in the memory buffer,
/// and a crash loses the blocks not yet processed.
///
/// **Flow control**: the broker sends at most its in-flight window of unacknowledged QoS 1
/// messages to a client (Mosquitto's `max_inflight_messages`, 20 by default), then waits for
/// acknowledgements. So a block is stored when it has [`block_size`](Self::block_size)
/// messages, when [`block_max_wait`](Self::block_max_wait) has passed since its first, or when
/// it holds [`max_inflight`](Self::max_inflight) unacknowledged messages, whichever comes
/// first; set `max_inflight` to the broker's window.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::mqtt::MqttSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::get_or_create("/var/lib/sensors", || {
///     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
///     let receiver = MqttSource::receiver("localhost:1883", "sensors-app", ["sensors/+/temp"])
///         .block_max_wait(Duration::from_millis(200))
///         .max_inflight(20);
///     ctx.receiver_stream(receiver).uid("sensors").count().print(1);
///     Ok(ctx)
/// })?;
/// ctx.start()?;
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct MqttReceiver<D: MqttDecoder = Utf8> {
    broker: String,
    client_id: String,
    filters: Vec<String>,
    block_size: usize,
    block_max_wait: Duration,
    max_inflight: u16,
    poll_timeout: Duration,
    drain_timeout: Duration,
    keep_alive: Duration,
    connect_timeout: Duration,
    max_packet_size: usize,
    credentials: Option<(String, String)>,
    bad_records: BadRecordPolicy,
    decoder: Arc<D>,
}

impl MqttSource {
    /// A reliable receiver of the topics matching `topic_filters` (`sensors/+/temp`,
    /// `events/#`) on the broker at `broker` (`host:port`), with a persistent session under
    /// `client_id`, producing the payloads as UTF-8 text; plug it in with
    /// [`StreamingContext::receiver_stream`](freshet::StreamingContext::receiver_stream). See
    /// [`MqttReceiver`].
    ///
    /// The client id names the session: give every application its own, and keep it across
    /// restarts (a new id starts a new session, without what the old one held).
    pub fn receiver<I, T>(
        broker: impl Into<String>,
        client_id: impl Into<String>,
        topic_filters: I,
    ) -> MqttReceiver<Utf8>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        MqttReceiver {
            broker: broker.into(),
            client_id: client_id.into(),
            filters: topic_filters.into_iter().map(Into::into).collect(),
            block_size: 10_000,
            block_max_wait: Duration::from_millis(200),
            max_inflight: DEFAULT_MAX_INFLIGHT,
            poll_timeout: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(1),
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_packet_size: 1 << 20,
            credentials: None,
            bad_records: BadRecordPolicy::Skip,
            decoder: Arc::new(Utf8),
        }
    }
}

impl<D: MqttDecoder> MqttReceiver<D> {
    /// Stores a block once it has `n` messages (1 ..= [`MAX_BLOCK_SIZE`]; default 10 000).
    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n;
        self
    }

    /// Stores a block at the latest this long after its first message (1 ms ..= 60 s; default
    /// 200 ms, Spark's block interval).
    pub fn block_max_wait(mut self, wait: Duration) -> Self {
        self.block_max_wait = wait;
        self
    }

    /// The broker's in-flight window: how many unacknowledged QoS 1 messages it sends before
    /// it waits for acknowledgements (1 ..= 65 535; default [`DEFAULT_MAX_INFLIGHT`], 20,
    /// Mosquitto's `max_inflight_messages`). A block is stored as soon as it holds this many
    /// unacknowledged messages, since no more arrive until it is. A value above the broker's
    /// window delays blocks to `block_max_wait`; one below it makes smaller blocks.
    pub fn max_inflight(mut self, n: u16) -> Self {
        self.max_inflight = n;
        self
    }

    /// How long the receiver waits for a message at a time (1 ms ..= 10 s; default 100 ms):
    /// also how soon it sees that it must stop.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// In an available-now run, how long after its last message (or after its subscription)
    /// the receiver waits for another before it ends (10 ms ..= 60 s; default 1 s). The broker
    /// sends what it kept for the session right after the connection.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The MQTT keep-alive: the client pings the broker when nothing else was sent for this
    /// long, and the broker drops it after one and a half times it without a packet (5 s ..=
    /// 65 535 s, in whole seconds; default 30 s).
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// How long connecting (TCP and CONNACK) and subscribing (SUBACK) may take before the
    /// attempt fails and the receiver is restarted with back-off (1 s ..= 5 min, in whole
    /// seconds; default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest packet accepted from the broker, in bytes (1 KiB ..= [`MAX_PACKET_SIZE`];
    /// default 1 MiB). A larger message fails the job (a user error naming this setting).
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// Connects with a user name and password.
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// What to do with a message whose payload does not decode (default: skip and count it).
    /// A skipped message is acknowledged with its block.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: MqttDecoder>(self, decoder: E) -> MqttReceiver<E> {
        MqttReceiver {
            broker: self.broker,
            client_id: self.client_id,
            filters: self.filters,
            block_size: self.block_size,
            block_max_wait: self.block_max_wait,
            max_inflight: self.max_inflight,
            poll_timeout: self.poll_timeout,
            drain_timeout: self.drain_timeout,
            keep_alive: self.keep_alive,
            connect_timeout: self.connect_timeout,
            max_packet_size: self.max_packet_size,
            credentials: self.credentials,
            bad_records: self.bad_records,
            decoder: Arc::new(decoder),
        }
    }

    /// Produces whole [`MqttMessage`]s (topic, payload, flags) ([`Messages`]).
    pub fn messages(self) -> MqttReceiver<Messages> {
        self.decode(Messages)
    }

    /// Produces the payloads as UTF-8 `String`s ([`Utf8`], the default).
    pub fn utf8_payloads(self) -> MqttReceiver<Utf8> {
        self.decode(Utf8)
    }

    /// Produces the payloads as raw bytes ([`Bytes`]).
    pub fn byte_payloads(self) -> MqttReceiver<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the payloads decoded from JSON into `T` ([`Json`](super::Json)).
    pub fn json_payloads<T: Data>(self) -> MqttReceiver<super::Json<T>> {
        self.decode(super::Json::new())
    }

    /// Connects to the broker once with the receiver's client id and settings, then
    /// disconnects, without subscribing: checks the address and the credentials before a job
    /// starts. Do not call it while the receiver runs: the broker would hand the session to
    /// this connection.
    pub fn check_connection(&self) -> Result<(), SourceError> {
        self.validate()?;
        let link = self.link()?;
        let deadline = Instant::now() + self.connect_timeout;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(self.timed_out("a CONNACK"));
            }
            match link.recv(wait) {
                Received::Event(Event::Incoming(Packet::ConnAck(_))) => break,
                Received::Event(_) | Received::Nothing => {}
                Received::Failed(e) => return Err(classify(&self.broker, &self.client_id, e)),
                Received::Closed => return Err(self.closed()),
            }
        }
        link.disconnect(self.connect_timeout);
        Ok(())
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        parse_broker(&self.broker)?;
        validate_client_id(&self.client_id)?;
        validate_filters(&self.filters)?;
        check_range("block_size", self.block_size, 1, MAX_BLOCK_SIZE)?;
        check_range("max_inflight", self.max_inflight, 1, u16::MAX)?;
        check_range(
            "max_packet_size",
            self.max_packet_size,
            MIN_PACKET_SIZE,
            MAX_PACKET_SIZE,
        )?;
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
            ("drain_timeout", self.drain_timeout, MIN_DRAIN, MAX_DRAIN),
            (
                "keep_alive",
                self.keep_alive,
                MIN_KEEP_ALIVE,
                MAX_KEEP_ALIVE,
            ),
            (
                "connect_timeout",
                self.connect_timeout,
                MIN_CONNECT_TIMEOUT,
                MAX_CONNECT_TIMEOUT,
            ),
        ];
        for (name, value, min, max) in ranges {
            check_range(name, value, min, max)?;
        }
        Ok(())
    }

    /// A new connection with a persistent session and manual acknowledgements.
    fn link(&self) -> Result<Link, SourceError> {
        let (host, port) = parse_broker(&self.broker)?;
        let mut options = rumqttc::MqttOptions::new(&self.client_id, host, port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(self.keep_alive.as_secs()))
            .set_max_packet_size(self.max_packet_size, self.max_packet_size);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user, password);
        }
        Link::open(
            options,
            self.connect_timeout.as_secs(),
            usize::from(self.max_inflight),
        )
    }

    fn timed_out(&self, what: &str) -> SourceError {
        SourceError::external(format!(
            "mqtt: broker {} sent no {what} within connect_timeout ({:?})",
            self.broker, self.connect_timeout
        ))
    }

    fn closed(&self) -> SourceError {
        SourceError::external(format!(
            "mqtt: the connection to broker {} closed",
            self.broker
        ))
    }

    /// Checks the broker's answer to the subscription: every filter granted QoS 1.
    fn check_suback(&self, codes: &[SubscribeReasonCode]) -> Result<(), SourceError> {
        if codes.len() != self.filters.len() {
            return Err(SourceError::external(format!(
                "mqtt: broker {} answered {} of {} subscriptions",
                self.broker,
                codes.len(),
                self.filters.len()
            )));
        }
        for (filter, code) in self.filters.iter().zip(codes) {
            match code {
                SubscribeReasonCode::Success(QoS::AtLeastOnce | QoS::ExactlyOnce) => {}
                SubscribeReasonCode::Success(QoS::AtMostOnce) => {
                    return Err(SourceError::user(format!(
                        "mqtt: broker {} granted only QoS 0 for topic filter `{filter}`: its \
                         messages would not be acknowledged, so not kept for redelivery",
                        self.broker
                    )))
                }
                SubscribeReasonCode::Failure => {
                    return Err(SourceError::user(format!(
                        "mqtt: broker {} refused the subscription to topic filter `{filter}`",
                        self.broker
                    )))
                }
            }
        }
        Ok(())
    }
}

/// A block being filled: its items and the messages to acknowledge once it is stored.
struct Block<T> {
    items: Vec<T>,
    /// Every QoS 1 message of the block, decoded or not, in arrival order (payloads dropped).
    acks: Vec<Publish>,
    /// Messages in the block, QoS 0 included.
    messages: usize,
    since: Option<Instant>,
}

impl<D: MqttDecoder> MqttReceiver<D> {
    /// Stores the block reliably, then acknowledges its messages.
    fn flush(
        &self,
        link: &Link,
        ctx: &ReceiverContext<D::Item>,
        block: &mut Block<D::Item>,
    ) -> Result<(), SourceError> {
        if block.messages == 0 {
            return Ok(());
        }
        let items = std::mem::take(&mut block.items);
        block.messages = 0;
        block.since = None;
        let acks = std::mem::take(&mut block.acks);
        ctx.store_reliably(items).map_err(store_error)?;
        for publish in &acks {
            if !link.ack(publish) {
                return Err(self.closed());
            }
        }
        Ok(())
    }

    /// Adds a message to the block, or handles it as a bad record.
    fn take(
        &self,
        link: &Link,
        ctx: &ReceiverContext<D::Item>,
        block: &mut Block<D::Item>,
        mut publish: Publish,
    ) -> Result<(), SourceError> {
        let payload = std::mem::take(&mut publish.payload);
        let message = MqttMessage {
            topic: publish.topic.clone(),
            payload: payload.to_vec(),
            retain: publish.retain,
            dup: publish.dup,
        };
        match self.decoder.decode(message) {
            Ok(item) => block.items.push(item),
            Err(why) => {
                let what = format!("mqtt: topic `{}`: {why}", publish.topic);
                if self.bad_records == BadRecordPolicy::Fail {
                    // Not acknowledged: the job fails, and the broker keeps the message.
                    self.flush(link, ctx, block)?;
                    return Err(SourceError::user(what));
                }
                ctx.bad_record(BadRecordPolicy::Skip, &what);
            }
        }
        if publish.qos != QoS::AtMostOnce {
            publish.topic = String::new();
            block.acks.push(publish);
        }
        block.messages += 1;
        block.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Receives, stores and acknowledges until stopped, a failure or (available-now) the end.
    fn receive(&self, link: &Link, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        let filters = self
            .filters
            .iter()
            .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
        if !link.subscribe(filters) {
            return Err(self.closed());
        }
        let connecting = Instant::now();
        let mut subscribed = false;
        let mut connected = false;
        let mut last_message = Instant::now();
        let mut block = Block {
            items: Vec::new(),
            acks: Vec::new(),
            messages: 0,
            since: None,
        };
        loop {
            if ctx.is_stopped() {
                self.flush(link, ctx, &mut block)?;
                link.disconnect(self.connect_timeout);
                return Ok(());
            }
            if ctx.available_now() && subscribed && last_message.elapsed() >= self.drain_timeout {
                self.flush(link, ctx, &mut block)?;
                link.disconnect(self.connect_timeout);
                return Ok(());
            }
            if !subscribed && connecting.elapsed() >= self.connect_timeout {
                return Err(self.timed_out(if connected { "SUBACK" } else { "CONNACK" }));
            }
            let wait = block.since.map_or(self.poll_timeout, |since| {
                self.block_max_wait
                    .saturating_sub(since.elapsed())
                    .clamp(MIN_WAIT, self.poll_timeout)
            });
            match link.recv(wait) {
                Received::Event(Event::Incoming(Packet::Publish(publish))) => {
                    last_message = Instant::now();
                    self.take(link, ctx, &mut block, publish)?;
                }
                Received::Event(Event::Incoming(Packet::ConnAck(ack))) => {
                    connected = true;
                    tracing::debug!(
                        "mqtt: connected to {} as `{}` (session present: {})",
                        self.broker,
                        self.client_id,
                        ack.session_present
                    );
                }
                Received::Event(Event::Incoming(Packet::SubAck(ack))) => {
                    self.check_suback(&ack.return_codes)?;
                    subscribed = true;
                    last_message = Instant::now();
                }
                Received::Event(_) | Received::Nothing => {}
                // The block is dropped unacknowledged: the broker sends it again.
                Received::Failed(e) => return Err(classify(&self.broker, &self.client_id, e)),
                Received::Closed => return Err(self.closed()),
            }
            let window = block.acks.len() >= usize::from(self.max_inflight);
            let full = block.messages >= self.block_size;
            let waited = block
                .since
                .is_some_and(|s| s.elapsed() >= self.block_max_wait);
            if window || full || waited {
                self.flush(link, ctx, &mut block)?;
            }
        }
    }
}

impl<D: MqttDecoder> Receiver for MqttReceiver<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!(
            "mqtt topics {} at {} (client {})",
            self.filters.join(","),
            self.broker,
            self.client_id
        )
    }

    fn kind(&self) -> &'static str {
        "mqtt_receiver"
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.validate()
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        self.validate()?;
        // A new connection for every run: the broker sends again what the session holds
        // unacknowledged, so the messages received but not stored by a failed run return.
        let link = self.link()?;
        self.receive(&link, ctx)
    }
}
