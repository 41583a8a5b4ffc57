//! The Redis sink: a builder per mode (hash, sorted set, stream, or any mix through a
//! function), its settings, and the [`Sink`] implementation that opens one writer per worker.

use super::sink_commands::Extras;
use super::sink_encode::{
    EncodeWith, HashFields, HashIncrements, HashJson, NoEncoder, RedisEncoder, SortedSetIncrements,
    SortedSetScores, StreamField, StreamFields, StreamJson,
};
use super::sink_settings::{RedisSinkSettingsError, SinkSettings};
use super::sink_writer::{RedisSinkWriter, WriterSetup};
use super::RedisWrites;
use freshet::sink::{Guarantee, Sink, SinkContext};
use freshet::SinkError;
use serde::Serialize;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Writes a stream's items to Redis: fields of hashes, scores of sorted sets, entries of
/// streams, exactly once. See the [module documentation](super#the-sink) for the guarantee.
///
/// Pick a mode with a constructor — [`hash`](Self::hash), [`sorted_set`](Self::sorted_set),
/// [`stream`](Self::stream) — or write anything with [`new`](Self::new) and
/// [`encode_with`](Self::encode_with). Every worker writes its part of each batch in one
/// `MULTI`/`EXEC` with a marker holding the batch's time, so a batch replayed after a restart
/// is not written again; increments (`HINCRBY`, `ZINCRBY`) are counted once.
///
/// ```no_run
/// use freshet::source::generator::GeneratorOptions;
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::redis::RedisSink;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::get_or_create("/var/lib/jobs/top-pages", || {
///     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
///     ctx.click_stream(GeneratorOptions::rate(1000))
///         .map(|c| c.page)
///         .count_by_value()
///         // Live page-view counters, the ten most viewed pages kept.
///         .sink(
///             RedisSink::sorted_set("redis://127.0.0.1/", "pages:top")
///                 .increments()
///                 .top(10),
///         )
///         .uid("top-pages");
///     Ok(ctx)
/// })?;
/// ctx.start()?;
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct RedisSink<E = NoEncoder> {
    settings: SinkSettings,
    encoder: Arc<E>,
}

impl RedisSink<NoEncoder> {
    /// A sink to the server at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `unix:///path/to/socket`) that writes what [`encode_with`](Self::encode_with) (or
    /// [`encode`](Self::encode)) says: any mix of hash, sorted-set and stream writes, on any
    /// keys, in one transaction per batch and worker.
    pub fn new(url: impl Into<String>) -> Self {
        RedisSink {
            settings: SinkSettings::new(url.into()),
            encoder: Arc::new(NoEncoder),
        }
    }

    /// A sink setting fields of the hash at `key` from items `(field, value)`:
    /// `HSET key field value` (spark-redis's `toRedisHASH`). The last value of a field in a
    /// batch wins. [`increments`](RedisSink::<HashFields>::increments) adds instead,
    /// [`json_values`](RedisSink::<HashFields>::json_values) writes serde values.
    pub fn hash(url: impl Into<String>, key: impl Into<String>) -> RedisSink<HashFields> {
        let key = key.into();
        Self::new(url).with_key(key.clone(), HashFields { key })
    }

    /// A sink setting scores in the sorted set at `key` from items `(member, score)`:
    /// `ZADD key score member` (spark-redis's `toRedisZSET`).
    /// [`increments`](RedisSink::<SortedSetScores>::increments) adds to the scores instead,
    /// [`top`](Self::top) keeps the highest only.
    pub fn sorted_set(
        url: impl Into<String>,
        key: impl Into<String>,
    ) -> RedisSink<SortedSetScores> {
        let key = key.into();
        Self::new(url).with_key(key.clone(), SortedSetScores { key })
    }

    /// A sink adding entries to the stream at `key` from items that are lists of
    /// `(field, value)` pairs (`Vec<(F, V)>`, or the [`RedisEntry`](super::RedisEntry)s of a
    /// source): `XADD key * field value ...`, with ids Redis makes.
    /// [`field`](RedisSink::<StreamFields>::field) and
    /// [`field_json`](RedisSink::<StreamFields>::field_json) write each item as one field;
    /// [`max_len`](Self::max_len) trims the stream.
    pub fn stream(url: impl Into<String>, key: impl Into<String>) -> RedisSink<StreamFields> {
        let key = key.into();
        Self::new(url).with_key(key.clone(), StreamFields { key })
    }

    fn with_key<F>(mut self, key: String, encoder: F) -> RedisSink<F> {
        self.settings.key = Some(key);
        self.encode(encoder)
    }
}

impl RedisSink<HashFields> {
    /// Adds each item's number to its field instead of setting it: items `(field, delta)`,
    /// `HINCRBY key field delta` for whole numbers and `HINCRBYFLOAT` for floats (Flink's
    /// `HINCRBY` mode). Exactly once only because of the marker: a replayed batch is skipped.
    pub fn increments(self) -> RedisSink<HashIncrements> {
        let key = self.encoder.key.clone();
        self.encode(HashIncrements { key })
    }

    /// Writes each value as JSON: items `(field, value)` with a serde value,
    /// `HSET key field <json>`.
    pub fn json_values<V: Serialize + 'static>(self) -> RedisSink<HashJson<V>> {
        let key = self.encoder.key.clone();
        self.encode(HashJson {
            key,
            _values: PhantomData,
        })
    }
}

impl RedisSink<SortedSetScores> {
    /// Adds each item's number to its member's score instead of setting it: items
    /// `(member, delta)`, `ZINCRBY key delta member` — live counters. Exactly once only
    /// because of the marker: a replayed batch is skipped.
    pub fn increments(self) -> RedisSink<SortedSetIncrements> {
        let key = self.encoder.key.clone();
        self.encode(SortedSetIncrements { key })
    }
}

impl RedisSink<StreamFields> {
    /// Writes each item as the value of one field: `XADD key * field <item>` for items that
    /// are strings, bytes or numbers (read back by
    /// [`RedisStreamSource::field_utf8`](super::RedisStreamSource::field_utf8)).
    pub fn field(self, field: impl Into<String>) -> RedisSink<StreamField> {
        let key = self.encoder.key.clone();
        self.encode(StreamField {
            key,
            field: field.into(),
        })
    }

    /// Writes each item as JSON in one field: `XADD key * field <json>` for serde items (read
    /// back by [`RedisStreamSource::field_json`](super::RedisStreamSource::field_json)).
    pub fn field_json<T: Serialize + 'static>(
        self,
        field: impl Into<String>,
    ) -> RedisSink<StreamJson<T>> {
        let key = self.encoder.key.clone();
        self.encode(StreamJson {
            key,
            field: field.into(),
            _items: PhantomData,
        })
    }
}

impl<E> RedisSink<E> {
    /// Puts `prefix` before every key the sink writes (default: none), the marker's included
    /// unless [`marker_prefix`](Self::marker_prefix) places it elsewhere. At most
    /// [`MAX_PREFIX_LEN`](super::MAX_PREFIX_LEN) bytes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.key_prefix = prefix.into();
        self
    }

    /// Where the markers live: worker `p` of the output with uid `o` keeps its last batch at
    /// `<prefix><o>:<p>` (default: `<key prefix>freshet:batch:<o>:<p>`). Two jobs writing to
    /// one server must differ in output uid or marker prefix; keep both, and the number of
    /// workers, across restarts. Not empty, at most [`MAX_PREFIX_LEN`](super::MAX_PREFIX_LEN)
    /// bytes.
    pub fn marker_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.marker_prefix = Some(prefix.into());
        self
    }

    /// How long connecting, and each round trip, may take
    /// ([`MIN_SINK_TIMEOUT`](super::MIN_SINK_TIMEOUT) 100 ms ..=
    /// [`MAX_SINK_TIMEOUT`](super::MAX_SINK_TIMEOUT) 5 min; default 10 s). A round trip that
    /// times out fails the commit retryably; the next attempt reconnects.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Lets every key written expire `ttl` after the last batch that wrote it: a `PEXPIRE` per
    /// key and batch, in the batch's transaction ([`MIN_TTL`](super::MIN_TTL) 1 s ..=
    /// [`MAX_TTL`](super::MAX_TTL) 3650 days; default: keys do not expire). Markers never
    /// expire.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = Some(ttl);
        self
    }

    /// Keeps only the `n` highest-scored members of every sorted set written: a
    /// `ZREMRANGEBYRANK key 0 -(n+1)` per sorted set and batch, after its writes (1 ..=
    /// [`MAX_TOP`](super::MAX_TOP); default: no trimming). With increments, a member trimmed
    /// away loses its count and starts again from its next delta.
    pub fn top(mut self, n: u64) -> Self {
        self.settings.top = Some(n);
        self
    }

    /// Trims every stream written to about `n` entries: `XADD key MAXLEN ~ n * ...` (1 ..=
    /// [`MAX_STREAM_LEN`](super::MAX_STREAM_LEN); default: no trimming). Redis trims whole
    /// nodes of the stream, so a stream may hold somewhat more than `n` entries.
    pub fn max_len(mut self, n: u64) -> Self {
        self.settings.max_len = Some(n);
        self
    }

    /// Encodes items with `encoder` instead.
    pub fn encode<F>(self, encoder: F) -> RedisSink<F> {
        RedisSink {
            settings: self.settings,
            encoder: Arc::new(encoder),
        }
    }

    /// Encodes each item with `f`, which adds its writes to the batch's [`RedisWrites`]:
    ///
    /// ```
    /// use freshet_connectors::redis::{RedisSink, RedisWrites};
    ///
    /// // (page, views in this batch): a counter per page and a ranking of pages, together.
    /// let sink = RedisSink::new("redis://127.0.0.1/")
    ///     .key_prefix("site:")
    ///     .encode_with(|(page, n): &(String, u64), out: &mut RedisWrites| {
    ///         out.hincr("views", page, *n)?;
    ///         out.zincr("ranking", page, *n)
    ///     });
    /// # let _ = sink;
    /// ```
    pub fn encode_with<T, F>(self, f: F) -> RedisSink<EncodeWith<F>>
    where
        F: Fn(&T, &mut RedisWrites) -> Result<(), SinkError> + Send + Sync + 'static,
    {
        self.encode(EncodeWith(f))
    }

    /// Checks every setting, as [`open`](Sink::open) does; the error names the setting and,
    /// for a number, its range.
    pub fn validate(&self) -> Result<(), RedisSinkSettingsError> {
        self.settings.validate()
    }
}

impl<T, E> Sink<T> for RedisSink<E>
where
    T: Send + Sync + 'static,
    E: RedisEncoder<T>,
{
    type Writer = RedisSinkWriter<T, E>;

    fn open(&self, ctx: &SinkContext) -> Result<Self::Writer, SinkError> {
        self.settings.validate()?;
        let s = &self.settings;
        let client = ::redis::Client::open(s.url.as_str())
            .map_err(|e| SinkError::user(format!("redis sink: url: {e}")).with_cause(e))?;
        let name: String = format!("freshet-sink:{}:{}", ctx.output_id, ctx.partition)
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        let setup = WriterSetup {
            client,
            url: s.url.clone(),
            timeout: s.timeout,
            prefix: s.key_prefix.clone(),
            marker: s.marker_key(&ctx.output_id, ctx.partition),
            extras: Extras {
                top: s.top,
                max_len: s.max_len,
                ttl: s.ttl,
            },
            name,
        };
        RedisSinkWriter::open(setup, Arc::clone(&self.encoder))
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}
