//! The worker side: reads one range of stream sequences through an ephemeral pull consumer
//! that starts at the range's first sequence and acknowledges nothing.

use super::connection::{classify, millis, Connection};
use super::message::{NatsDecoder, NatsMessage};
use super::source::{ephemeral_config, SequenceRange};
use async_nats::jetstream::consumer::{DeliverPolicy, PullConsumer};
use freshet::source::{ReadContext, SplitReader};
use freshet::SourceError;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most messages one fetch asks for.
const FETCH_MAX: u64 = 1000;

/// Reads [`SequenceRange`]s; shared by the workers, it keeps one connection for all reads and
/// drops it after a failed read.
pub struct NatsReader<D: NatsDecoder> {
    url: String,
    stream: String,
    filter: Option<String>,
    timeout: Duration,
    decoder: Arc<D>,
    conn: Mutex<Option<Arc<Connection>>>,
}

impl<D: NatsDecoder> NatsReader<D> {
    pub(crate) fn new(
        url: String,
        stream: String,
        filter: Option<String>,
        timeout: Duration,
        decoder: Arc<D>,
    ) -> Self {
        NatsReader {
            url,
            stream,
            filter,
            timeout,
            decoder,
            conn: Mutex::new(None),
        }
    }

    fn connection(&self) -> Result<Arc<Connection>, SourceError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = conn.as_ref() {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(Connection::open(
            &self.url,
            self.timeout,
            "freshet nats reader",
        )?);
        *conn = Some(Arc::clone(&c));
        Ok(c)
    }

    async fn read_range(
        &self,
        conn: &Connection,
        r: &SequenceRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let what = format!(
            "nats: reading sequences {}..{} of stream `{}`",
            r.start, r.end, self.stream
        );
        let config = ephemeral_config(
            DeliverPolicy::ByStartSequence {
                start_sequence: r.start,
            },
            self.filter.clone(),
        );
        let consumer: PullConsumer = conn
            .js
            .create_consumer_on_stream(config, &self.stream)
            .await
            .map_err(|e| classify(&what, e))?;
        let result = self.fetch_range(&consumer, r, out, ctx, &what).await;
        let name = consumer.cached_info().name.clone();
        // Left behind, the server deletes it after its inactivity threshold.
        let _ = conn
            .js
            .delete_consumer_from_stream(&name, &self.stream)
            .await;
        result
    }

    async fn fetch_range(
        &self,
        consumer: &PullConsumer,
        r: &SequenceRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
        what: &str,
    ) -> Result<(), SourceError> {
        let timed_out =
            || SourceError::external(format!("{what}: no answer within {:?}", self.timeout));
        let mut next = r.start;
        while next < r.end {
            let want = (r.end - next).min(FETCH_MAX) as usize;
            let mut batch =
                tokio::time::timeout(self.timeout, consumer.fetch().max_messages(want).messages())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| classify(what, e))?;
            let mut got = 0usize;
            loop {
                let item = match tokio::time::timeout(self.timeout, batch.next()).await {
                    Err(_) => return Err(timed_out()),
                    Ok(None) => break,
                    Ok(Some(item)) => item,
                };
                let m = item.map_err(|e| SourceError::external(format!("{what}: {e}")))?;
                let (seq, stamp) = m
                    .info()
                    .map(|i| {
                        (
                            i.stream_sequence,
                            millis(i.published.unix_timestamp_nanos()),
                        )
                    })
                    .map_err(|e| {
                        SourceError::internal(format!("{what}: a message without metadata: {e}"))
                    })?;
                got += 1;
                if seq < next {
                    continue;
                }
                if seq >= r.end {
                    return Ok(());
                }
                let message = NatsMessage::from_core(&m.message, seq, stamp);
                match self.decoder.decode(message) {
                    Ok(item) => out.push(item),
                    Err(why) => ctx.bad_record_raw(
                        &format!(
                            "nats: stream `{}` sequence {seq} ({}): {why}",
                            self.stream, m.message.subject
                        ),
                        &m.message.payload,
                    ),
                }
                next = seq + 1;
            }
            if got == 0 {
                // Nothing left for the consumer: the rest of the range is gaps (deleted
                // messages, other subjects).
                break;
            }
        }
        Ok(())
    }
}

impl<D: NatsDecoder> SplitReader for NatsReader<D> {
    type Split = SequenceRange;
    type Item = D::Item;

    fn read(
        &self,
        range: &SequenceRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        if range.end <= range.start {
            return Ok(());
        }
        let conn = self.connection()?;
        let result = conn.block_on(self.read_range(&conn, range, out, ctx));
        if result.as_ref().is_err_and(SourceError::is_retryable) {
            *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        result
    }
}
