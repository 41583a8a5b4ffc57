//! The writer of one partition: a batch's writes encoded on `write`, then sent on `commit` in
//! one `MULTI`/`EXEC` guarded by the partition's marker (`WATCH`), so that a batch at or before
//! the marker is skipped and a batch after it is written whole, once.

use super::client::{classify as classify_redis, connect};
use super::sink_commands::{encode_check, encode_transaction, Extras, KeyType, RedisWrites};
use super::sink_encode::RedisEncoder;
use super::sink_settings::redact;
use ::redis::{Client, Connection, ConnectionLike, RedisError, Value};
use freshet::sink::SinkWriter;
use freshet::{BatchTime, SinkError};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// How many times a transaction is tried when its marker changed between `WATCH` and `EXEC`
/// (another writer of the same partition committed meanwhile) before the commit fails
/// (retryably).
const WATCH_ATTEMPTS: usize = 8;

/// How a writer reaches the server and where its marker is.
pub(crate) struct WriterSetup {
    pub(crate) client: Client,
    pub(crate) url: String,
    pub(crate) timeout: Duration,
    pub(crate) prefix: String,
    pub(crate) marker: String,
    pub(crate) extras: Extras,
    /// The connection's name (`CLIENT SETNAME`), for `CLIENT LIST`.
    pub(crate) name: String,
}

/// The writer of one partition of a [`RedisSink`](super::RedisSink): see the sink for what it
/// guarantees.
pub struct RedisSinkWriter<T, E> {
    setup: WriterSetup,
    conn: Option<Connection>,
    encoder: Arc<E>,
    writes: RedisWrites,
    /// The batch whose writes `writes` holds.
    pending: Option<u64>,
    /// The last batch this writer wrote or found written.
    committed: Option<u64>,
    buf: Vec<u8>,
    _items: PhantomData<fn(&T)>,
}

/// What one attempt at a transaction did.
enum Outcome {
    /// Written, marker moved.
    Written,
    /// The marker was at or after the batch: nothing written.
    Skipped,
    /// The marker changed between `WATCH` and `EXEC`: nothing written, try again.
    Contended,
}

impl<T, E> RedisSinkWriter<T, E> {
    /// Opens a writer and its connection.
    pub(crate) fn open(setup: WriterSetup, encoder: Arc<E>) -> Result<Self, SinkError> {
        let mut writer = RedisSinkWriter {
            setup,
            conn: None,
            encoder,
            writes: RedisWrites::new(),
            pending: None,
            committed: None,
            buf: Vec::new(),
            _items: PhantomData,
        };
        writer.connection()?;
        Ok(writer)
    }

    /// The key holding the last batch this partition wrote.
    pub fn marker_key(&self) -> &str {
        &self.setup.marker
    }

    /// The last batch this writer wrote, or found already written (`None` before its first).
    pub fn last_committed(&self) -> Option<BatchTime> {
        self.committed.map(BatchTime)
    }

    fn connection(&mut self) -> Result<&mut Connection, SinkError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot => {
                let what = format!("redis sink: connecting to {}", redact(&self.setup.url));
                let mut conn = connect(&self.setup.client, self.setup.timeout, &what)?;
                // A name for `CLIENT LIST`; a server that refuses it (ACLs) is still usable.
                let _: Result<Value, _> = ::redis::cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(&self.setup.name)
                    .query(&mut conn);
                slot.insert(conn)
            }
        };
        Ok(conn)
    }

    /// Sends `time`'s writes in one transaction, unless the marker says they were written.
    fn transaction(&mut self, time: u64) -> Result<Outcome, SinkError> {
        let keys = self.writes.keys()?;
        let prefix = self.setup.prefix.as_bytes();
        let marker = self.setup.marker.as_str();
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => return Err(SinkError::internal("redis sink: no connection")),
        };

        // 1. Watch the marker, read it, and check the type of every key.
        encode_check(&mut self.buf, marker, prefix, &keys);
        let replies = conn
            .req_packed_commands(&self.buf, 0, 2 + keys.len())
            .map_err(|e| classify(&format!("redis sink: reading marker `{marker}`"), e))?;
        let mut replies = replies.into_iter().skip(1);
        let last = parse_marker(marker, replies.next())?;
        if last.is_some_and(|last| last >= time) {
            unwatch(conn)?;
            self.committed = last;
            return Ok(Outcome::Skipped);
        }
        for ((key, wanted), reply) in keys.iter().zip(replies) {
            let held = type_name(reply).map_err(|e| {
                classify(
                    &format!(
                        "redis sink: TYPE of `{}{}`",
                        self.setup.prefix,
                        String::from_utf8_lossy(key)
                    ),
                    e,
                )
            })?;
            if held != "none" && held != wanted.redis_name() {
                unwatch(conn)?;
                return Err(SinkError::user(format!(
                    "redis sink: key `{}{}` holds a {held}, not a {}: batch {time} was not \
                     written (Redis would have applied the rest of it)",
                    self.setup.prefix,
                    String::from_utf8_lossy(key),
                    describe_type(*wanted)
                )));
            }
        }

        // 2. The writes, the trims and expiries, and the marker, in one transaction.
        let queued = encode_transaction(
            &mut self.buf,
            &self.writes,
            &keys,
            prefix,
            self.setup.extras,
            marker,
            time,
        );
        let mut reply = conn
            .req_packed_commands(&self.buf, queued + 1, 1)
            .map_err(|e| classify(&format!("redis sink: writing batch {time}"), e))?;
        match reply.pop() {
            Some(Value::Nil) => Ok(Outcome::Contended),
            Some(Value::Array(results)) => {
                let failed = results.into_iter().enumerate().find_map(|(i, r)| match r {
                    Value::ServerError(e) => Some((i, RedisError::from(e))),
                    _ => None,
                });
                if let Some((i, e)) = failed {
                    return Err(partly_applied(
                        time,
                        &self.writes.describe(i, &self.setup.prefix),
                        e,
                    ));
                }
                self.committed = Some(time);
                Ok(Outcome::Written)
            }
            other => Err(SinkError::internal(format!(
                "redis sink: unexpected reply to EXEC of batch {time}: {other:?}"
            ))),
        }
    }
}

/// The marker's value: `None` when the key does not exist.
fn parse_marker(marker: &str, reply: Option<Value>) -> Result<Option<u64>, SinkError> {
    let what = format!("redis sink: marker `{marker}`");
    match reply {
        Some(Value::Nil) => Ok(None),
        Some(Value::BulkString(b)) => std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                SinkError::user(format!(
                    "{what} holds `{}`, not a batch time: is another program using this key? \
                     (see marker_prefix)",
                    String::from_utf8_lossy(&b)
                ))
            }),
        Some(Value::ServerError(e)) => Err(classify(&what, e.into())),
        other => Err(SinkError::internal(format!(
            "{what}: unexpected reply {other:?}"
        ))),
    }
}

/// The type `TYPE` answered.
fn type_name(reply: Value) -> Result<String, RedisError> {
    match reply {
        Value::SimpleString(s) => Ok(s),
        Value::Okay => Ok("ok".into()),
        Value::BulkString(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Value::ServerError(e) => Err(e.into()),
        other => Ok(format!("{other:?}")),
    }
}

fn describe_type(t: KeyType) -> &'static str {
    match t {
        KeyType::Hash => "hash",
        KeyType::SortedSet => "sorted set (zset)",
        KeyType::Stream => "stream",
    }
}

fn unwatch(conn: &mut Connection) -> Result<(), SinkError> {
    ::redis::cmd("UNWATCH")
        .query::<()>(conn)
        .map_err(|e| classify("redis sink: UNWATCH", e))
}

/// A command of a transaction failed when it ran: Redis applied the others (it has no
/// rollback), the marker included.
fn partly_applied(time: u64, command: &str, e: RedisError) -> SinkError {
    SinkError::user(format!(
        "redis sink: `{command}` failed in the transaction of batch {time}: {e}; Redis ran the \
         batch's other commands (it does not roll back), and the batch counts as written"
    ))
    .with_cause(e)
}

/// Classifies an error of the sink's commands: a key of another type is the user's; the rest
/// as the source classifies them (transport and a busy server retried, refused logins the
/// user's).
fn classify(what: &str, e: RedisError) -> SinkError {
    if e.code() == Some("WRONGTYPE") {
        return SinkError::user(format!("{what}: the key holds another type ({e})")).with_cause(e);
    }
    classify_redis(what, e)
}

impl<T: 'static, E: RedisEncoder<T>> SinkWriter<T> for RedisSinkWriter<T, E> {
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError> {
        self.writes.clear();
        self.pending = None;
        for r in records {
            self.encoder.encode(r, &mut self.writes)?;
        }
        if !self.writes.is_empty() {
            self.pending = Some(time.millis());
        }
        Ok(())
    }

    fn commit(&mut self, time: BatchTime) -> Result<(), SinkError> {
        let time = time.millis();
        match self.pending {
            None => return Ok(()),
            Some(p) if p != time => {
                return Err(SinkError::internal(format!(
                    "redis sink: commit of batch {time} after a write of batch {p}"
                )))
            }
            Some(_) => {}
        }
        for _ in 0..WATCH_ATTEMPTS {
            self.connection()?;
            let outcome = self.transaction(time);
            match outcome {
                Ok(Outcome::Written | Outcome::Skipped) => {
                    self.pending = None;
                    self.writes.clear();
                    return Ok(());
                }
                Ok(Outcome::Contended) => {}
                Err(e) => {
                    // Whatever the connection was doing, start afresh on the next attempt.
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        Err(SinkError::external(format!(
            "redis sink: marker `{}` changed under every one of {WATCH_ATTEMPTS} attempts to \
             write batch {time}: does another job write with the same output uid and marker \
             prefix?",
            self.setup.marker
        )))
    }
}
