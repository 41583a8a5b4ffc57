//! The writes of one batch ([`RedisWrites`], what encoders fill), and the Redis commands they
//! become: the check before the transaction (`WATCH`, `GET` of the marker, `TYPE` of every
//! key) and the transaction itself (`MULTI`, the writes, trims and expiries, the marker,
//! `EXEC`), encoded in the Redis protocol (RESP) in one buffer each.

use super::sink_encode::{RedisArg, RedisNumber};
use freshet::SinkError;
use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;
use std::time::Duration;

/// What a write does, and so the type its key must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    HSet,
    HIncrBy,
    HIncrByFloat,
    ZAdd,
    ZIncrBy,
    XAdd,
}

impl Kind {
    fn command(self) -> &'static [u8] {
        match self {
            Kind::HSet => b"HSET",
            Kind::HIncrBy => b"HINCRBY",
            Kind::HIncrByFloat => b"HINCRBYFLOAT",
            Kind::ZAdd => b"ZADD",
            Kind::ZIncrBy => b"ZINCRBY",
            Kind::XAdd => b"XADD",
        }
    }

    fn key_type(self) -> KeyType {
        match self {
            Kind::HSet | Kind::HIncrBy | Kind::HIncrByFloat => KeyType::Hash,
            Kind::ZAdd | Kind::ZIncrBy => KeyType::SortedSet,
            Kind::XAdd => KeyType::Stream,
        }
    }
}

/// The type a key written by the sink holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    Hash,
    SortedSet,
    Stream,
}

impl KeyType {
    /// The name `TYPE` answers for it.
    pub(crate) fn redis_name(self) -> &'static str {
        match self {
            KeyType::Hash => "hash",
            KeyType::SortedSet => "zset",
            KeyType::Stream => "stream",
        }
    }
}

/// One write: its kind and its arguments (the key first) in `RedisWrites::parts`.
#[derive(Clone, Debug)]
struct Op {
    kind: Kind,
    parts: Range<usize>,
}

/// The writes of one partition of one batch, filled by a
/// [`RedisEncoder`](super::RedisEncoder) item by item and sent in one transaction.
///
/// Keys are relative to the sink's [`key_prefix`](super::RedisSink::key_prefix). Every method
/// checks what Redis would refuse at run time (a score that is not a number, an increment out
/// of range), so that a batch fails before anything of it is sent.
///
/// ```
/// use freshet_connectors::redis::RedisWrites;
/// # fn f(out: &mut RedisWrites) -> Result<(), freshet::SinkError> {
/// // One page view: a counter per page, and the page in a sorted set of the day's pages.
/// out.hincr("views", "/home", 1u64)?;
/// out.zincr("pages:today", "/home", 1u64)?;
/// out.hset("last-visit", "/home", "2024-05-01T10:00:00Z");
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct RedisWrites {
    bytes: Vec<u8>,
    parts: Vec<Range<usize>>,
    ops: Vec<Op>,
}

impl RedisWrites {
    /// No writes.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many writes there are.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Forgets every write, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.parts.clear();
        self.ops.clear();
    }

    /// `HSET key field value`: sets a field of a hash.
    pub fn hset<K, F, V>(&mut self, key: &K, field: &F, value: &V)
    where
        K: RedisArg + ?Sized,
        F: RedisArg + ?Sized,
        V: RedisArg + ?Sized,
    {
        let start = self.parts.len();
        self.part(key);
        self.part(field);
        self.part(value);
        self.push(Kind::HSet, start);
    }

    /// `HINCRBY key field by` (whole numbers) or `HINCRBYFLOAT key field by` (floats): adds to
    /// a field of a hash. Fails for a whole number beyond 64 bits or a float that is not
    /// finite.
    pub fn hincr<K, F, N>(&mut self, key: &K, field: &F, by: N) -> Result<(), SinkError>
    where
        K: RedisArg + ?Sized,
        F: RedisArg + ?Sized,
        N: RedisNumber,
    {
        let start = self.parts.len();
        let kind = if N::WHOLE {
            let by = by.to_i64().ok_or_else(|| {
                SinkError::user(format!(
                    "redis sink: an increment of {} does not fit in HINCRBY's 64-bit range",
                    by.to_f64()
                ))
            })?;
            self.part(key);
            self.part(field);
            self.part(&by);
            Kind::HIncrBy
        } else {
            let by = finite(by.to_f64(), "HINCRBYFLOAT increment")?;
            self.part(key);
            self.part(field);
            self.part(&by);
            Kind::HIncrByFloat
        };
        self.push(kind, start);
        Ok(())
    }

    /// `ZADD key score member`: sets a member's score in a sorted set. Fails for a score that
    /// is not a number (NaN); infinities are allowed.
    pub fn zadd<K, M, N>(&mut self, key: &K, member: &M, score: N) -> Result<(), SinkError>
    where
        K: RedisArg + ?Sized,
        M: RedisArg + ?Sized,
        N: RedisNumber,
    {
        let score = not_nan(score.to_f64(), "score")?;
        let start = self.parts.len();
        self.part(key);
        self.score(score);
        self.part(member);
        self.push(Kind::ZAdd, start);
        Ok(())
    }

    /// `ZINCRBY key by member`: adds to a member's score in a sorted set (a missing member
    /// starts at 0). Fails for an increment that is not a number (NaN).
    pub fn zincr<K, M, N>(&mut self, key: &K, member: &M, by: N) -> Result<(), SinkError>
    where
        K: RedisArg + ?Sized,
        M: RedisArg + ?Sized,
        N: RedisNumber,
    {
        let by = not_nan(by.to_f64(), "ZINCRBY increment")?;
        let start = self.parts.len();
        self.part(key);
        self.score(by);
        self.part(member);
        self.push(Kind::ZIncrBy, start);
        Ok(())
    }

    /// `XADD key * field value ...`: adds an entry to a stream (trimmed as
    /// [`max_len`](super::RedisSink::max_len) says). Fails without fields.
    pub fn xadd<K, F, V, I>(&mut self, key: &K, fields: I) -> Result<(), SinkError>
    where
        K: RedisArg + ?Sized,
        I: IntoIterator<Item = (F, V)>,
        F: RedisArg,
        V: RedisArg,
    {
        let start = self.parts.len();
        self.part(key);
        for (f, v) in fields {
            self.part(&f);
            self.part(&v);
        }
        if self.parts.len() == start + 1 {
            self.parts.truncate(start);
            return Err(SinkError::user(
                "redis sink: a stream entry needs at least one field",
            ));
        }
        self.push(Kind::XAdd, start);
        Ok(())
    }

    fn part<A: RedisArg + ?Sized>(&mut self, arg: &A) {
        let start = self.bytes.len();
        arg.write_arg(&mut self.bytes);
        self.parts.push(start..self.bytes.len());
    }

    fn score(&mut self, score: f64) {
        let start = self.bytes.len();
        if score.is_infinite() {
            let text: &[u8] = if score > 0.0 { b"+inf" } else { b"-inf" };
            self.bytes.extend_from_slice(text);
        } else {
            // Writing to a Vec cannot fail.
            let _ = write!(self.bytes, "{score}");
        }
        self.parts.push(start..self.bytes.len());
    }

    fn push(&mut self, kind: Kind, start: usize) {
        self.ops.push(Op {
            kind,
            parts: start..self.parts.len(),
        });
    }

    fn bytes_of(&self, part: usize) -> &[u8] {
        self.parts
            .get(part)
            .and_then(|r| self.bytes.get(r.clone()))
            .unwrap_or_default()
    }

    fn key_of(&self, op: &Op) -> &[u8] {
        self.bytes_of(op.parts.start)
    }

    /// Every key written (without the prefix), once, in the order of first use, with the
    /// type it must hold; fails when a key is used as two types.
    pub(crate) fn keys(&self) -> Result<Vec<(&[u8], KeyType)>, SinkError> {
        let mut seen: HashMap<&[u8], KeyType> = HashMap::new();
        let mut keys = Vec::new();
        for op in &self.ops {
            let key = self.key_of(op);
            let wanted = op.kind.key_type();
            match seen.get(key) {
                Some(&t) if t != wanted => {
                    return Err(SinkError::user(format!(
                        "redis sink: key `{}` is written both as a {} and as a {} in one batch",
                        String::from_utf8_lossy(key),
                        t.redis_name(),
                        wanted.redis_name()
                    )))
                }
                Some(_) => {}
                None => {
                    seen.insert(key, wanted);
                    keys.push((key, wanted));
                }
            }
        }
        Ok(keys)
    }

    /// The command of write `index` as text, for an error message (arguments cut short).
    pub(crate) fn describe(&self, index: usize, prefix: &str) -> String {
        let Some(op) = self.ops.get(index) else {
            return format!(
                "command {} of the transaction (a trim, an expiry or the marker)",
                index + 1
            );
        };
        let mut text = String::from_utf8_lossy(op.kind.command()).into_owned();
        for (i, part) in op.parts.clone().enumerate() {
            let arg = String::from_utf8_lossy(self.bytes_of(part));
            let arg: String = arg.chars().take(64).collect();
            if i == 0 {
                text.push_str(&format!(" {prefix}{arg}"));
            } else {
                text.push_str(&format!(" {arg}"));
            }
        }
        text
    }
}

fn not_nan(x: f64, what: &str) -> Result<f64, SinkError> {
    if x.is_nan() {
        Err(SinkError::user(format!(
            "redis sink: a {what} is not a number (NaN)"
        )))
    } else {
        Ok(x)
    }
}

fn finite(x: f64, what: &str) -> Result<f64, SinkError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(SinkError::user(format!(
            "redis sink: a {what} must be a finite number, not {x}"
        )))
    }
}

/// What the transaction adds after the writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extras {
    /// Keep this many highest-scored members in every sorted set written.
    pub(crate) top: Option<u64>,
    /// Trim every stream written to about this many entries.
    pub(crate) max_len: Option<u64>,
    /// Let every key written expire after this long.
    pub(crate) ttl: Option<Duration>,
}

/// A RESP encoder of commands into one buffer.
pub(crate) struct Resp<'a> {
    out: &'a mut Vec<u8>,
    /// How many commands were written.
    pub(crate) commands: usize,
}

impl<'a> Resp<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.clear();
        Resp { out, commands: 0 }
    }

    fn header(&mut self, args: usize) {
        self.commands += 1;
        let _ = write!(self.out, "*{args}\r\n");
    }

    fn bulk(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let _ = write!(self.out, "${len}\r\n");
        for p in parts {
            self.out.extend_from_slice(p);
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// A command of plain arguments.
    pub(crate) fn command(&mut self, args: &[&[u8]]) {
        self.header(args.len());
        for a in args {
            self.bulk(&[a]);
        }
    }

    /// A command on one key, with the key prefixed.
    fn keyed(&mut self, name: &[u8], prefix: &[u8], key: &[u8], rest: &[&[u8]]) {
        self.header(2 + rest.len());
        self.bulk(&[name]);
        self.bulk(&[prefix, key]);
        for a in rest {
            self.bulk(&[a]);
        }
    }
}

/// Encodes the check before a transaction: `WATCH marker`, `GET marker`, then `TYPE` of every
/// key. The replies come in that order.
pub(crate) fn encode_check(
    out: &mut Vec<u8>,
    marker: &str,
    prefix: &[u8],
    keys: &[(&[u8], KeyType)],
) {
    let mut resp = Resp::new(out);
    resp.command(&[b"WATCH", marker.as_bytes()]);
    resp.command(&[b"GET", marker.as_bytes()]);
    for (key, _) in keys {
        resp.keyed(b"TYPE", prefix, key, &[]);
    }
}

/// Encodes the transaction of a batch: `MULTI`, every write in order, a trim of every sorted
/// set and an expiry of every key (when asked for), `SET marker time`, `EXEC`. Returns how
/// many commands lie between `MULTI` and `EXEC`.
pub(crate) fn encode_transaction(
    out: &mut Vec<u8>,
    writes: &RedisWrites,
    keys: &[(&[u8], KeyType)],
    prefix: &[u8],
    extras: Extras,
    marker: &str,
    time: u64,
) -> usize {
    let mut resp = Resp::new(out);
    resp.command(&[b"MULTI"]);
    let max_len = extras.max_len.map(|n| n.to_string());
    for op in &writes.ops {
        let key = writes.key_of(op);
        let args = op.parts.start + 1..op.parts.end;
        let mut head: Vec<&[u8]> = Vec::with_capacity(4);
        if op.kind == Kind::XAdd {
            if let Some(n) = &max_len {
                head.extend_from_slice(&[b"MAXLEN", b"~", n.as_bytes()]);
            }
            head.push(b"*");
        }
        resp.header(2 + head.len() + args.len());
        resp.bulk(&[op.kind.command()]);
        resp.bulk(&[prefix, key]);
        for h in head {
            resp.bulk(&[h]);
        }
        for part in args {
            resp.bulk(&[writes.bytes_of(part)]);
        }
    }
    if let Some(top) = extras.top {
        // Ranks 0 .. -(top + 1) are all but the `top` highest scores.
        let last = format!("-{}", top.saturating_add(1));
        for (key, t) in keys {
            if *t == KeyType::SortedSet {
                resp.keyed(b"ZREMRANGEBYRANK", prefix, key, &[b"0", last.as_bytes()]);
            }
        }
    }
    if let Some(ttl) = extras.ttl {
        let ms = ttl.as_millis().to_string();
        for (key, _) in keys {
            resp.keyed(b"PEXPIRE", prefix, key, &[ms.as_bytes()]);
        }
    }
    resp.command(&[b"SET", marker.as_bytes(), time.to_string().as_bytes()]);
    resp.command(&[b"EXEC"]);
    resp.commands - 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).replace("\r\n", " ")
    }

    #[test]
    fn a_transaction_holds_the_writes_then_trims_expiries_and_the_marker() {
        let mut w = RedisWrites::new();
        w.hincr("h", "a", 2u64).unwrap();
        w.zincr("z", "m", 1.5f64).unwrap();
        w.xadd("s", [("f", "v")]).unwrap();
        w.zadd("z", "n", f64::INFINITY).unwrap();
        let keys = w.keys().unwrap();
        assert_eq!(keys.len(), 3);
        let mut out = Vec::new();
        let extras = Extras {
            top: Some(10),
            max_len: Some(100),
            ttl: Some(Duration::from_secs(60)),
        };
        let n = encode_transaction(&mut out, &w, &keys, b"p:", extras, "p:marker:o:0", 300);
        // 4 writes, 1 trim, 3 expiries, the marker.
        assert_eq!(n, 9);
        let t = text(&out);
        assert!(
            t.starts_with("*1 $5 MULTI *4 $7 HINCRBY $3 p:h $1 a $1 2 "),
            "{t}"
        );
        assert!(
            t.contains("$4 XADD $3 p:s $6 MAXLEN $1 ~ $3 100 $1 * $1 f $1 v"),
            "{t}"
        );
        assert!(t.contains("$4 ZADD $3 p:z $4 +inf $1 n"), "{t}");
        assert!(t.contains("ZREMRANGEBYRANK $3 p:z $1 0 $3 -11"), "{t}");
        assert!(t.contains("PEXPIRE $3 p:h $5 60000"), "{t}");
        assert!(
            t.ends_with("$3 SET $12 p:marker:o:0 $3 300 *1 $4 EXEC "),
            "{t}"
        );
    }

    #[test]
    fn what_redis_would_refuse_is_refused_before_sending() {
        let mut w = RedisWrites::new();
        assert!(w.zadd("z", "m", f64::NAN).is_err());
        assert!(w.hincr("h", "f", u64::MAX).is_err());
        assert!(w.hincr("h", "f", f64::INFINITY).is_err());
        assert!(w.xadd("s", Vec::<(String, String)>::new()).is_err());
        assert!(w.is_empty());
        w.hset("k", "f", "v");
        w.zadd("k", "m", 1).unwrap();
        let e = w.keys().unwrap_err();
        assert!(e.to_string().contains("`k`"), "{e}");
        assert_eq!(w.describe(1, "p:"), "ZADD p:k 1 m");
    }
}
