//! The direct stream: entry-id ranges of one stream, planned by the driver and read by the
//! workers with `XRANGE`.

use super::client::{classify, connect, drops_connection, stream_state, xrange, StreamState, PAGE};
use super::entry::{Entries, FieldJson, FieldUtf8, RedisDecoder};
use super::id::EntryId;
use super::reader::RedisReader;
use ::redis::{Client, Connection, Value};
use freshet::source::{DataLoss, DirectSource, StartContext};
use freshet::{Data, SourceError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The largest `max_entries_per_batch`.
pub const MAX_ENTRIES_PER_BATCH: u64 = 1_000_000_000;
/// The shortest and longest `timeout`.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a [`RedisStreamSource`] starts when there is no checkpoint. A checkpoint, when there is
/// one, always wins: it holds the id of the last entry taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StartingId {
    /// The first entry the stream holds (`0-0`; the default).
    #[default]
    Earliest,
    /// The end of the stream when the source starts (`$`): only entries added later are read.
    Latest,
    /// The entries after this id (`<milliseconds>-<sequence>`), which must not lie past the
    /// stream's last id.
    After(String),
}

/// Where a [`RedisStreamSource`] stands: the id of the last entry taken (`0-0` before the
/// first). It is what the batch log and checkpoints hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisOffset {
    /// The id of the last entry taken, `<milliseconds>-<sequence>`.
    pub last_id: String,
}

impl RedisOffset {
    /// The offset after the entry `id`.
    pub fn new(id: EntryId) -> Self {
        RedisOffset {
            last_id: id.to_string(),
        }
    }

    /// The id of the last entry taken.
    pub fn id(&self) -> Result<EntryId, SourceError> {
        self.last_id.parse().map_err(|e| {
            SourceError::internal(format!("redis: a corrupt offset in the batch log: {e}"))
        })
    }
}

/// One split: the entries with ids after `after`, up to and including `through`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisRange {
    /// The id the range starts after (exclusive).
    pub after: EntryId,
    /// The id it ends at (inclusive).
    pub through: EntryId,
}

/// A direct (replayable) stream of one Redis stream. See the [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::redis::RedisStreamSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)).workers(2))?;
/// let source = RedisStreamSource::new("redis://127.0.0.1/", "logs")
///     .group("freshet-logs")
///     .max_entries_per_batch(10_000)
///     .field_utf8("line");
/// ctx.direct_stream(source).uid("logs").count().print(1);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct RedisStreamSource<D: RedisDecoder = Entries> {
    url: String,
    key: String,
    starting: StartingId,
    max_per_batch: Option<u64>,
    group: Option<String>,
    timeout: Duration,
    decoder: Arc<D>,
    /// From `start` on.
    client: Option<Client>,
    /// The driver's connection; dropped after a failure, opened again when next needed.
    conn: Option<Connection>,
    /// The stream as `latest` last saw it, for `lag`.
    state: Option<StreamState>,
    /// In an available-now run: the last entry at the start.
    frozen: Option<EntryId>,
    /// Where entries removed before they were read are reported (from `start` on).
    data_loss: DataLoss,
    /// The end of the last plan, when it was the stream's last entry, and how many entries
    /// the stream had ever been given then.
    added_through: Option<(EntryId, u64)>,
}

impl RedisStreamSource<Entries> {
    /// A direct stream of the Redis stream at `stream_key` on the server at `url`
    /// (`redis://[:password@]host[:port][/db]`, or `unix:///path/to/socket`), producing
    /// [`RedisEntry`](super::RedisEntry)s. It starts at the stream's first entry and takes
    /// everything there is at each batch; the builder methods change that. A key that does not
    /// exist yet is an empty stream.
    pub fn new(url: impl Into<String>, stream_key: impl Into<String>) -> Self {
        RedisStreamSource {
            url: url.into(),
            key: stream_key.into(),
            starting: StartingId::Earliest,
            max_per_batch: None,
            group: None,
            timeout: DEFAULT_TIMEOUT,
            decoder: Arc::new(Entries),
            client: None,
            conn: None,
            state: None,
            frozen: None,
            data_loss: DataLoss::default(),
            added_through: None,
        }
    }
}

impl<D: RedisDecoder> RedisStreamSource<D> {
    /// Where to start when there is no checkpoint (default: [`StartingId::Earliest`]).
    pub fn starting(mut self, starting: StartingId) -> Self {
        self.starting = starting;
        self
    }

    /// Takes at most `n` entries per batch (1 ..= [`MAX_ENTRIES_PER_BATCH`]; default: no
    /// limit): a backlog is spread over several batches. The driver finds where a capped batch
    /// ends by paging through its entries with `XRANGE ... COUNT`.
    pub fn max_entries_per_batch(mut self, n: u64) -> Self {
        self.max_per_batch = Some(n);
        self
    }

    /// Shows the job's progress in the consumer group `name`: the source creates the group if
    /// it is missing (at the starting id, `MKSTREAM`), and after every checkpoint moves its
    /// last-delivered id to the last entry checkpointed (`XGROUP SETID`), so that
    /// `XINFO GROUPS` shows how far the job is, and entries up to there may be trimmed
    /// (`XTRIM key MINID ...`). Never read back: the checkpoint is what a restart resumes from.
    pub fn group(mut self, name: impl Into<String>) -> Self {
        self.group = Some(name.into());
        self
    }

    /// How long connecting, and each command, may take (100 ms ..= 5 min; default 10 s). A
    /// batch planned while the server does not answer gets nothing from this source and the
    /// next one asks again; a read that times out is retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: RedisDecoder>(self, decoder: E) -> RedisStreamSource<E> {
        RedisStreamSource {
            url: self.url,
            key: self.key,
            starting: self.starting,
            max_per_batch: self.max_per_batch,
            group: self.group,
            timeout: self.timeout,
            decoder: Arc::new(decoder),
            client: None,
            conn: None,
            state: None,
            frozen: None,
            data_loss: DataLoss::default(),
            added_through: None,
        }
    }

    /// Produces the value of the field `field` of each entry as UTF-8 text ([`FieldUtf8`]).
    pub fn field_utf8(self, field: impl Into<String>) -> RedisStreamSource<FieldUtf8> {
        self.decode(FieldUtf8::new(field))
    }

    /// Produces the value of the field `field` of each entry decoded from JSON into `T`
    /// ([`FieldJson`]).
    pub fn field_json<T: Data + DeserializeOwned>(
        self,
        field: impl Into<String>,
    ) -> RedisStreamSource<FieldJson<T>> {
        self.decode(FieldJson::new(field))
    }

    /// Checks every setting; the error names the setting and its range.
    fn validate(&self) -> Result<(), SourceError> {
        if self.url.trim().is_empty() {
            return Err(SourceError::user("redis: the url is empty"));
        }
        if self.key.is_empty() {
            return Err(SourceError::user("redis: the stream key is empty"));
        }
        if let Some(n) = self.max_per_batch {
            if !(1..=MAX_ENTRIES_PER_BATCH).contains(&n) {
                return Err(SourceError::user(format!(
                    "redis: max_entries_per_batch must be between 1 and \
                     {MAX_ENTRIES_PER_BATCH}, not {n}"
                )));
            }
        }
        if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&self.timeout) {
            return Err(SourceError::user(format!(
                "redis: timeout must be between {MIN_TIMEOUT:?} and {MAX_TIMEOUT:?}, not {:?}",
                self.timeout
            )));
        }
        if let Some(group) = &self.group {
            if group.is_empty() || group.chars().any(char::is_control) {
                return Err(SourceError::user(format!(
                    "redis: group must be a non-empty name without control characters, not {group:?}"
                )));
            }
        }
        if let StartingId::After(id) = &self.starting {
            id.parse::<EntryId>()
                .map_err(|e| SourceError::user(format!("redis: starting id: {e}")).with_cause(e))?;
        }
        Ok(())
    }

    /// Runs `f` on the driver's connection (opened when needed); a connection whose command
    /// failed on the way (a drop, a timeout) is closed.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Connection, &str) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot => {
                let client = self
                    .client
                    .as_ref()
                    .ok_or_else(|| SourceError::internal("redis: the source was not started"))?;
                let what = format!("redis: connecting to {}", redact(&self.url));
                slot.insert(connect(client, self.timeout, &what)?)
            }
        };
        let result = f(conn, &self.key);
        if let Err(e) = &result {
            if drops_connection(e) {
                self.conn = None;
            }
        }
        result
    }

    /// The id of the `n`th entry after `from`, or `end` when fewer lie up to `end`.
    fn nth_after(&mut self, from: EntryId, end: EntryId, n: u64) -> Result<EntryId, SourceError> {
        self.run(|conn, key| {
            let mut taken = 0;
            let mut cursor = from;
            while taken < n {
                let Some(first) = cursor.next() else { break };
                let count = (n - taken).min(PAGE);
                let page = xrange(conn, key, first, end, count)?;
                let Some(last) = page.last().and_then(|e| e.entry_id()) else {
                    break;
                };
                taken += page.len() as u64;
                if taken >= n {
                    return Ok(last);
                }
                if (page.len() as u64) < count {
                    break;
                }
                cursor = last;
            }
            Ok(end)
        })
    }

    /// Where the next batch ends, at most `limit` entries after `from`.
    fn plan(&mut self, from: &RedisOffset, limit: Option<u64>) -> Result<RedisOffset, SourceError> {
        let from_id = from.id()?;
        let state = self.run(stream_state)?;
        self.state = Some(state);
        if let Some(generated) = state.last_generated {
            if generated < from_id {
                return Err(SourceError::user(format!(
                    "redis: stream `{}` has given ids up to {generated} only, before the entry \
                     {from_id} already read: was the key deleted and filled again with smaller ids?",
                    self.key
                )));
            }
        }
        self.report_trimmed(from_id, &state)?;
        let end = self.batch_end(from_id, &state, limit)?;
        // Everything ever added is at or before the batch's end: remember how much that was.
        self.added_through = match (state.entries_added, state.last_generated) {
            (Some(added), Some(generated)) if end >= generated => Some((end, added)),
            _ => None,
        };
        Ok(RedisOffset::new(end))
    }

    /// The last id of the batch after `from`, at most `limit` entries on.
    fn batch_end(
        &mut self,
        from_id: EntryId,
        state: &StreamState,
        limit: Option<u64>,
    ) -> Result<EntryId, SourceError> {
        let Some(mut end) = state.last else {
            return Ok(from_id);
        };
        if let Some(frozen) = self.frozen {
            end = end.min(frozen);
        }
        if end <= from_id {
            return Ok(from_id);
        }
        let cap = match (self.max_per_batch, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match cap {
            Some(0) => Ok(from_id),
            Some(n) => self.nth_after(from_id, end, n),
            None => Ok(end),
        }
    }
}

impl<D: RedisDecoder> RedisStreamSource<D> {
    /// Reports the entries after `from` that were trimmed or deleted before they were read: when
    /// the last plan ended at `from` and the oldest entry left is past it, every entry added
    /// since and no longer there was never read (Redis 7 counts the entries ever added).
    fn report_trimmed(&mut self, from: EntryId, state: &StreamState) -> Result<(), SourceError> {
        let Some((through, added)) = self.added_through.take() else {
            return Ok(());
        };
        let (Some(now_added), true) = (
            state.entries_added,
            through == from && state.first.is_none_or(|first| first > from),
        ) else {
            return Ok(());
        };
        let lost = now_added.saturating_sub(added).saturating_sub(state.length);
        if lost == 0 {
            return Ok(());
        }
        self.data_loss.report(
            Some(lost),
            &format!(
                "redis: {lost} entries of stream `{}` after {from} were trimmed or deleted \
                 before they were read",
                self.key
            ),
        )
    }
}

/// Creates `group` on `key` at `at` (and the stream, if missing); an existing group is left
/// as it is.
fn create_group(
    conn: &mut Connection,
    key: &str,
    group: &str,
    at: EntryId,
) -> Result<(), SourceError> {
    let result: Result<Value, _> = ::redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(group)
        .arg(at.to_string())
        .arg("MKSTREAM")
        .query(conn);
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(classify(
            &format!("redis: creating group `{group}` on `{key}`"),
            e,
        )),
    }
}

/// Cuts the range after `after` through `through`, whose first entry is `first`, into at most
/// `workers` ranges of equal spans of the ids' time part: a result that depends only on its
/// arguments, so a replay cuts the same ranges.
pub(crate) fn cut(
    after: EntryId,
    first: EntryId,
    through: EntryId,
    workers: usize,
) -> Vec<RedisRange> {
    let lo = first.ms.min(through.ms);
    let span = through.ms - lo;
    let n = u64::try_from(workers.max(1))
        .unwrap_or(u64::MAX)
        .min(span.max(1));
    let mut ranges = Vec::with_capacity(n as usize);
    let mut start = after;
    for j in 1..n {
        let ms = lo + (u128::from(span) * u128::from(j) / u128::from(n)) as u64 - 1;
        let end = EntryId::new(ms, u64::MAX);
        ranges.push(RedisRange {
            after: start,
            through: end,
        });
        start = end;
    }
    ranges.push(RedisRange {
        after: start,
        through,
    });
    ranges
}

/// How many entries wait after `from`, estimated from what `XINFO STREAM` said: all of them
/// before the first entry, none at or past the last, and in between the share of the stream's
/// time span (of the ids) that lies after `from`, at least one.
pub(crate) fn estimate_lag(state: &StreamState, from: EntryId) -> u64 {
    let (Some(first), Some(last)) = (state.first, state.last) else {
        return 0;
    };
    if from >= last {
        return 0;
    }
    if from < first {
        return state.length;
    }
    let span = last.ms - first.ms;
    if span == 0 {
        return 1.max(state.length / 2);
    }
    let after = last.ms - from.ms.max(first.ms);
    let share = u128::from(state.length) * u128::from(after) / u128::from(span);
    (share as u64).clamp(1, state.length)
}

/// The url without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

impl<D: RedisDecoder> DirectSource for RedisStreamSource<D> {
    type Item = D::Item;
    type Offset = RedisOffset;
    type Split = RedisRange;
    type Reader = RedisReader<D>;

    fn kind(&self) -> &'static str {
        "redis_stream"
    }

    fn describe(&self) -> String {
        format!("redis stream `{}` at {}", self.key, redact(&self.url))
    }

    fn start(&mut self, ctx: &StartContext) -> Result<RedisOffset, SourceError> {
        self.validate()?;
        let client = Client::open(self.url.as_str()).map_err(|e| {
            SourceError::user(format!(
                "redis: url `{}` is not a Redis URL (redis://host:port/db or unix:///path): {e}",
                redact(&self.url)
            ))
            .with_cause(e)
        })?;
        self.client = Some(client);
        self.conn = None;
        let state = self.run(stream_state)?;
        let start = match &self.starting {
            StartingId::Earliest => EntryId::ZERO,
            StartingId::Latest => state.last_generated.unwrap_or(EntryId::ZERO),
            StartingId::After(id) => {
                let id: EntryId = id
                    .parse()
                    .map_err(|e| SourceError::user(format!("redis: starting id: {e}")))?;
                if let Some(generated) = state.last_generated.filter(|g| *g < id) {
                    return Err(SourceError::user(format!(
                        "redis: the starting id {id} lies past the last id of stream `{}`, \
                         {generated}: entries added next could get smaller ids and be missed",
                        self.key
                    )));
                }
                id
            }
        };
        if let Some(group) = self.group.clone() {
            self.run(|conn, key| create_group(conn, key, &group, start))?;
        }
        self.data_loss = ctx.data_loss.clone();
        if ctx.available_now {
            self.frozen = Some(state.last.unwrap_or(EntryId::ZERO));
        }
        self.state = Some(state);
        Ok(RedisOffset::new(start))
    }

    fn latest(&mut self, from: &RedisOffset) -> Result<RedisOffset, SourceError> {
        self.plan(from, None)
    }

    fn latest_limited(
        &mut self,
        from: &RedisOffset,
        max_records: u64,
    ) -> Result<RedisOffset, SourceError> {
        self.plan(from, Some(max_records))
    }

    fn splits(
        &mut self,
        from: &RedisOffset,
        to: &RedisOffset,
        workers: usize,
    ) -> Result<Vec<RedisRange>, SourceError> {
        let (after, through) = (from.id()?, to.id()?);
        if through < after {
            return Err(SourceError::internal(format!(
                "redis: the range ({after}, {through}] of `{}` goes backwards",
                self.key
            )));
        }
        let Some(next) = after.next().filter(|_| through > after) else {
            return Ok(Vec::new());
        };
        let first = self.run(|conn, key| xrange(conn, key, next, through, 1))?;
        match first.first().and_then(|e| e.entry_id()) {
            Some(first) => Ok(cut(after, first, through, workers)),
            // Nothing left in the range (deleted): one range, which reads nothing.
            None => Ok(vec![RedisRange { after, through }]),
        }
    }

    fn reader(&self) -> RedisReader<D> {
        let client = self
            .client
            .clone()
            .or_else(|| Client::open(self.url.as_str()).ok());
        RedisReader::new(
            client,
            self.key.clone(),
            Arc::clone(&self.decoder),
            self.timeout,
        )
    }

    fn commit(&mut self, through: &RedisOffset) -> Result<(), SourceError> {
        let Some(group) = self.group.clone() else {
            return Ok(());
        };
        let id = through.id()?;
        self.run(|conn, key| {
            let result: Result<Value, _> = ::redis::cmd("XGROUP")
                .arg("SETID")
                .arg(key)
                .arg(&group)
                .arg(id.to_string())
                .query(conn);
            match result {
                Ok(_) => Ok(()),
                // The group (or the whole key) was deleted meanwhile: made again where the job is.
                Err(e)
                    if e.code() == Some("NOGROUP")
                        || e.detail()
                            .is_some_and(|d| d.contains("requires the key to exist")) =>
                {
                    create_group(conn, key, &group, id)
                }
                Err(e) => Err(classify(
                    &format!("redis: moving group `{group}` of `{key}` to {id}"),
                    e,
                )),
            }
        })
    }

    fn ended(&self, at: &RedisOffset) -> bool {
        self.frozen
            .is_some_and(|frozen| at.id().is_ok_and(|at| at >= frozen))
    }

    fn lag(&self, from: &RedisOffset) -> Option<u64> {
        let state = self.state.as_ref()?;
        Some(estimate_lag(state, from.id().ok()?))
    }

    fn stop(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> EntryId {
        EntryId::new(ms, seq)
    }

    #[test]
    fn ranges_are_cut_by_time_and_cover_the_batch_without_overlap() {
        let ranges = cut(id(0, 0), id(100, 0), id(130, 5), 3);
        assert_eq!(
            ranges,
            vec![
                RedisRange {
                    after: id(0, 0),
                    through: id(109, u64::MAX)
                },
                RedisRange {
                    after: id(109, u64::MAX),
                    through: id(119, u64::MAX)
                },
                RedisRange {
                    after: id(119, u64::MAX),
                    through: id(130, 5)
                },
            ]
        );
        // Fewer milliseconds than workers: one range per millisecond at most.
        assert_eq!(cut(id(5, 1), id(7, 0), id(8, 3), 4).len(), 1);
        assert_eq!(cut(id(5, 1), id(7, 0), id(9, 3), 4).len(), 2);
        assert_eq!(
            cut(id(5, 1), id(5, 2), id(5, 9), 4),
            vec![RedisRange {
                after: id(5, 1),
                through: id(5, 9)
            }]
        );
    }

    #[test]
    fn lag_is_everything_before_the_first_entry_nothing_at_the_last_and_a_share_between() {
        let state = StreamState {
            length: 100,
            first: Some(id(1000, 0)),
            last: Some(id(2000, 0)),
            last_generated: Some(id(2000, 0)),
            entries_added: None,
        };
        assert_eq!(estimate_lag(&state, id(0, 0)), 100);
        assert_eq!(estimate_lag(&state, id(2000, 0)), 0);
        assert_eq!(estimate_lag(&state, id(1500, 0)), 50);
        assert_eq!(estimate_lag(&state, id(1999, 9)), 1);
        assert_eq!(estimate_lag(&StreamState::default(), id(0, 0)), 0);
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("redis://:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1/"), "redis://127.0.0.1/");
    }
}
