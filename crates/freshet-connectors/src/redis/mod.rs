//! Redis Streams: a stream read as a direct (replayable) source, by entry-id ranges, with its
//! progress shown in a consumer group.
//!
//! [`RedisStreamSource`] reads one Redis stream (`XADD key * field value ...`) into a
//! [`direct_stream`](freshet::StreamingContext::direct_stream). Its offset is the id of the last
//! entry taken ([`RedisOffset`], `"0-0"` before the first). At each batch the driver asks the
//! stream for its last entry (`XINFO STREAM`) and plans the batch as the id range after the
//! previous batch's end up to there: `(from, to]`, cut to at most
//! [`max_entries_per_batch`](RedisStreamSource::max_entries_per_batch) entries (and to the
//! stream's rate limit, [`DirectOptions::max_rate`](freshet::source::DirectOptions::max_rate)).
//! The range is cut into splits by the time part of the ids, one per worker at most, and each
//! worker reads its split with `XRANGE` in pages of 1000 entries.
//!
//! ```no_run
//! use freshet::{StreamingConfig, StreamingContext};
//! use freshet_connectors::redis::{RedisStreamSource, StartingId};
//! use std::time::Duration;
//!
//! let ctx = StreamingContext::get_or_create("/var/lib/jobs/levels", || {
//!     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)).workers(2))?;
//!     let source = RedisStreamSource::new("redis://127.0.0.1:6379/", "logs")
//!         .starting(StartingId::Earliest)
//!         .group("levels-job")
//!         .max_entries_per_batch(50_000)
//!         .field_utf8("level");
//!     ctx.direct_stream(source).uid("logs").count_by_value().print(10);
//!     Ok(ctx)
//! })?;
//! ctx.start()?;
//! ctx.await_termination()?;
//! # Ok::<(), freshet::Error>(())
//! ```
//!
//! # Guarantees
//!
//! **Exactly-once input with a checkpoint.** The batch log holds each batch's id range before
//! the batch runs; a stream's entries never change and new ones always get larger ids, so an
//! `XRANGE` of a logged range reads the same entries again after a crash, and the engine
//! replays every batch logged after the last checkpoint identically. Entries added while the
//! job was down come in the batches after the replayed ones, each once. With an idempotent or
//! transactional sink the output is exactly-once. Without a checkpoint directory a restart
//! starts again from [`StartingId`].
//!
//! What the ranges cannot protect against: entries removed before the job read them
//! (`XTRIM`, `MAXLEN` on `XADD`, `XDEL`) are not read, and not reported either — Redis does not
//! tell a trimmed id from one that never existed. A replayed batch misses entries removed after
//! it was first read. Trim only what the group shows as done (below).
//!
//! # The consumer group
//!
//! With [`group`](RedisStreamSource::group), the source creates the group when it is missing
//! (`XGROUP CREATE key group <starting id> MKSTREAM`), and after every checkpoint — when the
//! engine calls [`commit`](freshet::source::DirectSource::commit) with the end of the oldest
//! batch kept, which will never be replayed — it moves the group's last-delivered id there
//! (`XGROUP SETID`). The group is a view of the job's progress for monitoring
//! (`XINFO GROUPS key`: `last-delivered-id`) and for trimming (`XTRIM key MINID <that id>`
//! removes only entries no replay needs); it is never read back, the checkpoint is what a
//! restart resumes from. A group deleted while the job runs is made again at the next
//! checkpoint.
//!
//! The source does not read *through* the group (`XREADGROUP`): what a consumer-group read
//! delivers depends on the group's state, not on a range, so a replay could not read the same
//! entries again. As a consequence no entry is ever pending in the group, there are no dead
//! consumers whose pending entries would need reclaiming (`XAUTOCLAIM`), and nothing is
//! acknowledged with `XACK`: a job that crashes replays its logged ranges instead. The group's
//! `pending` count stays 0; its `lag` (Redis 7) is exact when the group is at the end of the
//! stream or before its first entry and otherwise unknown to Redis (shown as nil). Several jobs
//! reading the same stream each need their own group name.
//!
//! # Items
//!
//! By default the items are [`RedisEntry`]s: the id and the field/value pairs in order. Two
//! decoders take one field instead: [`field_utf8`](RedisStreamSource::field_utf8) (a
//! `String`) and [`field_json`](RedisStreamSource::field_json) (a serde type); write a
//! [`RedisDecoder`] for anything else. An entry without the field, or whose value does not
//! decode, is a bad record: skipped and counted, dead-lettered (with the field's value) or
//! failing the job, as the stream's [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
//! [`RedisEntry::event_time`] gives the time part of the id as an event time.
//!
//! # Lag
//!
//! [`lag`](freshet::source::DirectSource::lag) is an estimate, from the stream's length and its
//! first and last ids (`XINFO STREAM`, asked once per batch): every entry when the job is
//! before the first, none at the last, and in between the stream's length times the share of
//! its time span (of the ids) still ahead. It is exact at both ends and assumes entries spread
//! evenly in time in between; Redis has no cheap way to count the entries after an id.
//!
//! # Errors
//!
//! Settings are checked when the stream starts, and a bad one fails it with an error naming
//! the setting (`max_entries_per_batch`, `timeout`, `group`, the starting id, the url). A key
//! holding something other than a stream (`WRONGTYPE`) and a refused login are the user's
//! errors; a refused or dropped connection, a timeout and a server loading its data are
//! retried: a batch planned meanwhile gets nothing from this source, and a worker's read is
//! retried with back-off. The driver's and the workers' connections are opened again after a
//! failure. A key that does not exist is an empty stream.
//!
//! # Costs
//!
//! Each batch costs the driver one `XINFO STREAM` and one `XRANGE ... COUNT 1` (where the
//! batch's first entry is, for cutting the splits); a capped batch also pages through its
//! entries once on the driver to find where it ends (`XRANGE ... COUNT`). Each worker reads its
//! range in pages of 1000 entries.

mod client;
mod entry;
mod id;
mod reader;
mod source;

pub use entry::{BadEntry, Entries, FieldJson, FieldUtf8, RedisDecoder, RedisEntry};
pub use id::{EntryId, ParseEntryIdError};
pub use reader::RedisReader;
pub use source::{RedisOffset, RedisRange, RedisStreamSource, StartingId, MAX_ENTRIES_PER_BATCH};
