//! The direct stream: offset ranges per topic-partition, planned by the driver and read by the
//! workers.

use super::error::classify;
use super::reader::KafkaReader;
use super::record::{Bytes, Json, KafkaDecoder, Records, Utf8};
use freshet::source::{DataLoss, DirectSource, StartContext};
use freshet::{Data, SourceError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The largest `max_records_per_partition_per_batch`.
pub const MAX_RECORDS_PER_PARTITION_PER_BATCH: u64 = 1_000_000_000;
/// The shortest and longest broker request timeout.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(100);
pub(crate) const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_READ_TIMEOUT: Duration = Duration::from_secs(600);
/// The group librdkafka's manual assignment runs under when no commit group is set.
const DEFAULT_GROUP: &str = "freshet-direct";
/// How long a broker may hold a fetch that finds no new record (librdkafka's
/// `fetch.wait.max.ms`, unless set).
const FETCH_WAIT_MS: &str = "10";
/// The longest topic name Kafka accepts.
const MAX_TOPIC_LEN: usize = 249;

/// Where a [`KafkaSource`] starts when there is no checkpoint. A checkpoint, when there is one,
/// always wins: it holds where the last batch ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StartingOffsets {
    /// The oldest record each partition still holds (the default).
    #[default]
    Earliest,
    /// The end of each partition when the source starts: only records produced later are read.
    Latest,
    /// The given offset for each listed `(topic, partition)`; partitions not listed start at the
    /// earliest. An offset must lie between the partition's oldest offset and its end.
    Offsets(Vec<(String, i32, i64)>),
    /// The first record whose timestamp is at or after this time (milliseconds since the Unix
    /// epoch, at least 0) in each partition; the end of a partition that has none.
    Timestamp(i64),
}

/// Where a [`KafkaSource`] stands: per topic and partition, the offset of the next record to
/// read. It is what the batch log and checkpoints hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaOffset {
    /// Next offsets by topic, then partition.
    pub topics: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl KafkaOffset {
    /// The next offset of `topic`/`partition`, if the offset covers it.
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.topics.get(topic)?.get(&partition).copied()
    }

    fn set(&mut self, topic: &str, partition: i32, offset: i64) {
        self.topics
            .entry(topic.to_string())
            .or_default()
            .insert(partition, offset);
    }

    fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, o)| (t.as_str(), *p, *o)))
    }
}

/// One split: the offsets `start..end` of one partition. Offsets may have gaps (compaction,
/// transaction markers); the reader stops at the first record at or past `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRange {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The first offset.
    pub start: i64,
    /// One past the last offset.
    pub end: i64,
}

/// The oldest offset and the end (high watermark) of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Watermarks {
    pub(crate) low: i64,
    pub(crate) high: i64,
}

/// A direct (replayable) stream of Kafka topics. See the [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::kafka::{KafkaSource, StartingOffsets};
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)).workers(4))?;
/// let source = KafkaSource::direct("localhost:9092", ["clicks"])
///     .starting_offsets(StartingOffsets::Earliest)
///     .max_records_per_partition_per_batch(10_000)
///     .utf8_values();
/// ctx.direct_stream(source).uid("clicks").count().print(1);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct KafkaSource<D: KafkaDecoder = Records> {
    brokers: String,
    topics: Vec<String>,
    partitions: Option<BTreeSet<(String, i32)>>,
    starting: StartingOffsets,
    max_per_partition: Option<u64>,
    request_timeout: Duration,
    read_timeout: Duration,
    commit_group: Option<String>,
    settings: BTreeMap<String, String>,
    decoder: Arc<D>,
    /// The driver's consumer (metadata, watermarks, offset lookups), from `start` on.
    consumer: Option<BaseConsumer>,
    /// The consumer that commits to `commit_group`, created at the first commit.
    committer: Option<BaseConsumer>,
    /// The ends of the partitions when `latest` last asked, for `lag`.
    high: BTreeMap<(String, i32), i64>,
    /// In an available-now run: the ends of the partitions at the start.
    frozen: Option<BTreeMap<(String, i32), i64>>,
    /// The oldest offsets of the partitions when `latest` last asked: a range starting below
    /// is partly deleted.
    low: BTreeMap<(String, i32), i64>,
    /// Where deleted records are reported (from `start` on).
    data_loss: DataLoss,
}

impl KafkaSource<Records> {
    /// A direct stream of `topics` on the cluster at `brokers` (`host:port`, comma-separated),
    /// producing [`KafkaRecord`](super::KafkaRecord)s. It starts at the earliest offsets, reads
    /// every partition of the topics (those added while it runs too), and takes everything
    /// there is at each batch; the builder methods change that.
    pub fn direct<I, T>(brokers: impl Into<String>, topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        KafkaSource {
            brokers: brokers.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            partitions: None,
            starting: StartingOffsets::Earliest,
            max_per_partition: None,
            request_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            commit_group: None,
            settings: BTreeMap::new(),
            decoder: Arc::new(Records),
            consumer: None,
            committer: None,
            high: BTreeMap::new(),
            frozen: None,
            low: BTreeMap::new(),
            data_loss: DataLoss::default(),
        }
    }
}

impl<D: KafkaDecoder> KafkaSource<D> {
    /// Reads only these `(topic, partition)`s (each of a subscribed topic; checked at the start).
    /// New partitions are then not picked up.
    pub fn partitions<I, T>(mut self, partitions: I) -> Self
    where
        I: IntoIterator<Item = (T, i32)>,
        T: Into<String>,
    {
        self.partitions = Some(partitions.into_iter().map(|(t, p)| (t.into(), p)).collect());
        self
    }

    /// Where to start when there is no checkpoint (default: [`StartingOffsets::Earliest`]).
    pub fn starting_offsets(mut self, starting: StartingOffsets) -> Self {
        self.starting = starting;
        self
    }

    /// Takes at most `n` records (offsets) per partition and batch (1 ..=
    /// [`MAX_RECORDS_PER_PARTITION_PER_BATCH`]; default: no limit), Spark's
    /// `maxRatePerPartition`: a backlog is spread over several batches.
    pub fn max_records_per_partition_per_batch(mut self, n: u64) -> Self {
        self.max_per_partition = Some(n);
        self
    }

    /// How long a metadata, watermark or offset request to the brokers may take (100 ms ..= 5
    /// min; default 10 s). A batch planned while the brokers do not answer gets nothing from
    /// this source and the next one asks again.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a worker waits for the next record of its range before the read fails and is
    /// retried (100 ms ..= 10 min; default 30 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Commits the offsets of every checkpointed batch to the consumer group `group`, for
    /// monitoring tools that show a group's lag. Never read back: the checkpoint is what a
    /// restart resumes from. Needs a checkpoint directory (commits follow checkpoints).
    pub fn commit_offsets_to_group(mut self, group: impl Into<String>) -> Self {
        self.commit_group = Some(group.into());
        self
    }

    /// Sets a librdkafka property of the consumers (`security.protocol`,
    /// `sasl.mechanism`, `client.id`, ...). The properties the direct stream depends on
    /// (`enable.auto.commit`, `enable.partition.eof`, `auto.offset.reset`,
    /// `bootstrap.servers`, `group.id`) cannot be changed.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: KafkaDecoder>(self, decoder: E) -> KafkaSource<E> {
        KafkaSource {
            brokers: self.brokers,
            topics: self.topics,
            partitions: self.partitions,
            starting: self.starting,
            max_per_partition: self.max_per_partition,
            request_timeout: self.request_timeout,
            read_timeout: self.read_timeout,
            commit_group: self.commit_group,
            settings: self.settings,
            decoder: Arc::new(decoder),
            consumer: None,
            committer: None,
            high: BTreeMap::new(),
            frozen: None,
            low: BTreeMap::new(),
            data_loss: DataLoss::default(),
        }
    }

    /// Produces the values as UTF-8 `String`s ([`Utf8`]).
    pub fn utf8_values(self) -> KafkaSource<Utf8> {
        self.decode(Utf8)
    }

    /// Produces the values as raw bytes ([`Bytes`]).
    pub fn byte_values(self) -> KafkaSource<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the values decoded from JSON into `T` ([`Json`]).
    pub fn json_values<T: Data + DeserializeOwned>(self) -> KafkaSource<Json<T>> {
        self.decode(Json::new())
    }

    /// The consumer configuration every consumer of this source starts from.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        // A worker reads a range it knows exists, then stops: a fetch the broker holds open
        // waiting for more (500 ms by default) would only delay the next batch's read of the
        // partition, which waits for it.
        config.set("fetch.wait.max.ms", FETCH_WAIT_MS);
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        config
            .set("bootstrap.servers", &self.brokers)
            // librdkafka needs a group for manual assignment too; it never joins it (no
            // subscription) and commits to it only when asked to.
            .set(
                "group.id",
                self.commit_group.as_deref().unwrap_or(DEFAULT_GROUP),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "error");
        config
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        if self.brokers.trim().is_empty() {
            return Err(SourceError::user("kafka: the broker list is empty"));
        }
        validate_topics(&self.topics)?;
        if let Some(n) = self.max_per_partition {
            if !(1..=MAX_RECORDS_PER_PARTITION_PER_BATCH).contains(&n) {
                return Err(SourceError::user(format!(
                    "kafka: max_records_per_partition_per_batch must be between 1 and \
                     {MAX_RECORDS_PER_PARTITION_PER_BATCH}, not {n}"
                )));
            }
        }
        if !(MIN_TIMEOUT..=MAX_REQUEST_TIMEOUT).contains(&self.request_timeout) {
            return Err(SourceError::user(format!(
                "kafka: request_timeout must be between {MIN_TIMEOUT:?} and {MAX_REQUEST_TIMEOUT:?}, not {:?}",
                self.request_timeout
            )));
        }
        if !(MIN_TIMEOUT..=MAX_READ_TIMEOUT).contains(&self.read_timeout) {
            return Err(SourceError::user(format!(
                "kafka: read_timeout must be between {MIN_TIMEOUT:?} and {MAX_READ_TIMEOUT:?}, not {:?}",
                self.read_timeout
            )));
        }
        if let Some(parts) = &self.partitions {
            if parts.is_empty() {
                return Err(SourceError::user(
                    "kafka: partitions([...]) lists no partition",
                ));
            }
            for (t, p) in parts {
                if !self.topics.contains(t) {
                    return Err(SourceError::user(format!(
                        "kafka: partition {t}/{p} is not of a subscribed topic ({})",
                        self.topics.join(", ")
                    )));
                }
                if *p < 0 {
                    return Err(SourceError::user(format!(
                        "kafka: partition numbers are at least 0, not {t}/{p}"
                    )));
                }
            }
        }
        match &self.starting {
            StartingOffsets::Offsets(list) => {
                for (t, p, o) in list {
                    if !self.topics.contains(t) || *p < 0 || *o < 0 {
                        return Err(SourceError::user(format!(
                            "kafka: starting offset {o} of {t}/{p}: the topic must be subscribed, \
                             the partition and the offset at least 0"
                        )));
                    }
                }
            }
            StartingOffsets::Timestamp(ts) if *ts < 0 => {
                return Err(SourceError::user(format!(
                    "kafka: the starting timestamp must be at least 0 (ms since the Unix epoch), not {ts}"
                )));
            }
            _ => {}
        }
        refuse_settings(
            &self.settings,
            &[
                "enable.auto.commit",
                "enable.partition.eof",
                "auto.offset.reset",
                "bootstrap.servers",
                "group.id",
            ],
            "the direct stream",
        )
    }

    fn consumer(&self) -> Result<&BaseConsumer, SourceError> {
        self.consumer
            .as_ref()
            .ok_or_else(|| SourceError::internal("kafka: the source was not started"))
    }

    /// The partitions to read now, by topic, with their watermarks.
    fn partitions_now(&self) -> Result<BTreeMap<(String, i32), Watermarks>, SourceError> {
        partition_watermarks(
            self.consumer()?,
            &self.topics,
            self.partitions.as_ref(),
            self.request_timeout,
        )
    }

    /// The first offsets at or after `ts` of `partitions`.
    fn offsets_for_time(
        &self,
        ts: i64,
        partitions: &BTreeMap<(String, i32), Watermarks>,
    ) -> Result<KafkaOffset, SourceError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions.keys() {
            tpl.add_partition_offset(t, *p, Offset::Offset(ts))
                .map_err(|e| classify("kafka: offsets by timestamp", e))?;
        }
        let found = self
            .consumer()?
            .offsets_for_times(tpl, self.request_timeout)
            .map_err(|e| classify("kafka: offsets by timestamp", e))?;
        let mut at = KafkaOffset::default();
        for ((t, p), w) in partitions {
            let offset = match found.find_partition(t, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o.clamp(w.low, w.high),
                // No record at or after the time: the end.
                _ => w.high,
            };
            at.set(t, *p, offset);
        }
        Ok(at)
    }
}

/// Checks the topic names: at least one, each a name Kafka accepts.
pub(crate) fn validate_topics(topics: &[String]) -> Result<(), SourceError> {
    if topics.is_empty() {
        return Err(SourceError::user("kafka: no topic to read"));
    }
    for t in topics {
        let valid = !t.is_empty()
            && t.len() <= MAX_TOPIC_LEN
            && t != "."
            && t != ".."
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(SourceError::user(format!(
                "kafka: `{t}` is not a topic name (1 to {MAX_TOPIC_LEN} of a-z A-Z 0-9 . _ -)"
            )));
        }
    }
    Ok(())
}

/// Refuses a `.set(key, ..)` of a property that `who` sets itself.
pub(crate) fn refuse_settings(
    settings: &BTreeMap<String, String>,
    reserved: &[&str],
    who: &str,
) -> Result<(), SourceError> {
    for key in reserved {
        if settings.contains_key(*key) {
            return Err(SourceError::user(format!(
                "kafka: `{key}` is set by {who} and cannot be changed"
            )));
        }
    }
    Ok(())
}

/// The partitions of `topics` (only those in `only`, when given), with their watermarks. A
/// missing topic or partition is the user's error.
pub(crate) fn partition_watermarks(
    consumer: &BaseConsumer,
    topics: &[String],
    only: Option<&BTreeSet<(String, i32)>>,
    request_timeout: Duration,
) -> Result<BTreeMap<(String, i32), Watermarks>, SourceError> {
    let mut now = BTreeMap::new();
    for topic in topics {
        let what = format!("kafka: the metadata of topic `{topic}`");
        let metadata = consumer
            .fetch_metadata(Some(topic), request_timeout)
            .map_err(|e| classify(&what, e))?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(SourceError::external(format!(
                "{what}: the broker did not answer for it"
            )));
        };
        if let Some(err) = t.error() {
            let code: rdkafka::error::RDKafkaErrorCode = err.into();
            let e = rdkafka::error::KafkaError::MetadataFetch(code);
            return Err(classify(&format!("kafka: topic `{topic}`"), e));
        }
        for p in t.partitions() {
            let key = (topic.clone(), p.id());
            if only.is_some_and(|only| !only.contains(&key)) {
                continue;
            }
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), request_timeout)
                .map_err(|e| classify(&format!("kafka: the offsets of {topic}/{}", p.id()), e))?;
            now.insert(key, Watermarks { low, high });
        }
    }
    if let Some(only) = only {
        if let Some((t, p)) = only.iter().find(|k| !now.contains_key(*k)) {
            return Err(SourceError::user(format!(
                "kafka: partition {t}/{p} does not exist"
            )));
        }
    }
    Ok(now)
}

/// Cuts the range `from..to` to at most `max` offsets in all, spread over the partitions in
/// proportion to what each has waiting (Spark's rate limit of a direct Kafka stream): each
/// partition gets the whole part of its share, and the offsets left over go one each to the
/// partitions with the largest fractions of a share left.
fn limit_total(from: &KafkaOffset, mut to: KafkaOffset, max: u64) -> KafkaOffset {
    let waiting: Vec<(String, i32, i64, u64)> = to
        .iter()
        .filter_map(|(t, p, end)| {
            let start = from.get(t, p)?;
            let n = u64::try_from(end - start).ok().filter(|n| *n > 0)?;
            Some((t.to_string(), p, start, n))
        })
        .collect();
    let total: u64 = waiting.iter().map(|w| w.3).sum();
    if total <= max {
        return to;
    }
    // (whole share, remainder of the exact share, index)
    let mut shares: Vec<(u64, u128, usize)> = waiting
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let exact = u128::from(w.3) * u128::from(max);
            (
                (exact / u128::from(total)) as u64,
                exact % u128::from(total),
                i,
            )
        })
        .collect();
    let mut left = max - shares.iter().map(|s| s.0).sum::<u64>();
    let mut by_rest: Vec<usize> = (0..shares.len()).collect();
    by_rest.sort_by_key(|i| std::cmp::Reverse(shares[*i].1));
    for i in by_rest {
        if left == 0 {
            break;
        }
        if shares[i].0 < waiting[i].3 {
            shares[i].0 += 1;
            left -= 1;
        }
    }
    for (take, _, i) in shares {
        let (t, p, start, _) = &waiting[i];
        to.set(t, *p, start + take as i64);
    }
    to
}

/// Where the next batch ends, from `from`, given the partitions now: every known partition
/// advances to its end, by at most `max` offsets (counted from its oldest offset when `from` is
/// below it: those records were deleted); a partition `from` does not know yet (new, or added
/// to the selection) enters at its oldest offset and is read from the next batch on.
pub(crate) fn plan_next(
    from: &KafkaOffset,
    now: &BTreeMap<(String, i32), Watermarks>,
    max: Option<u64>,
) -> Result<KafkaOffset, SourceError> {
    let mut to = from.clone();
    for ((t, p), w) in now {
        match from.get(t, *p) {
            None => to.set(t, *p, w.low),
            // Records deleted (retention) before they were read: the range starts at the oldest
            // offset still there; `splits` reports the loss.
            Some(next) if next < w.low => {
                let cap = max.map_or(i64::MAX, |m| i64::try_from(m).unwrap_or(i64::MAX));
                to.set(t, *p, w.high.min(w.low.saturating_add(cap)));
            }
            Some(next) if next > w.high => {
                return Err(SourceError::user(format!(
                    "kafka: {t}/{p} ends at offset {}, before the offset {next} already read: \
                     was the topic deleted and created again?",
                    w.high
                )));
            }
            Some(next) => {
                let cap = max.map_or(i64::MAX, |m| i64::try_from(m).unwrap_or(i64::MAX));
                to.set(t, *p, w.high.min(next.saturating_add(cap)));
            }
        }
    }
    Ok(to)
}

impl<D: KafkaDecoder> DirectSource for KafkaSource<D> {
    type Item = D::Item;
    type Offset = KafkaOffset;
    type Split = PartitionRange;
    type Reader = KafkaReader<D>;

    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn describe(&self) -> String {
        format!("kafka topics {} at {}", self.topics.join(","), self.brokers)
    }

    fn start(&mut self, ctx: &StartContext) -> Result<KafkaOffset, SourceError> {
        self.validate()?;
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| classify("kafka: creating a consumer", e))?;
        self.consumer = Some(consumer);
        let now = self.partitions_now()?;
        let start = match &self.starting {
            StartingOffsets::Earliest => plan_next(&KafkaOffset::default(), &now, None)?,
            StartingOffsets::Latest => {
                let mut at = KafkaOffset::default();
                for ((t, p), w) in &now {
                    at.set(t, *p, w.high);
                }
                at
            }
            StartingOffsets::Timestamp(ts) => self.offsets_for_time(*ts, &now)?,
            StartingOffsets::Offsets(list) => {
                let mut at = plan_next(&KafkaOffset::default(), &now, None)?;
                for (t, p, o) in list {
                    let Some(w) = now.get(&(t.clone(), *p)) else {
                        return Err(SourceError::user(format!(
                            "kafka: starting offset of {t}/{p}: no such partition is read"
                        )));
                    };
                    if !(w.low..=w.high).contains(o) {
                        return Err(SourceError::user(format!(
                            "kafka: the starting offset of {t}/{p} must be between {} and {}, not {o}",
                            w.low, w.high
                        )));
                    }
                    at.set(t, *p, *o);
                }
                at
            }
        };
        self.high = now.iter().map(|(k, w)| (k.clone(), w.high)).collect();
        self.low = now.iter().map(|(k, w)| (k.clone(), w.low)).collect();
        self.data_loss = ctx.data_loss.clone();
        if ctx.available_now {
            self.frozen = Some(self.high.clone());
        }
        Ok(start)
    }

    fn latest(&mut self, from: &KafkaOffset) -> Result<KafkaOffset, SourceError> {
        let mut now = self.partitions_now()?;
        self.high = now.iter().map(|(k, w)| (k.clone(), w.high)).collect();
        self.low = now.iter().map(|(k, w)| (k.clone(), w.low)).collect();
        if let Some(frozen) = &self.frozen {
            now.retain(|k, _| frozen.contains_key(k));
            for (k, w) in now.iter_mut() {
                w.high = w.high.min(frozen[k]).max(w.low);
            }
        }
        plan_next(from, &now, self.max_per_partition)
    }

    fn latest_limited(
        &mut self,
        from: &KafkaOffset,
        max_records: u64,
    ) -> Result<KafkaOffset, SourceError> {
        let to = self.latest(from)?;
        Ok(limit_total(from, to, max_records))
    }

    fn splits(
        &mut self,
        from: &KafkaOffset,
        to: &KafkaOffset,
        _workers: usize,
    ) -> Result<Vec<PartitionRange>, SourceError> {
        let mut splits = Vec::new();
        for (topic, partition, end) in to.iter() {
            // A partition `from` does not know entered at its start: nothing to read yet.
            let Some(start) = from.get(topic, partition) else {
                continue;
            };
            if end < start {
                return Err(SourceError::internal(format!(
                    "kafka: the range {start}..{end} of {topic}/{partition} goes backwards"
                )));
            }
            let low = self
                .low
                .get(&(topic.to_string(), partition))
                .copied()
                .unwrap_or(start);
            let start = if start < low {
                let gone = low.min(end);
                self.data_loss.report(
                    u64::try_from(gone - start).ok(),
                    &format!(
                        "kafka: the records {start}..{gone} of {topic}/{partition} were deleted \
                         (retention) before they were read"
                    ),
                )?;
                gone
            } else {
                start
            };
            if end > start {
                splits.push(PartitionRange {
                    topic: topic.to_string(),
                    partition,
                    start,
                    end,
                });
            }
        }
        Ok(splits)
    }

    fn reader(&self) -> KafkaReader<D> {
        KafkaReader::new(
            self.client_config(),
            Arc::clone(&self.decoder),
            self.read_timeout,
            self.request_timeout,
        )
    }

    fn commit(&mut self, through: &KafkaOffset) -> Result<(), SourceError> {
        let Some(group) = &self.commit_group else {
            return Ok(());
        };
        if self.committer.is_none() {
            let committer: BaseConsumer = self
                .client_config()
                .create()
                .map_err(|e| classify("kafka: creating the committing consumer", e))?;
            self.committer = Some(committer);
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in through.iter() {
            tpl.add_partition_offset(t, p, Offset::Offset(o))
                .map_err(|e| classify("kafka: committing offsets", e))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let committer = self
            .committer
            .as_ref()
            .ok_or_else(|| SourceError::internal("kafka: the committing consumer is missing"))?;
        committer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| classify(&format!("kafka: committing offsets to group `{group}`"), e))
    }

    fn ended(&self, at: &KafkaOffset) -> bool {
        self.frozen.as_ref().is_some_and(|frozen| {
            frozen
                .iter()
                .all(|((t, p), high)| at.get(t, *p).is_some_and(|o| o >= *high))
        })
    }

    fn lag(&self, from: &KafkaOffset) -> Option<u64> {
        if self.high.is_empty() {
            return None;
        }
        Some(
            self.high
                .iter()
                .map(|((t, p), high)| {
                    let next = from.get(t, *p).unwrap_or(0);
                    u64::try_from(high.saturating_sub(next)).unwrap_or(0)
                })
                .sum(),
        )
    }

    fn lag_by_partition(&self, from: &KafkaOffset) -> Vec<(String, u64)> {
        self.high
            .iter()
            .map(|((t, p), high)| {
                let next = from.get(t, *p).unwrap_or(0);
                let lag = u64::try_from(high.saturating_sub(next)).unwrap_or(0);
                (format!("{t}/{p}"), lag)
            })
            .collect()
    }

    fn stop(&mut self) {
        self.consumer = None;
        self.committer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(list: &[(&str, i32, i64, i64)]) -> BTreeMap<(String, i32), Watermarks> {
        list.iter()
            .map(|(t, p, low, high)| {
                (
                    (t.to_string(), *p),
                    Watermarks {
                        low: *low,
                        high: *high,
                    },
                )
            })
            .collect()
    }

    fn offset(list: &[(&str, i32, i64)]) -> KafkaOffset {
        let mut o = KafkaOffset::default();
        for (t, p, at) in list {
            o.set(t, *p, *at);
        }
        o
    }

    #[test]
    fn a_new_partition_enters_at_its_oldest_offset_and_is_read_from_the_next_batch() {
        let from = offset(&[("t", 0, 10)]);
        let now = marks(&[("t", 0, 0, 50), ("t", 1, 3, 8)]);
        let to = plan_next(&from, &now, Some(15)).unwrap();
        assert_eq!(to, offset(&[("t", 0, 25), ("t", 1, 3)]));
        let mut source = KafkaSource::direct("localhost:1", ["t"]);
        let splits = source.splits(&from, &to, 2).unwrap();
        assert_eq!(splits.len(), 1, "{splits:?}");
        let next = plan_next(&to, &now, Some(15)).unwrap();
        assert_eq!(next, offset(&[("t", 0, 40), ("t", 1, 8)]));
        let splits = source.splits(&to, &next, 2).unwrap();
        assert_eq!(
            splits[1],
            PartitionRange {
                topic: "t".into(),
                partition: 1,
                start: 3,
                end: 8
            }
        );
    }

    #[test]
    fn records_deleted_before_they_were_read_are_reported_and_a_partition_that_shrank_fails() {
        use freshet::source::DataLossPolicy;
        let from = offset(&[("t", 0, 10)]);
        let now = marks(&[("t", 0, 20, 30)]);
        // The batch goes on from the oldest offset still there...
        let to = plan_next(&from, &now, Some(5)).unwrap();
        assert_eq!(to, offset(&[("t", 0, 25)]));
        // ...and its splits report the deleted records: failing the job by default,
        let mut source = KafkaSource::direct("localhost:1", ["t"]);
        source.low = now.iter().map(|(k, w)| (k.clone(), w.low)).collect();
        let err = source.splits(&from, &to, 1).unwrap_err();
        assert!(
            !err.is_retryable() && err.to_string().contains("10..20 of t/0 were deleted"),
            "{err}"
        );
        // or reading what is left when told to go on.
        source.data_loss = DataLoss::detached(DataLossPolicy::Continue);
        let splits = source.splits(&from, &to, 1).unwrap();
        assert_eq!(
            splits,
            vec![PartitionRange {
                topic: "t".into(),
                partition: 0,
                start: 20,
                end: 25
            }]
        );
        let err = plan_next(&from, &marks(&[("t", 0, 0, 5)]), None).unwrap_err();
        assert!(
            !err.is_retryable() && err.to_string().contains("created again"),
            "{err}"
        );
    }

    #[test]
    fn a_rate_limit_spreads_its_records_over_the_partitions_by_what_waits() {
        let from = offset(&[("t", 0, 0), ("t", 1, 100), ("t", 2, 50)]);
        let to = offset(&[("t", 0, 60), ("t", 1, 130), ("t", 2, 60)]); // 60, 30, 10 waiting
        assert_eq!(limit_total(&from, to.clone(), 100), to, "all fits");
        assert_eq!(
            limit_total(&from, to.clone(), 50),
            offset(&[("t", 0, 30), ("t", 1, 115), ("t", 2, 55)])
        );
        // 7 of 100: shares 4.2, 2.1, 0.7 -> 4, 2, 0, and the one left to the largest fraction.
        let cut = limit_total(&from, to.clone(), 7);
        let taken: i64 = cut
            .iter()
            .map(|(t, p, end)| end - from.get(t, p).unwrap())
            .sum();
        assert_eq!(taken, 7);
        assert_eq!(cut, offset(&[("t", 0, 4), ("t", 1, 102), ("t", 2, 51)]));
        // A partition the offsets do not know yet is left as it is.
        let mut with_new = to.clone();
        with_new.set("t", 3, 0);
        assert_eq!(limit_total(&from, with_new, 1000).get("t", 3), Some(0));
    }
}
