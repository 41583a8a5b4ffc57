//! The reliable receiver stream: a consumer-group member that stores records in blocks through
//! the receiver write-ahead log and commits a block's offsets to the group only after the
//! block is stored.

use super::error::classify;
use super::record::{Bytes, Json, KafkaDecoder, KafkaRecord, Records, Utf8};
use super::source::{
    partition_watermarks, refuse_settings, validate_topics, KafkaSource, MAX_REQUEST_TIMEOUT,
    MIN_TIMEOUT,
};
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext, StoreError};
use freshet::{Data, ErrorDomain, RetryHint, SourceError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest `block_size`.
pub const MAX_BLOCK_SIZE: usize = 1_000_000;
/// The longest `block_max_wait`.
const MAX_BLOCK_WAIT: Duration = Duration::from_secs(60);
/// The longest `poll_timeout`.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest `block_max_wait` and `poll_timeout`.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A reliable Kafka receiver: a member of consumer group `group` subscribed to topics, which
/// stores what it polls in blocks with [`ReceiverContext::store_reliably`] and, only once a
/// block is stored (in the receiver write-ahead log when the context has a checkpoint
/// directory), commits the block's offsets to the group, synchronously.
///
/// **Guarantee: at-least-once** with a checkpoint directory (exactly-once output with an
/// idempotent sink). A record whose offset was committed is in the write-ahead log, so a crash
/// loses nothing that was acknowledged; the records after the last commit are read again by
/// the next run (the same group continues from its committed offsets), so a crash between a
/// store and its commit delivers that block twice. Without a checkpoint directory a block is
/// committed once it is in the memory buffer, and a crash loses the blocks not yet processed.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::kafka::KafkaSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::get_or_create("/var/lib/clicks", || {
///     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
///     let receiver = KafkaSource::receiver("localhost:9092", "clicks-app", ["clicks"])
///         .block_size(10_000)
///         .block_max_wait(Duration::from_millis(200))
///         .utf8_values();
///     ctx.receiver_stream(receiver).uid("clicks").count().print(1);
///     Ok(ctx)
/// })?;
/// ctx.start()?;
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct KafkaReceiver<D: KafkaDecoder = Records> {
    brokers: String,
    group: String,
    topics: Vec<String>,
    block_size: usize,
    block_max_wait: Duration,
    poll_timeout: Duration,
    request_timeout: Duration,
    bad_records: BadRecordPolicy,
    settings: BTreeMap<String, String>,
    decoder: Arc<D>,
    /// In an available-now run: the ends of the partitions when the first run started.
    frozen: Option<BTreeMap<(String, i32), i64>>,
}

impl KafkaSource<Records> {
    /// A reliable receiver of `topics` on the cluster at `brokers` (`host:port`,
    /// comma-separated), in consumer group `group`, producing
    /// [`KafkaRecord`](super::KafkaRecord)s; plug it in with
    /// [`StreamingContext::receiver_stream`](freshet::StreamingContext::receiver_stream). See
    /// [`KafkaReceiver`].
    pub fn receiver<I, T>(
        brokers: impl Into<String>,
        group: impl Into<String>,
        topics: I,
    ) -> KafkaReceiver<Records>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        KafkaReceiver {
            brokers: brokers.into(),
            group: group.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            block_size: 10_000,
            block_max_wait: Duration::from_millis(200),
            poll_timeout: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
            bad_records: BadRecordPolicy::Skip,
            settings: BTreeMap::new(),
            decoder: Arc::new(Records),
            frozen: None,
        }
    }
}

impl<D: KafkaDecoder> KafkaReceiver<D> {
    /// Stores a block once it has `n` records (1 ..= [`MAX_BLOCK_SIZE`]; default 10 000).
    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n;
        self
    }

    /// Stores a block at the latest this long after its first record (1 ms ..= 60 s; default
    /// 200 ms, Spark's block interval).
    pub fn block_max_wait(mut self, wait: Duration) -> Self {
        self.block_max_wait = wait;
        self
    }

    /// How long one poll waits for records (1 ms ..= 10 s; default 100 ms): also how soon the
    /// receiver sees that it must stop.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// How long a metadata or commit request may take, and how long the brokers may keep
    /// failing without a record before the receiver is restarted (100 ms ..= 5 min; default
    /// 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// What to do with a record that does not decode (default: skip and count it). A skipped
    /// record's offset is committed with its block.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Sets a librdkafka property of the consumer (`security.protocol`, `client.id`,
    /// `session.timeout.ms`, `auto.offset.reset` = `earliest` (default) or `latest` for a group
    /// without committed offsets, ...). The properties the receiver depends on
    /// (`bootstrap.servers`, `group.id`, `enable.auto.commit`, `enable.auto.offset.store`)
    /// cannot be changed.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: KafkaDecoder>(self, decoder: E) -> KafkaReceiver<E> {
        KafkaReceiver {
            brokers: self.brokers,
            group: self.group,
            topics: self.topics,
            block_size: self.block_size,
            block_max_wait: self.block_max_wait,
            poll_timeout: self.poll_timeout,
            request_timeout: self.request_timeout,
            bad_records: self.bad_records,
            settings: self.settings,
            decoder: Arc::new(decoder),
            frozen: None,
        }
    }

    /// Produces the values as UTF-8 `String`s ([`Utf8`]).
    pub fn utf8_values(self) -> KafkaReceiver<Utf8> {
        self.decode(Utf8)
    }

    /// Produces the values as raw bytes ([`Bytes`]).
    pub fn byte_values(self) -> KafkaReceiver<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the values decoded from JSON into `T` ([`Json`]).
    pub fn json_values<T: Data + DeserializeOwned>(self) -> KafkaReceiver<Json<T>> {
        self.decode(Json::new())
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("auto.offset.reset", "earliest");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        config
    }

    /// Whether a partition without a committed offset starts at its end.
    fn starts_at_latest(&self) -> bool {
        self.settings
            .get("auto.offset.reset")
            .is_some_and(|v| matches!(v.as_str(), "latest" | "largest" | "end"))
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        if self.brokers.trim().is_empty() {
            return Err(SourceError::user(
                "kafka receiver: the broker list is empty",
            ));
        }
        if self.group.trim().is_empty() {
            return Err(SourceError::user(
                "kafka receiver: the consumer group is empty",
            ));
        }
        validate_topics(&self.topics)?;
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            return Err(SourceError::user(format!(
                "kafka receiver: block_size must be between 1 and {MAX_BLOCK_SIZE} records, not {}",
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
                MIN_TIMEOUT,
                MAX_REQUEST_TIMEOUT,
            ),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(SourceError::user(format!(
                    "kafka receiver: {name} must be between {min:?} and {max:?}, not {value:?}"
                )));
            }
        }
        if let Some(v) = self.settings.get("auto.offset.reset") {
            let known = [
                "earliest",
                "smallest",
                "beginning",
                "latest",
                "largest",
                "end",
            ];
            if !known.contains(&v.as_str()) {
                return Err(SourceError::user(format!(
                    "kafka receiver: auto.offset.reset must be `earliest` or `latest`, not `{v}`"
                )));
            }
        }
        refuse_settings(
            &self.settings,
            &[
                "bootstrap.servers",
                "group.id",
                "enable.auto.commit",
                "enable.auto.offset.store",
            ],
            "the receiver",
        )
    }

    /// In an available-now run: per partition still to read, the offset it ends at (the end
    /// of the partition when the first run started), from the group's committed offsets.
    fn remaining(
        &mut self,
        consumer: &BaseConsumer,
    ) -> Result<BTreeMap<(String, i32), i64>, SourceError> {
        let now = partition_watermarks(consumer, &self.topics, None, self.request_timeout)?;
        let frozen = self
            .frozen
            .get_or_insert_with(|| now.iter().map(|(k, w)| (k.clone(), w.high)).collect())
            .clone();
        let mut tpl = TopicPartitionList::new();
        for (t, p) in frozen.keys() {
            tpl.add_partition(t, *p);
        }
        let what = format!("kafka: the offsets committed by group `{}`", self.group);
        let committed = consumer
            .committed_offsets(tpl, self.request_timeout)
            .map_err(|e| classify(&what, e))?;
        let latest = self.starts_at_latest();
        let mut remaining = BTreeMap::new();
        for ((t, p), high) in frozen {
            let Some(w) = now.get(&(t.clone(), p)) else {
                continue;
            };
            let start = match committed.find_partition(&t, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ if latest => high,
                _ => w.low,
            };
            if start < high {
                remaining.insert((t, p), high);
            }
        }
        Ok(remaining)
    }
}

/// A block being filled: the records and, per partition, the offset after its last record.
struct Block<T> {
    records: Vec<T>,
    next: BTreeMap<(String, i32), i64>,
    since: Option<Instant>,
}

impl<D: KafkaDecoder> KafkaReceiver<D> {
    /// Stores the block reliably, then commits its offsets to the group.
    fn flush(
        &self,
        consumer: &BaseConsumer,
        ctx: &ReceiverContext<D::Item>,
        block: &mut Block<D::Item>,
    ) -> Result<(), SourceError> {
        if block.next.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut block.records);
        block.since = None;
        ctx.store_reliably(records).map_err(store_error)?;
        let what = format!("kafka: committing offsets to group `{}`", self.group);
        let mut tpl = TopicPartitionList::new();
        for ((t, p), next) in &block.next {
            tpl.add_partition_offset(t, *p, Offset::Offset(*next))
                .map_err(|e| classify(&what, e))?;
        }
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| classify(&what, e))?;
        block.next.clear();
        Ok(())
    }

    /// Polls, stores and commits until stopped, a user error, or (available-now) the end.
    fn receive(
        &mut self,
        consumer: &BaseConsumer,
        ctx: &ReceiverContext<D::Item>,
    ) -> Result<(), SourceError> {
        let mut remaining = if ctx.available_now() {
            Some(self.remaining(consumer)?)
        } else {
            // A missing topic fails here, with the user's error naming it.
            partition_watermarks(consumer, &self.topics, None, self.request_timeout)?;
            None
        };
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        let what = format!("kafka: receiving {}", self.topics.join(","));
        consumer
            .subscribe(&topics)
            .map_err(|e| classify(&what, e))?;
        let mut block = Block {
            records: Vec::new(),
            next: BTreeMap::new(),
            since: None,
        };
        // The first of the consecutive retryable errors met without a record since.
        let mut failing: Option<(Instant, SourceError)> = None;
        loop {
            if ctx.is_stopped() || remaining.as_ref().is_some_and(BTreeMap::is_empty) {
                return self.flush(consumer, ctx, &mut block);
            }
            let wait = block.since.map_or(self.poll_timeout, |since| {
                self.block_max_wait
                    .saturating_sub(since.elapsed())
                    .clamp(MIN_WAIT, self.poll_timeout)
            });
            match consumer.poll(wait) {
                None => {}
                Some(Ok(m)) => {
                    failing = None;
                    let key = (m.topic().to_string(), m.partition());
                    let offset = m.offset();
                    if let Some(rem) = remaining.as_mut() {
                        match rem.get(&key) {
                            Some(end) if offset < *end => {
                                if offset + 1 >= *end {
                                    rem.remove(&key);
                                }
                            }
                            // Past what was there at the start, or not to be read.
                            _ => continue,
                        }
                    }
                    if block.next.get(&key).is_some_and(|next| offset < *next) {
                        continue; // fetched again after a rebalance
                    }
                    match self.decoder.decode(KafkaRecord::from_message(&m)) {
                        Ok(item) => block.records.push(item),
                        Err(why) => {
                            let what = format!("kafka: {}/{} offset {offset}: {why}", key.0, key.1);
                            if self.bad_records == BadRecordPolicy::Fail {
                                self.flush(consumer, ctx, &mut block)?;
                                return Err(SourceError::user(what));
                            }
                            let raw = m.payload().unwrap_or_default();
                            ctx.bad_record_raw(self.bad_records, &what, raw);
                        }
                    }
                    block.next.insert(key, offset + 1);
                    block.since.get_or_insert_with(Instant::now);
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    let error = classify(&what, e);
                    if !error.is_retryable() {
                        self.flush(consumer, ctx, &mut block)?;
                        return Err(error);
                    }
                    // librdkafka reconnects and rejoins by itself; a restart follows only if
                    // the errors go on for request_timeout without a record.
                    tracing::debug!("{error}");
                    let since = failing.as_ref().map_or_else(Instant::now, |f| f.0);
                    if since.elapsed() >= self.request_timeout {
                        self.flush(consumer, ctx, &mut block)?;
                        return Err(error);
                    }
                    failing = Some((since, error));
                }
            }
            let full = block.records.len() >= self.block_size;
            if full
                || block
                    .since
                    .is_some_and(|s| s.elapsed() >= self.block_max_wait)
            {
                self.flush(consumer, ctx, &mut block)?;
            }
        }
    }
}

/// A block that could not be stored: nothing was committed, so a restart reads it again.
fn store_error<T>(e: StoreError<T>) -> SourceError {
    let message = format!("kafka receiver: storing a block: {}", e.error);
    match e.error.domain() {
        ErrorDomain::External => {
            SourceError::new(ErrorDomain::External, RetryHint::WithBackoff, message)
        }
        domain => SourceError::new(domain, RetryHint::NoRetry, message),
    }
    .with_cause(e.error)
}

impl<D: KafkaDecoder> Receiver for KafkaReceiver<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!(
            "kafka topics {} at {} (group {})",
            self.topics.join(","),
            self.brokers,
            self.group
        )
    }

    fn kind(&self) -> &'static str {
        "kafka_receiver"
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.validate()?;
        // An unknown or malformed property fails `start()`.
        let _: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| classify("kafka: creating a consumer", e))?;
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        // A new consumer for every run: it resumes from the group's committed offsets, so the
        // records polled but not stored by a failed run are read again.
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| classify("kafka: creating a consumer", e))?;
        let result = self.receive(&consumer, ctx);
        consumer.unsubscribe();
        result
    }
}
