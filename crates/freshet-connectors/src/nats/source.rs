//! The JetStream direct stream: ranges of stream sequences, planned by the driver and read by
//! the workers.

use super::connection::{self, check_name, check_subject, check_timeout, classify, Connection};
use super::message::{Bytes, Json, Messages, NatsDecoder, Utf8};
use super::reader::NatsReader;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::State;
use async_nats::jetstream::ErrorCode;
use freshet::source::{DataLoss, DirectSource, StartContext};
use freshet::{Data, SourceError};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The largest `max_messages_per_batch`.
pub const MAX_MESSAGES_PER_BATCH: u64 = 1_000_000_000;

/// Where a [`NatsSource`] starts when there is no checkpoint. A checkpoint, when there is one,
/// always wins: it holds where the last batch ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest message the stream still holds (the default).
    #[default]
    Earliest,
    /// The end of the stream when the source starts: only messages stored later are read.
    Latest,
    /// This stream sequence, between the oldest message's and one past the last message's.
    Sequence(u64),
    /// The first message stored at or after this time (milliseconds since the Unix epoch, at
    /// least 0) that matches the filter subject; the end of the stream when there is none.
    Time(i64),
}

/// Where a [`NatsSource`] stands: the stream sequence of the next message to read. It is what
/// the batch log and checkpoints hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsOffset {
    /// The sequence of the next message to read (from 1).
    pub next_seq: u64,
}

/// One split: the stream sequences `start..end`. Sequences may have gaps (deleted messages,
/// messages of subjects the filter leaves out); the reader reads what is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceRange {
    /// The first sequence.
    pub start: u64,
    /// One past the last sequence.
    pub end: u64,
}

/// A direct (replayable) stream of a NATS JetStream stream. See the
/// [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::nats::{NatsSource, StartingPosition};
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)).workers(4))?;
/// let source = NatsSource::jetstream("nats://localhost:4222", "ORDERS")
///     .filter_subject("orders.eu.>")
///     .starting(StartingPosition::Earliest)
///     .max_messages_per_batch(10_000);
/// ctx.direct_stream(source).uid("orders").count().print(1);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct NatsSource<D: NatsDecoder = Utf8> {
    url: String,
    stream: String,
    filter: Option<String>,
    starting: StartingPosition,
    max_per_batch: Option<u64>,
    durable: Option<String>,
    request_timeout: Duration,
    decoder: Arc<D>,
    /// The driver's connection (stream info, the durable consumer), from `start` on.
    conn: Option<Connection>,
    /// The stream's last sequence when `latest` last asked, for `lag`.
    last_seq: Option<u64>,
    /// In an available-now run: the stream's last sequence at the start.
    frozen: Option<u64>,
    /// Where messages removed before they were read are reported (from `start` on).
    data_loss: DataLoss,
}

impl NatsSource<Utf8> {
    /// A direct stream of the JetStream stream `stream` on the server at `server_url`
    /// (`nats://host:4222`; `nats://user:password@host:4222` or `nats://token@host:4222` to
    /// authenticate), producing the payloads as UTF-8 text. It starts at the oldest message and
    /// takes everything there is at each batch; the builder methods change that.
    pub fn jetstream(server_url: impl Into<String>, stream: impl Into<String>) -> Self {
        NatsSource {
            url: server_url.into(),
            stream: stream.into(),
            filter: None,
            starting: StartingPosition::Earliest,
            max_per_batch: None,
            durable: None,
            request_timeout: Duration::from_secs(10),
            decoder: Arc::new(Utf8),
            conn: None,
            last_seq: None,
            frozen: None,
            data_loss: DataLoss::default(),
        }
    }

    /// A receiver of the core NATS subject `subject` (wildcards `*` and `>` allowed) on the
    /// server at `server_url`, at-most-once: see [`NatsSubjectReceiver`](super::NatsSubjectReceiver).
    pub fn subject(
        server_url: impl Into<String>,
        subject: impl Into<String>,
    ) -> super::NatsSubjectReceiver<Utf8> {
        super::NatsSubjectReceiver::new(server_url.into(), subject.into())
    }
}

impl<D: NatsDecoder> NatsSource<D> {
    /// Reads only the messages whose subject matches `filter` (wildcards allowed), for a
    /// stream that holds several subjects. Sequences of other subjects are gaps: they count in
    /// the batch cap and the lag, but produce nothing.
    pub fn filter_subject(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Where to start when there is no checkpoint (default: [`StartingPosition::Earliest`]).
    pub fn starting(mut self, starting: StartingPosition) -> Self {
        self.starting = starting;
        self
    }

    /// Takes at most `n` sequences per batch (1 ..= [`MAX_MESSAGES_PER_BATCH`]; default: no
    /// limit): a backlog is spread over several batches.
    pub fn max_messages_per_batch(mut self, n: u64) -> Self {
        self.max_per_batch = Some(n);
        self
    }

    /// Keeps a durable consumer named `name` on the stream positioned at the end of the last
    /// checkpointed batch, for monitoring tools (`nats consumer info`: its last delivered stream
    /// sequence is the last sequence checkpointed, its pending count what waits beyond). The source owns the
    /// consumer and sets it again at every checkpoint: do not consume from it. Never read
    /// back: the checkpoint is what a restart resumes from. Needs a checkpoint directory.
    pub fn durable(mut self, name: impl Into<String>) -> Self {
        self.durable = Some(name.into());
        self
    }

    /// How long connecting and each request to the server may take (100 ms ..= 5 min;
    /// default 10 s). A batch planned while the server does not answer gets nothing from this
    /// source and the next one asks again; a read that times out is retried.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: NatsDecoder>(self, decoder: E) -> NatsSource<E> {
        NatsSource {
            url: self.url,
            stream: self.stream,
            filter: self.filter,
            starting: self.starting,
            max_per_batch: self.max_per_batch,
            durable: self.durable,
            request_timeout: self.request_timeout,
            decoder: Arc::new(decoder),
            conn: None,
            last_seq: None,
            frozen: None,
            data_loss: DataLoss::default(),
        }
    }

    /// Produces the messages as they are ([`NatsMessage`](super::NatsMessage)s: subject,
    /// sequence, payload, headers, timestamp).
    pub fn messages(self) -> NatsSource<Messages> {
        self.decode(Messages)
    }

    /// Produces the payloads as raw bytes ([`Bytes`]).
    pub fn bytes(self) -> NatsSource<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the payloads decoded from JSON into `T` ([`Json`]).
    pub fn json<T: Data + DeserializeOwned>(self) -> NatsSource<Json<T>> {
        self.decode(Json::new())
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        if self.url.trim().is_empty() {
            return Err(SourceError::user("nats: the server URL is empty"));
        }
        check_name("stream name", &self.stream)?;
        if let Some(filter) = &self.filter {
            check_subject("filter_subject", filter)?;
        }
        if let Some(durable) = &self.durable {
            check_name("durable consumer name", durable)?;
        }
        if let Some(n) = self.max_per_batch {
            if !(1..=MAX_MESSAGES_PER_BATCH).contains(&n) {
                return Err(SourceError::user(format!(
                    "nats: max_messages_per_batch must be between 1 and \
                     {MAX_MESSAGES_PER_BATCH}, not {n}"
                )));
            }
        }
        check_timeout("request_timeout", self.request_timeout)?;
        match self.starting {
            StartingPosition::Sequence(0) => Err(SourceError::user(
                "nats: the starting sequence must be at least 1, not 0",
            )),
            StartingPosition::Time(t) if t < 0 => Err(SourceError::user(format!(
                "nats: the starting time must be at least 0 (milliseconds since the Unix \
                 epoch), not {t}"
            ))),
            _ => Ok(()),
        }
    }

    fn conn(&self) -> Result<&Connection, SourceError> {
        self.conn
            .as_ref()
            .ok_or_else(|| SourceError::internal("nats: the source is used before `start`"))
    }

    /// The stream's state now; a missing stream is the user's error.
    fn state(&self) -> Result<State, SourceError> {
        let conn = self.conn()?;
        let what = format!("nats: the info of stream `{}` at {}", self.stream, self.url);
        let info = conn.block_on(async {
            let stream = conn
                .js
                .get_stream(&self.stream)
                .await
                .map_err(|e| stream_error(&self.stream, &self.url, e))?;
            stream.get_info().await.map_err(|e| classify(&what, e))
        })?;
        Ok(info.state)
    }

    /// The sequence of the first message stored at or after `ms` that the filter takes, or
    /// `None` when there is none.
    fn sequence_at_time(&self, ms: i64) -> Result<Option<u64>, SourceError> {
        let conn = self.conn()?;
        let what = format!(
            "nats: looking up the first message of stream `{}` at or after {}",
            self.stream,
            connection::rfc3339(ms)
        );
        let deliver: DeliverPolicy = serde_json::from_value(serde_json::json!({
            "deliver_policy": "by_start_time",
            "opt_start_time": connection::rfc3339(ms),
        }))
        .map_err(|e| SourceError::internal(format!("{what}: {e}")))?;
        let config = ephemeral_config(deliver, self.filter.clone());
        conn.block_on(async {
            let consumer: PullConsumer = conn
                .js
                .create_consumer_on_stream(config, &self.stream)
                .await
                .map_err(|e| classify(&what, e))?;
            let found = async {
                let mut batch = consumer
                    .fetch()
                    .max_messages(1)
                    .messages()
                    .await
                    .map_err(|e| classify(&what, e))?;
                match tokio::time::timeout(self.request_timeout, batch.next()).await {
                    Err(_) => Err(SourceError::external(format!(
                        "{what}: no answer within {:?}",
                        self.request_timeout
                    ))),
                    Ok(None) => Ok(None),
                    Ok(Some(Err(e))) => Err(SourceError::external(format!("{what}: {e}"))),
                    Ok(Some(Ok(m))) => m
                        .info()
                        .map(|i| Some(i.stream_sequence))
                        .map_err(|e| SourceError::internal(format!("{what}: {e}"))),
                }
            }
            .await;
            let name = consumer.cached_info().name.clone();
            let _ = conn
                .js
                .delete_consumer_from_stream(&name, &self.stream)
                .await;
            found
        })
    }
}

/// The configuration of the ephemeral consumers that read ranges: no acknowledgements, in
/// memory, deleted by the server when left behind.
pub(crate) fn ephemeral_config(deliver: DeliverPolicy, filter: Option<String>) -> pull::Config {
    pull::Config {
        deliver_policy: deliver,
        ack_policy: AckPolicy::None,
        filter_subject: filter.unwrap_or_default(),
        inactive_threshold: Duration::from_secs(60),
        memory_storage: true,
        num_replicas: 1,
        ..Default::default()
    }
}

/// Classifies a failed lookup of `stream`: a stream that does not exist is the user's error.
pub(crate) fn stream_error(
    stream: &str,
    url: &str,
    e: async_nats::jetstream::context::GetStreamError,
) -> SourceError {
    match e.kind() {
        GetStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NOT_FOUND => {
            SourceError::user(format!("nats: stream `{stream}` does not exist at {url}"))
                .with_cause(e)
        }
        GetStreamErrorKind::JetStream(api) => {
            connection::api_error(&format!("nats: stream `{stream}` at {url}"), &api)
        }
        GetStreamErrorKind::EmptyName | GetStreamErrorKind::InvalidStreamName => {
            SourceError::user(format!("nats: `{stream}` is not a valid stream name")).with_cause(e)
        }
        GetStreamErrorKind::Request => classify(
            &format!("nats: asking for stream `{stream}` at {url} (is JetStream enabled?)"),
            e,
        ),
    }
}

/// Where the next batch ends, from `from`, given the stream's state: at the end of the stream
/// (`last + 1`), or `frozen + 1` in an available-now run, by at most `max` sequences.
pub(crate) fn plan_next(
    stream: &str,
    from: NatsOffset,
    state: &State,
    frozen: Option<u64>,
    max: Option<u64>,
) -> Result<NatsOffset, SourceError> {
    let end = state.last_sequence.saturating_add(1);
    if from.next_seq > end {
        return Err(SourceError::user(format!(
            "nats: stream `{stream}` ends at sequence {}, before the sequence {} already read: \
             was the stream deleted and created again?",
            state.last_sequence,
            from.next_seq.saturating_sub(1)
        )));
    }
    let end = frozen.map_or(end, |f| end.min(f.saturating_add(1)));
    let end = max.map_or(end, |m| end.min(from.next_seq.saturating_add(m)));
    Ok(NatsOffset {
        next_seq: end.max(from.next_seq),
    })
}

/// Cuts `start..end` into at most `workers` contiguous ranges of nearly equal length.
pub(crate) fn cut(start: u64, end: u64, workers: usize) -> Vec<SequenceRange> {
    let n = end.saturating_sub(start);
    if n == 0 {
        return Vec::new();
    }
    let parts = (workers.max(1) as u64).min(n);
    let (each, extra) = (n / parts, n % parts);
    let mut ranges = Vec::with_capacity(parts as usize);
    let mut at = start;
    for i in 0..parts {
        let len = each + u64::from(i < extra);
        ranges.push(SequenceRange {
            start: at,
            end: at + len,
        });
        at += len;
    }
    ranges
}

impl<D: NatsDecoder> DirectSource for NatsSource<D> {
    type Item = D::Item;
    type Offset = NatsOffset;
    type Split = SequenceRange;
    type Reader = NatsReader<D>;

    fn kind(&self) -> &'static str {
        "nats_jetstream"
    }

    fn describe(&self) -> String {
        match &self.filter {
            Some(f) => format!("nats stream {} (subjects {f}) at {}", self.stream, self.url),
            None => format!("nats stream {} at {}", self.stream, self.url),
        }
    }

    fn start(&mut self, ctx: &StartContext) -> Result<NatsOffset, SourceError> {
        self.validate()?;
        self.conn = Some(Connection::open(
            &self.url,
            self.request_timeout,
            &format!("freshet {}", ctx.id),
        )?);
        let state = self.state()?;
        let first = state.first_sequence.max(1);
        let end = state.last_sequence.saturating_add(1);
        let next_seq = match self.starting {
            StartingPosition::Earliest => first.min(end),
            StartingPosition::Latest => end,
            StartingPosition::Sequence(s) => {
                if !(first.min(end)..=end).contains(&s) {
                    return Err(SourceError::user(format!(
                        "nats: the starting sequence of stream `{}` must be between {} and \
                         {end}, not {s}",
                        self.stream,
                        first.min(end)
                    )));
                }
                s
            }
            StartingPosition::Time(ms) => self.sequence_at_time(ms)?.unwrap_or(end),
        };
        self.last_seq = Some(state.last_sequence);
        self.data_loss = ctx.data_loss.clone();
        if ctx.available_now {
            self.frozen = Some(state.last_sequence);
        }
        Ok(NatsOffset { next_seq })
    }

    fn latest(&mut self, from: &NatsOffset) -> Result<NatsOffset, SourceError> {
        let state = self.state()?;
        self.last_seq = Some(state.last_sequence);
        let end = state.last_sequence.saturating_add(1);
        let gone = state.first_sequence.min(end);
        if from.next_seq < gone {
            self.data_loss.report(
                Some(gone - from.next_seq),
                &format!(
                    "nats: the messages {}..{gone} of stream `{}` were removed (limits, purge or \
                     deletes) before they were read",
                    from.next_seq, self.stream
                ),
            )?;
        }
        plan_next(&self.stream, *from, &state, self.frozen, self.max_per_batch)
    }

    fn latest_limited(
        &mut self,
        from: &NatsOffset,
        max_records: u64,
    ) -> Result<NatsOffset, SourceError> {
        let to = self.latest(from)?;
        Ok(NatsOffset {
            next_seq: to
                .next_seq
                .min(from.next_seq.saturating_add(max_records))
                .max(from.next_seq),
        })
    }

    fn splits(
        &mut self,
        from: &NatsOffset,
        to: &NatsOffset,
        workers: usize,
    ) -> Result<Vec<SequenceRange>, SourceError> {
        if to.next_seq < from.next_seq {
            return Err(SourceError::internal(format!(
                "nats: the range {}..{} of stream `{}` goes backwards",
                from.next_seq, to.next_seq, self.stream
            )));
        }
        Ok(cut(from.next_seq, to.next_seq, workers))
    }

    fn reader(&self) -> NatsReader<D> {
        NatsReader::new(
            self.url.clone(),
            self.stream.clone(),
            self.filter.clone(),
            self.request_timeout,
            Arc::clone(&self.decoder),
        )
    }

    fn commit(&mut self, through: &NatsOffset) -> Result<(), SourceError> {
        let Some(durable) = &self.durable else {
            return Ok(());
        };
        let conn = self.conn()?;
        let what = format!(
            "nats: positioning the durable consumer `{durable}` of stream `{}` at sequence {}",
            self.stream, through.next_seq
        );
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            description: Some(format!(
                "freshet: the end of the last checkpointed batch of stream {}",
                self.stream
            )),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: through.next_seq.max(1),
            },
            ack_policy: AckPolicy::All,
            filter_subject: self.filter.clone().unwrap_or_default(),
            ..Default::default()
        };
        conn.block_on(async {
            // A consumer's start cannot be changed: it is replaced.
            if let Err(e) = conn
                .js
                .delete_consumer_from_stream(durable, &self.stream)
                .await
            {
                let missing = matches!(
                    e.kind(),
                    async_nats::jetstream::stream::ConsumerErrorKind::JetStream(api)
                        if api.error_code() == ErrorCode::CONSUMER_NOT_FOUND
                );
                if !missing {
                    return Err(classify(&what, e));
                }
            }
            conn.js
                .create_consumer_on_stream(config, &self.stream)
                .await
                .map(|_: PullConsumer| ())
                .map_err(|e| classify(&what, e))
        })
    }

    fn ended(&self, at: &NatsOffset) -> bool {
        self.frozen.is_some_and(|last| at.next_seq > last)
    }

    fn lag(&self, from: &NatsOffset) -> Option<u64> {
        self.last_seq
            .map(|last| last.saturating_add(1).saturating_sub(from.next_seq))
    }

    fn lag_by_partition(&self, from: &NatsOffset) -> Vec<(String, u64)> {
        self.lag(from)
            .map(|lag| vec![(self.stream.clone(), lag)])
            .unwrap_or_default()
    }

    fn stop(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(first: u64, last: u64) -> State {
        serde_json::from_value(serde_json::json!({
            "messages": last + 1 - first, "bytes": 0, "first_seq": first,
            "first_ts": "1970-01-01T00:00:00Z", "last_seq": last,
            "last_ts": "1970-01-01T00:00:00Z", "consumer_count": 0,
        }))
        .unwrap()
    }

    #[test]
    fn ranges_are_cut_into_contiguous_parts_one_per_worker_at_most() {
        assert_eq!(cut(5, 5, 3), vec![]);
        assert_eq!(
            cut(1, 3, 4),
            vec![
                SequenceRange { start: 1, end: 2 },
                SequenceRange { start: 2, end: 3 }
            ]
        );
        let parts = cut(10, 21, 3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], SequenceRange { start: 10, end: 14 });
        assert_eq!(parts[2].end, 21);
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn a_batch_ends_at_the_end_of_the_stream_capped_and_frozen() {
        let at = |n| NatsOffset { next_seq: n };
        let s = state(1, 50);
        assert_eq!(plan_next("s", at(1), &s, None, None).unwrap(), at(51));
        assert_eq!(plan_next("s", at(1), &s, None, Some(20)).unwrap(), at(21));
        assert_eq!(plan_next("s", at(45), &s, None, Some(20)).unwrap(), at(51));
        assert_eq!(plan_next("s", at(1), &s, Some(30), None).unwrap(), at(31));
        assert_eq!(plan_next("s", at(40), &s, Some(30), None).unwrap(), at(40));
        assert_eq!(plan_next("s", at(51), &s, None, None).unwrap(), at(51));
        let err = plan_next("s", at(60), &s, None, None).unwrap_err();
        assert!(
            !err.is_retryable() && err.to_string().contains("created again"),
            "{err}"
        );
        // Messages removed before they were read are skipped.
        assert_eq!(
            plan_next("s", at(1), &state(20, 50), None, None).unwrap(),
            at(51)
        );
    }
}
