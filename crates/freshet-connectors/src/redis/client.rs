//! The few Redis commands the source sends, their replies parsed, and their errors
//! classified: the user's (a key of another type, a refused login, a bad URL) fail the job; the
//! outside world's (a server down, a dropped connection, a timeout, a server loading its data)
//! are retried.

use super::entry::RedisEntry;
use super::id::EntryId;
use ::redis::{Client, Connection, ErrorKind, RedisError, Value};
use freshet::SourceError;
use std::time::Duration;

/// How many entries one `XRANGE` asks for.
pub(crate) const PAGE: u64 = 1000;

/// Classifies a Redis error met while doing `what` (a sentence fragment naming the stream).
pub(crate) fn classify(what: &str, e: RedisError) -> SourceError {
    let message = format!("{what}: {e}");
    if e.is_io_error() {
        // Refused, reset, timed out, or a socket path that does not exist yet.
        return SourceError::external(message).with_cause(e);
    }
    let user = match e.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig | ErrorKind::CrossSlot => {
            true
        }
        _ => matches!(
            e.code(),
            Some("WRONGTYPE" | "NOAUTH" | "WRONGPASS" | "NOPERM" | "NOGROUP")
        ),
    };
    if e.code() == Some("WRONGTYPE") {
        return SourceError::user(format!(
            "{what}: the key holds another type than a stream ({e})"
        ))
        .with_cause(e);
    }
    if user {
        return SourceError::user(message).with_cause(e);
    }
    match e.kind() {
        // A reply this code does not understand: a bug, not a passing failure.
        ErrorKind::ParseError | ErrorKind::TypeError | ErrorKind::ClientError => {
            SourceError::internal(message).with_cause(e)
        }
        // Loading, busy, read-only replica, cluster changes, too many clients: they pass.
        _ => SourceError::external(message).with_cause(e),
    }
}

/// Whether a connection that gave this error should be dropped rather than used again.
pub(crate) fn drops_connection(e: &SourceError) -> bool {
    e.is_retryable() || e.domain() == freshet::ErrorDomain::Internal
}

/// Opens a connection with `timeout` for connecting, each read and each write.
pub(crate) fn connect(
    client: &Client,
    timeout: Duration,
    what: &str,
) -> Result<Connection, SourceError> {
    let conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| classify(what, e))?;
    conn.set_read_timeout(Some(timeout))
        .map_err(|e| classify(what, e))?;
    conn.set_write_timeout(Some(timeout))
        .map_err(|e| classify(what, e))?;
    Ok(conn)
}

/// What `XINFO STREAM` says about a stream (an absent key is an empty stream).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamState {
    /// How many entries it holds.
    pub(crate) length: u64,
    /// Its first and last entry, when it has any.
    pub(crate) first: Option<EntryId>,
    pub(crate) last: Option<EntryId>,
    /// The largest id it ever gave an entry (`None` for an absent key).
    pub(crate) last_generated: Option<EntryId>,
    /// How many entries were ever added to it (Redis 7 and later; `None` before).
    pub(crate) entries_added: Option<u64>,
}

/// The state of the stream at `key`.
pub(crate) fn stream_state(conn: &mut Connection, key: &str) -> Result<StreamState, SourceError> {
    let what = format!("redis: XINFO STREAM of `{key}`");
    let reply: Value = match ::redis::cmd("XINFO").arg("STREAM").arg(key).query(conn) {
        Ok(v) => v,
        Err(e) if e.code() == Some("ERR") && is_no_such_key(&e) => {
            return Ok(StreamState::default())
        }
        Err(e) => return Err(classify(&what, e)),
    };
    let bad = |why: &str| SourceError::internal(format!("{what}: unexpected reply ({why})"));
    let mut state = StreamState::default();
    for (name, value) in pairs(reply).ok_or_else(|| bad("not a map"))? {
        match text(&name).as_deref() {
            Some("length") => {
                state.length = match value {
                    Value::Int(n) => u64::try_from(n).map_err(|_| bad("negative length"))?,
                    _ => return Err(bad("length")),
                }
            }
            Some("last-generated-id") => {
                state.last_generated = Some(parse_id(&value).ok_or_else(|| bad("last id"))?)
            }
            Some("entries-added") => {
                state.entries_added = match value {
                    Value::Int(n) => u64::try_from(n).ok(),
                    _ => None,
                }
            }
            Some("first-entry") => state.first = entry_id_of(&value).map_err(|()| bad("first"))?,
            Some("last-entry") => state.last = entry_id_of(&value).map_err(|()| bad("last"))?,
            _ => {}
        }
    }
    Ok(state)
}

fn is_no_such_key(e: &RedisError) -> bool {
    e.detail()
        .is_some_and(|d| d.to_ascii_lowercase().contains("no such key"))
        || e.to_string().to_ascii_lowercase().contains("no such key")
}

/// The id of an entry reply (`[id, [field, value, ...]]`), `None` for nil.
fn entry_id_of(value: &Value) -> Result<Option<EntryId>, ()> {
    match value {
        Value::Nil => Ok(None),
        Value::Array(parts) => parts.first().and_then(parse_id).map(Some).ok_or(()),
        _ => Err(()),
    }
}

/// `XRANGE key first last COUNT count`: the entries with ids in `first..=last`, at most
/// `count` of them, in order.
pub(crate) fn xrange(
    conn: &mut Connection,
    key: &str,
    first: EntryId,
    last: EntryId,
    count: u64,
) -> Result<Vec<RedisEntry>, SourceError> {
    let what = format!("redis: XRANGE {first} {last} of `{key}`");
    let reply: Value = ::redis::cmd("XRANGE")
        .arg(key)
        .arg(first.to_string())
        .arg(last.to_string())
        .arg("COUNT")
        .arg(count)
        .query(conn)
        .map_err(|e| classify(&what, e))?;
    parse_entries(reply).map_err(|why| SourceError::internal(format!("{what}: {why}")))
}

/// Parses an `XRANGE` reply.
pub(crate) fn parse_entries(reply: Value) -> Result<Vec<RedisEntry>, String> {
    let items = match reply {
        Value::Array(items) => items,
        Value::Nil => return Ok(Vec::new()),
        other => return Err(format!("unexpected reply {other:?}")),
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(mut parts) = item else {
            return Err("an entry is not a pair".into());
        };
        if parts.len() != 2 {
            return Err("an entry is not a pair".into());
        }
        let fields = parts.pop().unwrap_or(Value::Nil);
        let id = parts
            .pop()
            .as_ref()
            .and_then(text)
            .filter(|t| t.parse::<EntryId>().is_ok())
            .ok_or("an entry without a valid id")?;
        let fields = match fields {
            Value::Nil => Vec::new(),
            Value::Array(flat) => {
                if flat.len() % 2 != 0 {
                    return Err(format!(
                        "entry {id}: an odd number of field names and values"
                    ));
                }
                let mut fields = Vec::with_capacity(flat.len() / 2);
                let mut it = flat.into_iter();
                while let (Some(name), Some(value)) = (it.next(), it.next()) {
                    let name = bytes(name).ok_or(format!("entry {id}: a field name"))?;
                    let value = bytes(value).ok_or(format!("entry {id}: a field value"))?;
                    fields.push((String::from_utf8_lossy(&name).into_owned(), value));
                }
                fields
            }
            Value::Map(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (name, value) in map {
                    let name = bytes(name).ok_or(format!("entry {id}: a field name"))?;
                    let value = bytes(value).ok_or(format!("entry {id}: a field value"))?;
                    fields.push((String::from_utf8_lossy(&name).into_owned(), value));
                }
                fields
            }
            _ => return Err(format!("entry {id}: fields are not a list")),
        };
        entries.push(RedisEntry { id, fields });
    }
    Ok(entries)
}

/// A map reply as pairs: RESP3 maps, or RESP2's flat arrays of names and values.
fn pairs(reply: Value) -> Option<Vec<(Value, Value)>> {
    match reply {
        Value::Map(map) => Some(map),
        Value::Array(flat) if flat.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Some(out)
        }
        _ => None,
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn parse_id(value: &Value) -> Option<EntryId> {
    text(value)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet::ErrorDomain;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xrange_replies_parse_in_order_and_malformed_ones_are_refused() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]),
            ]),
            Value::Array(vec![bulk("1-1"), Value::Array(vec![bulk("a"), bulk("3")])]),
        ]);
        let entries = parse_entries(reply).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].id, "1-0");
        assert_eq!(
            entries[0].fields,
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
        );
        let odd = Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![bulk("a")]),
        ])]);
        assert!(parse_entries(odd).is_err());
        let bad_id = Value::Array(vec![Value::Array(vec![bulk("x"), Value::Array(vec![])])]);
        assert!(parse_entries(bad_id).is_err());
    }

    #[test]
    fn wrong_types_and_logins_are_the_users_and_transport_is_retried() {
        let wrongtype = ::redis::make_extension_error(
            "WRONGTYPE".into(),
            Some("Operation against a key holding the wrong kind of value".into()),
        );
        let e = classify("redis: XRANGE of `k`", wrongtype);
        assert_eq!(e.domain(), ErrorDomain::User);
        assert!(e.to_string().contains("`k`") && e.to_string().contains("stream"));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(classify("x", refused).is_retryable());
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "denied"));
        assert_eq!(classify("x", auth).domain(), ErrorDomain::User);
        let loading = RedisError::from((ErrorKind::BusyLoadingError, "loading"));
        assert!(classify("x", loading).is_retryable());
    }
}
