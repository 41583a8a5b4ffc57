//! Redis Streams: a stream read as a direct (replayable) source, by entry-id ranges, with its
//! progress shown in a consumer group; and a sink writing hashes, sorted sets and streams
//! exactly once ([`RedisSink`], see [the sink](#the-sink)).
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
//! (`XTRIM`, `MAXLEN` on `XADD`) are not read. When the oldest entry left is past the last one
//! read, Redis 7's count of entries ever added tells how many were trimmed unread: the job fails
//! naming them, or goes on and counts them as lost with
//! [`DirectOptions::on_data_loss`](freshet::source::DirectOptions::on_data_loss). Entries removed
//! with `XDEL` while older ones remain, and entries removed from a batch logged before a crash
//! and replayed after it, are missed without a report. Trim only what the group shows as done
//! (below).
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
//!
//! # The sink
//!
//! [`RedisSink`] writes a stream's items into Redis, the classic feed of a live dashboard:
//!
//! | mode | items | command per item |
//! |---|---|---|
//! | [`RedisSink::hash`] | `(field, value)` | `HSET key field value` |
//! | … [`.increments()`](RedisSink::<HashFields>::increments) | `(field, delta)` | `HINCRBY` (`HINCRBYFLOAT` for floats) |
//! | [`RedisSink::sorted_set`] | `(member, score)` | `ZADD key score member` |
//! | … [`.increments()`](RedisSink::<SortedSetScores>::increments) | `(member, delta)` | `ZINCRBY key delta member` |
//! | [`RedisSink::stream`] | `Vec<(field, value)>`, [`RedisEntry`] | `XADD key [MAXLEN ~ n] * field value ...` |
//! | [`RedisSink::new`]`.encode_with(f)` | anything | what `f` adds to [`RedisWrites`], on any keys |
//!
//! Keys, fields, members and values are [`RedisArg`]s (strings, bytes, numbers as decimal
//! text); scores and deltas are [`RedisNumber`]s. Options apply to every key of their type:
//! [`top`](RedisSink::top) keeps the `n` highest members of each sorted set written
//! (`ZREMRANGEBYRANK`), [`max_len`](RedisSink::max_len) trims each stream (`MAXLEN ~`),
//! [`ttl`](RedisSink::ttl) lets each key written expire (`PEXPIRE`), and
//! [`key_prefix`](RedisSink::key_prefix) goes before every key.
//!
//! ## Exactly once: a marker per output and worker
//!
//! Every worker keeps a *marker*, a string key named after the output's uid and the worker
//! (`<key prefix>freshet:batch:<uid>:<worker>`), holding the time of the last batch it wrote.
//! `write` encodes the worker's part of a batch; `commit` sends it:
//!
//! 1. `WATCH marker`, `GET marker`, and `TYPE` of every key the batch writes (one round trip).
//!    A batch at or before the marker was written already — a replay after a restart, or a
//!    retry whose first attempt succeeded without its reply arriving — and is skipped. A key of
//!    the wrong type fails the batch before anything is sent.
//! 2. `MULTI`, the batch's writes in item order, the trims and expiries, `SET marker <time>`,
//!    `EXEC` (one round trip). If another client changed the marker since the `WATCH`, Redis
//!    discards the whole transaction and the writer starts again at 1.
//!
//! The check and the write are therefore one atomic step: a stale writer of the same partition
//! (a process that has not noticed it was replaced, writing an older batch) finds the marker
//! past its batch and writes nothing, and two writers racing on the same batch write it once
//! between them. The writes and the marker land together or not at all, so after a crash the
//! marker says exactly which batches are in Redis. This is what makes the increment modes
//! (`HINCRBY`, `ZINCRBY`) exactly-once: the increments are not idempotent, the marker is.
//! With a replayable source (or the receiver write-ahead log) and a checkpoint directory, the
//! output is exactly-once ([`Guarantee::ExactlyOnce`](freshet::sink::Guarantee)).
//!
//! Keep the output's [`uid`](freshet::Output::uid), the key or marker prefix and the number of
//! workers across restarts: the markers are per worker. Two jobs writing to one server need
//! different uids or [`marker_prefix`](RedisSink::marker_prefix)es. A batch whose part is
//! empty sends nothing and leaves the marker alone. Delete the markers (`DEL`) to let a
//! retired job's uid start from scratch.
//!
//! What Redis does not give: a command that fails *while* the transaction runs does not undo
//! the others (Redis has no rollback). The sink refuses in advance what it can see — a key of
//! another type, a NaN score, an increment beyond 64 bits — so that the batch fails before
//! anything is sent; what it cannot see (`HINCRBY` on a field that holds text, a key whose type
//! another client changes between the two round trips) fails that command alone, and the
//! commit fails with a user error naming it, the rest of the batch and its marker written.
//! Redis Cluster is not supported (a transaction's keys would have to share a slot).
//! Durability is the server's: with `appendonly yes` and `appendfsync always` a committed batch
//! survives a crash of the server, otherwise the last second of writes may be lost there.
//!
//! ## Errors and retries
//!
//! Settings are checked when a writer opens (and by [`RedisSink::validate`]); a bad one is a
//! user error naming it ([`RedisSinkSettingsError`]). A refused or dropped connection, a
//! timeout, a server loading its data or out of memory, and a marker that kept changing are
//! retryable: the engine retries the commit with back-off, and the writer reconnects. A key of
//! another type, a refused login or ACL, a marker key holding something else, and items the
//! sink cannot encode are the user's and fail the job.
//!
//! ## Costs
//!
//! Two round trips per batch and worker, whatever the batch's size: the check (`WATCH`, `GET`,
//! one `TYPE` per distinct key) and the transaction (one command per item, one `ZREMRANGEBYRANK`
//! per sorted set with `top`, one `PEXPIRE` per key with `ttl`). Redis runs a transaction
//! without serving other clients, so a batch of a million items holds the server for about as
//! long as those commands take; reduce by key first (`count_by_value`, `reduce_by_key`) so
//! that a batch writes one increment per key.
//!
//! ```no_run
//! use freshet::source::generator::GeneratorOptions;
//! use freshet::{StreamingConfig, StreamingContext};
//! use freshet_connectors::redis::RedisSink;
//! use std::time::Duration;
//!
//! let ctx = StreamingContext::get_or_create("/var/lib/jobs/dashboard", || {
//!     let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)).workers(2))?;
//!     let views = ctx.click_stream(GeneratorOptions::rate(5_000)).map(|c| c.page).count_by_value();
//!     // All-time views per page, and the ten most viewed pages.
//!     views.sink(RedisSink::hash("redis://127.0.0.1/", "views").increments()).uid("views");
//!     views
//!         .sink(RedisSink::sorted_set("redis://127.0.0.1/", "top").increments().top(10))
//!         .uid("top");
//!     Ok(ctx)
//! })?;
//! ctx.start()?;
//! ctx.await_termination()?;
//! # Ok::<(), freshet::Error>(())
//! ```

mod client;
mod entry;
mod id;
mod reader;
mod sink;
mod sink_commands;
mod sink_encode;
mod sink_settings;
mod sink_writer;
mod source;

pub use entry::{BadEntry, Entries, FieldJson, FieldUtf8, RedisDecoder, RedisEntry};
pub use id::{EntryId, ParseEntryIdError};
pub use reader::RedisReader;
pub use sink::RedisSink;
pub use sink_commands::RedisWrites;
pub use sink_encode::{
    EncodeWith, HashFields, HashIncrements, HashJson, NoEncoder, RedisArg, RedisEncoder,
    RedisNumber, SortedSetIncrements, SortedSetScores, StreamField, StreamFields, StreamJson,
};
pub use sink_settings::{
    RedisSinkSettingsError, DEFAULT_MARKER_PREFIX, DEFAULT_SINK_TIMEOUT, MAX_PREFIX_LEN,
    MAX_SINK_TIMEOUT, MAX_STREAM_LEN, MAX_TOP, MAX_TTL, MIN_SINK_TIMEOUT, MIN_TTL,
};
pub use sink_writer::RedisSinkWriter;
pub use source::{RedisOffset, RedisRange, RedisStreamSource, StartingId, MAX_ENTRIES_PER_BATCH};
