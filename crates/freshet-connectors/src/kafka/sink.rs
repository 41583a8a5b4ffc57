//! The Kafka sink: every batch's items produced to a topic, delivery awaited per batch; with a
//! transactional id, one Kafka transaction per batch, output and worker.

use super::deliveries::Deliveries;
use super::encode::{EncodeWith, JsonValues, KafkaEncoder, KafkaMessage, KeyValue, Values};
use super::error::classify;
use super::source::{validate_topics, MAX_REQUEST_TIMEOUT, MIN_TIMEOUT};
use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::{BatchTime, SinkError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// The longest `delivery_timeout`.
pub const MAX_DELIVERY_TIMEOUT: Duration = Duration::from_secs(3600);
/// The longest transactional id prefix (the id adds the output and the partition).
const MAX_PREFIX_LEN: usize = 200;
/// How long a writer waits for deliveries before trying a full queue again.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);
/// The settings (by prefix) that say how to reach and authenticate to the brokers.
const CONNECTION_SETTINGS: [&str; 9] = [
    "security.",
    "sasl.",
    "ssl.",
    "client.",
    "socket.",
    "reconnect.",
    "broker.",
    "api.version",
    "metadata.",
];
/// Settings the sink sets itself.
const OWN_SETTINGS: [&str; 5] = [
    "bootstrap.servers",
    "enable.idempotence",
    "transactional.id",
    "message.timeout.ms",
    "group.id",
];

/// Writes a stream's items to a Kafka topic. See the [module documentation](super).
///
/// Without a transactional id the producer is idempotent (no duplicates from its own retries)
/// and each batch's delivery is awaited before the batch counts as written; a batch replayed
/// after a crash is written again (at-least-once).
///
/// With [`transactional_id`](Self::transactional_id) every worker writes its part of a batch in
/// one Kafka transaction, and commits it, together with the batch's time as the offset of a
/// consumer group named after the transaction, only once every record is delivered. A restart
/// reads that offset back and skips the batches it already committed, so consumers reading with
/// `isolation.level=read_committed` see every batch exactly once, across crashes and replays.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::kafka::{KafkaSink, KafkaSource};
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
/// let lines = ctx.direct_stream(KafkaSource::direct("localhost:9092", ["lines"]).utf8_values());
/// lines
///     .flat_map(|l: String| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
///     .map(|w| (w, 1u64))
///     .reduce_by_key(|a, b| a + b)
///     .map(|(w, n)| (Some(w), n))
///     .sink(KafkaSink::new("localhost:9092", "counts").transactional_id("wordcount"))
///     .uid("counts-to-kafka");
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct KafkaSink<E = KeyValue> {
    brokers: String,
    topic: String,
    transactional_id: Option<String>,
    delivery_timeout: Duration,
    request_timeout: Duration,
    settings: BTreeMap<String, String>,
    encoder: Arc<E>,
}

impl KafkaSink<KeyValue> {
    /// A sink producing to `topic` on the cluster at `brokers`, for items `(Option<key>,
    /// value)` (see [`KeyValue`]); [`encode`](Self::encode) and its shorthands take other items.
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> Self {
        KafkaSink {
            brokers: brokers.into(),
            topic: topic.into(),
            transactional_id: None,
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            settings: BTreeMap::new(),
            encoder: Arc::new(KeyValue),
        }
    }
}

impl<E> KafkaSink<E> {
    /// Writes in transactions, exactly-once: the id of worker `p`'s producer for the output
    /// with uid `o` is `<prefix>-<o>-<p>`. Keep the prefix, the output's uid and the number
    /// of workers across restarts; two jobs must not share a prefix (the newer one fences the
    /// older out, which then fails). Readers must use `isolation.level=read_committed`.
    pub fn transactional_id(mut self, prefix: impl Into<String>) -> Self {
        self.transactional_id = Some(prefix.into());
        self
    }

    /// How long the delivery of a record may take, retries included, before the batch fails
    /// (1 s ..= 1 h; default 2 min). librdkafka's `message.timeout.ms`.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// How long a transaction or metadata request may take (100 ms ..= 5 min; default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets a librdkafka property of the producer (`compression.type`, `linger.ms`,
    /// `security.protocol`, ...). The sink sets `bootstrap.servers`, `enable.idempotence`,
    /// `transactional.id` and `message.timeout.ms` itself. The topic must exist; set
    /// `allow.auto.create.topics` to `true` to let brokers that allow it create it.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Encodes items with `encoder` instead.
    pub fn encode<F>(self, encoder: F) -> KafkaSink<F> {
        KafkaSink {
            brokers: self.brokers,
            topic: self.topic,
            transactional_id: self.transactional_id,
            delivery_timeout: self.delivery_timeout,
            request_timeout: self.request_timeout,
            settings: self.settings,
            encoder: Arc::new(encoder),
        }
    }

    /// Writes each item as the value, without a key ([`Values`]).
    pub fn values(self) -> KafkaSink<Values> {
        self.encode(Values)
    }

    /// Writes each item as a JSON value, without a key ([`JsonValues`]).
    pub fn json_values<T>(self) -> KafkaSink<JsonValues<T>> {
        self.encode(JsonValues::new())
    }

    /// Encodes each item with `f`, which fills the record's key, value, partition or timestamp.
    pub fn encode_with<T, F>(self, f: F) -> KafkaSink<EncodeWith<F>>
    where
        F: Fn(&T, &mut KafkaMessage) -> Result<(), SinkError> + Send + Sync + 'static,
    {
        self.encode(EncodeWith(f))
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SinkError> {
        if self.brokers.trim().is_empty() {
            return Err(SinkError::user("kafka sink: the broker list is empty"));
        }
        validate_topics(std::slice::from_ref(&self.topic))?;
        let min_delivery = Duration::from_secs(1);
        if !(min_delivery..=MAX_DELIVERY_TIMEOUT).contains(&self.delivery_timeout) {
            return Err(SinkError::user(format!(
                "kafka sink: delivery_timeout must be between {min_delivery:?} and \
                 {MAX_DELIVERY_TIMEOUT:?}, not {:?}",
                self.delivery_timeout
            )));
        }
        if !(MIN_TIMEOUT..=MAX_REQUEST_TIMEOUT).contains(&self.request_timeout) {
            return Err(SinkError::user(format!(
                "kafka sink: request_timeout must be between {MIN_TIMEOUT:?} and \
                 {MAX_REQUEST_TIMEOUT:?}, not {:?}",
                self.request_timeout
            )));
        }
        if let Some(prefix) = &self.transactional_id {
            let ok = !prefix.is_empty()
                && prefix.len() <= MAX_PREFIX_LEN
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(SinkError::user(format!(
                    "kafka sink: transactional_id must be 1 to {MAX_PREFIX_LEN} characters of \
                     ASCII letters, digits, '.', '_' and '-', not {prefix:?}"
                )));
            }
        }
        if let Some(key) = self
            .settings
            .keys()
            .find(|k| OWN_SETTINGS.contains(&k.as_str()))
        {
            return Err(SinkError::user(format!(
                "kafka sink: `{key}` is set by the sink itself and cannot be changed"
            )));
        }
        Ok(())
    }

    fn producer_config(&self, transactional_id: Option<&str>) -> ClientConfig {
        let mut config = ClientConfig::new();
        // A misspelt topic is an error, not a new topic (unless asked for).
        config.set("allow.auto.create.topics", "false");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set(
                "message.timeout.ms",
                self.delivery_timeout.as_millis().to_string(),
            );
        if let Some(id) = transactional_id {
            config.set("transactional.id", id);
            // librdkafka wants deliveries to end within a transaction's lifetime.
            if !self.settings.contains_key("transaction.timeout.ms") {
                config.set(
                    "transaction.timeout.ms",
                    self.delivery_timeout.as_millis().to_string(),
                );
            }
        }
        config
    }
}

impl<T, E> Sink<T> for KafkaSink<E>
where
    T: Send + Sync + 'static,
    E: KafkaEncoder<T>,
{
    type Writer = KafkaSinkWriter<T, E>;

    fn open(&self, ctx: &SinkContext) -> Result<Self::Writer, SinkError> {
        self.validate()?;
        let transactional_id = self
            .transactional_id
            .as_ref()
            .map(|prefix| format!("{prefix}-{}-{}", ctx.output_id, ctx.partition));
        let producer: ThreadedProducer<Deliveries> = self
            .producer_config(transactional_id.as_deref())
            .create_with_context(Deliveries::default())
            .map_err(|e| classify("kafka sink: creating a producer", e))?;
        let topic = &self.topic;
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), self.request_timeout)
            .map_err(|e| classify(&format!("kafka sink: looking up topic {topic}"), e))?;
        let known = metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
        if !known {
            return Err(SinkError::user(format!(
                "kafka sink: topic `{topic}` does not exist (create it first)"
            )));
        }
        let transaction = match &transactional_id {
            None => None,
            Some(id) => Some(Transaction::open(self, &producer, id)?),
        };
        Ok(KafkaSinkWriter {
            producer,
            topic: self.topic.clone(),
            encoder: self.encoder.clone(),
            message: KafkaMessage::default(),
            delivery_timeout: self.delivery_timeout,
            request_timeout: self.request_timeout,
            transaction,
            _items: PhantomData,
        })
    }

    fn guarantee(&self) -> Guarantee {
        if self.transactional_id.is_some() {
            Guarantee::ExactlyOnce
        } else {
            Guarantee::AtLeastOnce
        }
    }
}

/// A writer's transactional state: the consumer group whose offset marks the last committed
/// batch, and that batch.
struct Transaction {
    id: String,
    /// A consumer of the marker group: its metadata goes with every transaction's offsets.
    group: BaseConsumer,
    /// The time (ms) of the last batch committed under this id, before this writer and by it.
    committed: Option<i64>,
    /// Whether a transaction is open (a write failed halfway).
    open: bool,
}

impl Transaction {
    /// Initializes the producer's transactions (which aborts what a previous incarnation left
    /// open and fences it out) and reads the last committed batch.
    fn open<E>(
        sink: &KafkaSink<E>,
        producer: &ThreadedProducer<Deliveries>,
        id: &str,
    ) -> Result<Transaction, SinkError> {
        producer
            .init_transactions(sink.request_timeout)
            .map_err(|e| txn_error(&format!("kafka sink: initializing transactions of {id}"), e))?;
        let mut config = ClientConfig::new();
        // The marker consumer takes the connection settings, not the producer's.
        for (k, v) in &sink.settings {
            if CONNECTION_SETTINGS
                .iter()
                .any(|prefix| k.starts_with(prefix))
            {
                config.set(k, v);
            }
        }
        let group: BaseConsumer = config
            .set("bootstrap.servers", &sink.brokers)
            .set("group.id", id)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .map_err(|e| classify("kafka sink: creating the marker consumer", e))?;
        let committed = group
            .committed_offsets(marker(&sink.topic, 0)?, sink.request_timeout)
            .map_err(|e| {
                classify(
                    &format!("kafka sink: reading the committed batch of {id}"),
                    e,
                )
            })?
            .find_partition(&sink.topic, 0)
            .and_then(|p| match p.offset() {
                Offset::Offset(ms) => Some(ms),
                _ => None,
            });
        Ok(Transaction {
            id: id.to_string(),
            group,
            committed,
            open: false,
        })
    }
}

/// The offsets that mark batch `millis` as committed: the batch's time as the offset of
/// partition 0 of the output topic.
fn marker(topic: &str, millis: i64) -> Result<TopicPartitionList, SinkError> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Offset(millis))
        .map_err(|e| classify("kafka sink: marking a batch", e))?;
    Ok(list)
}

/// Classifies a transactional error: a fenced producer is the user's (two jobs under one
/// transactional id); an abortable or retriable one is retried.
fn txn_error(what: &str, e: KafkaError) -> SinkError {
    if let KafkaError::Transaction(t) = &e {
        if t.is_fatal() || t.code() == RDKafkaErrorCode::InvalidProducerEpoch {
            return SinkError::user(format!(
                "{what}: {e} (another writer took over this transactional id: do two jobs use \
                 the same transactional_id?)"
            ))
            .with_cause(e);
        }
        if t.txn_requires_abort() || t.is_retriable() {
            return SinkError::external(format!("{what}: {e}")).with_cause(e);
        }
    }
    classify(what, e)
}

/// The writer of one worker's part of every batch. See [`KafkaSink`].
pub struct KafkaSinkWriter<T, E> {
    producer: ThreadedProducer<Deliveries>,
    topic: String,
    encoder: Arc<E>,
    message: KafkaMessage,
    delivery_timeout: Duration,
    request_timeout: Duration,
    transaction: Option<Transaction>,
    _items: PhantomData<fn(&T)>,
}

impl<T, E: KafkaEncoder<T>> KafkaSinkWriter<T, E> {
    /// Produces every item, then waits until all are delivered (or one failed).
    fn produce_all(&mut self, millis: i64, items: &[T]) -> Result<(), SinkError> {
        let deliveries = self.producer.context().clone();
        // A failure left from an earlier batch was reported with it.
        deliveries.clear_failure();
        for item in items {
            self.message.clear();
            self.encoder.encode(item, &mut self.message)?;
            let m = &self.message;
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic)
                .payload(m.value_bytes())
                .timestamp(m.timestamp_or(millis));
            if let Some(key) = m.key_bytes() {
                record = record.key(key);
            }
            if let Some(p) = m.partition_or() {
                record = record.partition(p);
            }
            loop {
                deliveries.sending();
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        deliveries.not_sent();
                        record = back;
                        deliveries.wait_for_room(QUEUE_FULL_WAIT);
                    }
                    Err((e, _)) => {
                        deliveries.not_sent();
                        let what = format!("kafka sink: producing to {}", self.topic);
                        return Err(classify(&what, e));
                    }
                }
            }
        }
        let (settled, failed) = deliveries.settle(self.delivery_timeout + self.request_timeout);
        if let Some((partition, e)) = failed {
            return Err(classify(
                &format!("kafka sink: a record to {partition} was not delivered"),
                e,
            ));
        }
        if !settled {
            return Err(SinkError::external(format!(
                "kafka sink: batch {millis} to {} was not delivered within {:?}",
                self.topic,
                self.delivery_timeout + self.request_timeout
            )));
        }
        Ok(())
    }

    /// Writes `items` as batch `millis` in one transaction, with the batch's marker.
    fn write_transaction(&mut self, millis: i64, items: &[T]) -> Result<(), SinkError> {
        let timeout = self.request_timeout;
        let Some(txn) = self.transaction.as_mut() else {
            return self.produce_all(millis, items);
        };
        if txn.open {
            // An earlier attempt failed halfway: what it produced is discarded.
            txn.open = false;
            self.producer
                .abort_transaction(timeout)
                .map_err(|e| txn_error(&format!("kafka sink: aborting in {}", txn.id), e))?;
        }
        self.producer
            .begin_transaction()
            .map_err(|e| txn_error(&format!("kafka sink: beginning in {}", txn.id), e))?;
        txn.open = true;
        self.produce_all(millis, items)?;
        let Some(txn) = self.transaction.as_mut() else {
            return Ok(());
        };
        let what = |step: &str| format!("kafka sink: {step} batch {millis} in {}", txn.id);
        let group = txn
            .group
            .group_metadata()
            .ok_or_else(|| SinkError::internal(what("no consumer group metadata for")))?;
        self.producer
            .send_offsets_to_transaction(&marker(&self.topic, millis)?, &group, timeout)
            .map_err(|e| txn_error(&what("marking"), e))?;
        self.producer
            .commit_transaction(timeout)
            .map_err(|e| txn_error(&what("committing"), e))?;
        txn.open = false;
        txn.committed = Some(millis);
        Ok(())
    }
}

impl<T: 'static, E: KafkaEncoder<T>> SinkWriter<T> for KafkaSinkWriter<T, E> {
    fn write(&mut self, time: BatchTime, items: &[T]) -> Result<(), SinkError> {
        let millis = i64::try_from(time.millis()).unwrap_or(i64::MAX);
        if let Some(txn) = &self.transaction {
            if txn.committed.is_some_and(|c| millis <= c) {
                // Committed before a restart: a replayed batch is not written twice.
                return Ok(());
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        self.write_transaction(millis, items)
    }
}

impl<T, E> Drop for KafkaSinkWriter<T, E> {
    fn drop(&mut self) {
        if self.transaction.as_ref().is_some_and(|t| t.open) {
            let _ = self.producer.abort_transaction(self.request_timeout);
        }
    }
}
