//! The worker side: reads one id range with `XRANGE`, page by page.

use super::client::{connect, drops_connection, xrange, PAGE};
use super::entry::RedisDecoder;
use super::source::RedisRange;
use ::redis::{Client, Connection};
use freshet::source::{ReadContext, SplitReader};
use freshet::SourceError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reads [`RedisRange`]s; shared by the workers, it keeps the connections it opened for the
/// next reads.
pub struct RedisReader<D: RedisDecoder> {
    client: Option<Client>,
    key: String,
    decoder: Arc<D>,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl<D: RedisDecoder> RedisReader<D> {
    pub(crate) fn new(
        client: Option<Client>,
        key: String,
        decoder: Arc<D>,
        timeout: Duration,
    ) -> Self {
        RedisReader {
            client,
            key,
            decoder,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_connection(&self) -> Result<Connection, SourceError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| SourceError::internal("redis: the reader has no valid url"))?;
        connect(
            client,
            self.timeout,
            &format!("redis: connecting to read `{}`", self.key),
        )
    }

    fn read_range(
        &self,
        conn: &mut Connection,
        range: &RedisRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let Some(mut cursor) = range.after.next() else {
            return Ok(());
        };
        while cursor <= range.through {
            let page = xrange(conn, &self.key, cursor, range.through, PAGE)?;
            let full = page.len() as u64 == PAGE;
            let last = page.last().and_then(|e| e.entry_id());
            for entry in page {
                let id = entry.id.clone();
                match self.decoder.decode(entry) {
                    Ok(item) => out.push(item),
                    Err(bad) => ctx.bad_record_raw(
                        &format!("redis: stream `{}` entry {id}: {}", self.key, bad.reason),
                        &bad.raw,
                    ),
                }
            }
            match last.and_then(|l| l.next()) {
                Some(next) if full => cursor = next,
                _ => break,
            }
        }
        Ok(())
    }
}

impl<D: RedisDecoder> SplitReader for RedisReader<D> {
    type Split = RedisRange;
    type Item = D::Item;

    fn read(
        &self,
        range: &RedisRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        if range.through <= range.after {
            return Ok(());
        }
        let mut conn = self.take_connection()?;
        let result = self.read_range(&mut conn, range, out, ctx);
        // A connection whose command failed on the way is dropped: its state is unknown.
        if !result.as_ref().err().is_some_and(drops_connection) {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        result
    }
}
