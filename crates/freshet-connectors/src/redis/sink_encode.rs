//! How a [`RedisSink`](super::RedisSink) turns a stream's items into Redis writes: the
//! [`RedisEncoder`] trait, the values it writes ([`RedisArg`], [`RedisNumber`]) and the
//! encoders of each mode.

use super::entry::RedisEntry;
use super::sink_commands::RedisWrites;
use freshet::SinkError;
use serde::Serialize;
use std::marker::PhantomData;
use std::sync::Arc;

/// Turns items of type `T` into Redis writes.
pub trait RedisEncoder<T>: Send + Sync + 'static {
    /// Adds the writes of `item` to `out` (any number: none, one, or several on several keys).
    /// An error fails the batch before anything of it is sent; it is the user's (an item the
    /// sink cannot write).
    fn encode(&self, item: &T, out: &mut RedisWrites) -> Result<(), SinkError>;
}

/// A key, field, member or value written as one Redis argument: strings as UTF-8, byte vectors
/// as they are, numbers as their decimal text (what `redis-cli` shows and `HINCRBY` parses).
pub trait RedisArg {
    /// Appends the bytes of `self` to `out`.
    fn write_arg(&self, out: &mut Vec<u8>);
}

impl RedisArg for str {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisArg for String {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisArg for Arc<str> {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisArg for [u8] {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl RedisArg for Vec<u8> {
    fn write_arg(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<A: RedisArg + ?Sized> RedisArg for &A {
    fn write_arg(&self, out: &mut Vec<u8>) {
        (**self).write_arg(out);
    }
}

macro_rules! decimal_arg {
    ($($t:ty),*) => {$(
        impl RedisArg for $t {
            fn write_arg(&self, out: &mut Vec<u8>) {
                use std::io::Write;
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
decimal_arg!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64, bool, char);

/// A number used as a sorted-set score or as an increment.
pub trait RedisNumber: Copy {
    /// Whether the type holds whole numbers: a hash field is then incremented with `HINCRBY`,
    /// otherwise with `HINCRBYFLOAT`.
    const WHOLE: bool;

    /// The number as a 64-bit integer, `None` when it does not fit (or is not whole).
    fn to_i64(self) -> Option<i64>;

    /// The number as a float (a sorted-set score; integers above 2^53 lose precision).
    fn to_f64(self) -> f64;
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl RedisNumber for $t {
            const WHOLE: bool = true;
            fn to_i64(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
whole_number!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl RedisNumber for f64 {
    const WHOLE: bool = false;
    fn to_i64(self) -> Option<i64> {
        None
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl RedisNumber for f32 {
    const WHOLE: bool = false;
    fn to_i64(self) -> Option<i64> {
        None
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

/// Items `(field, value)` set in one hash: `HSET key field value`. The encoder of
/// [`RedisSink::hash`](super::RedisSink::hash).
#[derive(Clone, Debug)]
pub struct HashFields {
    pub(crate) key: String,
}

impl<F: RedisArg + 'static, V: RedisArg + 'static> RedisEncoder<(F, V)> for HashFields {
    fn encode(&self, item: &(F, V), out: &mut RedisWrites) -> Result<(), SinkError> {
        out.hset(&self.key, &item.0, &item.1);
        Ok(())
    }
}

/// Items `(field, delta)` added to fields of one hash: `HINCRBY key field delta` for whole
/// numbers, `HINCRBYFLOAT` for floats. The encoder of
/// [`RedisSink::increments`](super::RedisSink::increments) on a hash sink.
#[derive(Clone, Debug)]
pub struct HashIncrements {
    pub(crate) key: String,
}

impl<F: RedisArg + 'static, N: RedisNumber + 'static> RedisEncoder<(F, N)> for HashIncrements {
    fn encode(&self, item: &(F, N), out: &mut RedisWrites) -> Result<(), SinkError> {
        out.hincr(&self.key, &item.0, item.1)
    }
}

/// Items `(field, value)` set in one hash with the value as JSON: `HSET key field <json>`.
/// The encoder of [`RedisSink::json_values`](super::RedisSink::json_values).
pub struct HashJson<V> {
    pub(crate) key: String,
    pub(crate) _values: PhantomData<fn(&V)>,
}

impl<F, V> RedisEncoder<(F, V)> for HashJson<V>
where
    F: RedisArg + 'static,
    V: Serialize + 'static,
{
    fn encode(&self, item: &(F, V), out: &mut RedisWrites) -> Result<(), SinkError> {
        let json = serde_json::to_vec(&item.1).map_err(|e| {
            SinkError::user(format!(
                "redis sink: a value for hash `{}` does not encode as JSON: {e}",
                self.key
            ))
            .with_cause(e)
        })?;
        out.hset(&self.key, &item.0, &json);
        Ok(())
    }
}

/// Items `(member, score)` set in one sorted set: `ZADD key score member`. The encoder of
/// [`RedisSink::sorted_set`](super::RedisSink::sorted_set).
#[derive(Clone, Debug)]
pub struct SortedSetScores {
    pub(crate) key: String,
}

impl<M: RedisArg + 'static, N: RedisNumber + 'static> RedisEncoder<(M, N)> for SortedSetScores {
    fn encode(&self, item: &(M, N), out: &mut RedisWrites) -> Result<(), SinkError> {
        out.zadd(&self.key, &item.0, item.1)
    }
}

/// Items `(member, delta)` added to scores of one sorted set: `ZINCRBY key delta member`.
/// The encoder of [`RedisSink::increments`](super::RedisSink::increments) on a sorted-set sink.
#[derive(Clone, Debug)]
pub struct SortedSetIncrements {
    pub(crate) key: String,
}

impl<M: RedisArg + 'static, N: RedisNumber + 'static> RedisEncoder<(M, N)> for SortedSetIncrements {
    fn encode(&self, item: &(M, N), out: &mut RedisWrites) -> Result<(), SinkError> {
        out.zincr(&self.key, &item.0, item.1)
    }
}

/// Items that are lists of `(field, value)` pairs, each added as an entry of one stream:
/// `XADD key * field value ...`; [`RedisEntry`] items (from a
/// [`RedisStreamSource`](super::RedisStreamSource)) are copied field by field. The encoder of
/// [`RedisSink::stream`](super::RedisSink::stream).
#[derive(Clone, Debug)]
pub struct StreamFields {
    pub(crate) key: String,
}

impl<F: RedisArg + 'static, V: RedisArg + 'static> RedisEncoder<Vec<(F, V)>> for StreamFields {
    fn encode(&self, item: &Vec<(F, V)>, out: &mut RedisWrites) -> Result<(), SinkError> {
        out.xadd(&self.key, item.iter().map(|(f, v)| (f, v)))
    }
}

impl RedisEncoder<RedisEntry> for StreamFields {
    fn encode(&self, item: &RedisEntry, out: &mut RedisWrites) -> Result<(), SinkError> {
        out.xadd(&self.key, item.fields.iter().map(|(f, v)| (f, v)))
    }
}

/// Items added to one stream as the value of one field: `XADD key * field <item>`, read back
/// by [`RedisStreamSource::field_utf8`](super::RedisStreamSource::field_utf8). The encoder of
/// [`RedisSink::field`](super::RedisSink::field).
#[derive(Clone, Debug)]
pub struct StreamField {
    pub(crate) key: String,
    pub(crate) field: String,
}

impl<V: RedisArg + 'static> RedisEncoder<V> for StreamField {
    fn encode(&self, item: &V, out: &mut RedisWrites) -> Result<(), SinkError> {
        out.xadd(&self.key, [(&self.field, item)])
    }
}

/// Items added to one stream as JSON in one field: `XADD key * field <json>`, read back by
/// [`RedisStreamSource::field_json`](super::RedisStreamSource::field_json). The encoder of
/// [`RedisSink::field_json`](super::RedisSink::field_json).
pub struct StreamJson<T> {
    pub(crate) key: String,
    pub(crate) field: String,
    pub(crate) _items: PhantomData<fn(&T)>,
}

impl<T: Serialize + 'static> RedisEncoder<T> for StreamJson<T> {
    fn encode(&self, item: &T, out: &mut RedisWrites) -> Result<(), SinkError> {
        let json = serde_json::to_vec(item).map_err(|e| {
            SinkError::user(format!(
                "redis sink: an item for stream `{}` does not encode as JSON: {e}",
                self.key
            ))
            .with_cause(e)
        })?;
        out.xadd(&self.key, [(&self.field, &json)])
    }
}

/// Items encoded by a function: the encoder of
/// [`RedisSink::encode_with`](super::RedisSink::encode_with).
pub struct EncodeWith<F>(pub F);

impl<T, F> RedisEncoder<T> for EncodeWith<F>
where
    F: Fn(&T, &mut RedisWrites) -> Result<(), SinkError> + Send + Sync + 'static,
{
    fn encode(&self, item: &T, out: &mut RedisWrites) -> Result<(), SinkError> {
        (self.0)(item, out)
    }
}

/// The encoder of [`RedisSink::new`](super::RedisSink::new) before one is chosen: it takes no
/// items (a sink needs [`encode_with`](super::RedisSink::encode_with) or
/// [`encode`](super::RedisSink::encode) first).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEncoder;
