//! The worker side: reads one partition's offset range with a manually assigned consumer.

use super::error::classify;
use super::record::{KafkaDecoder, KafkaRecord};
use super::source::PartitionRange;
use freshet::source::{ReadContext, SplitReader};
use freshet::SourceError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one poll waits.
const POLL: Duration = Duration::from_millis(100);

/// Reads [`PartitionRange`]s; shared by the workers, it keeps the consumers it made for the
/// next reads (no consumer group: each read assigns its partition by hand).
pub struct KafkaReader<D: KafkaDecoder> {
    config: ClientConfig,
    decoder: Arc<D>,
    read_timeout: Duration,
    request_timeout: Duration,
    idle: Mutex<Vec<BaseConsumer>>,
}

impl<D: KafkaDecoder> KafkaReader<D> {
    pub(crate) fn new(
        config: ClientConfig,
        decoder: Arc<D>,
        read_timeout: Duration,
        request_timeout: Duration,
    ) -> Self {
        KafkaReader {
            config,
            decoder,
            read_timeout,
            request_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_consumer(&self) -> Result<BaseConsumer, SourceError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => self
                .config
                .create()
                .map_err(|e| classify("kafka: creating a consumer", e)),
        }
    }

    fn read_range(
        &self,
        consumer: &BaseConsumer,
        r: &PartitionRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let what = format!(
            "kafka: reading {}/{} offsets {}..{}",
            r.topic, r.partition, r.start, r.end
        );
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.start))
            .map_err(|e| classify(&what, e))?;
        consumer.assign(&tpl).map_err(|e| classify(&what, e))?;
        let mut next = r.start;
        let mut progress = Instant::now();
        let mut last_error: Option<String> = None;
        while next < r.end {
            match consumer.poll(POLL) {
                None => {}
                Some(Ok(m)) => {
                    let off = m.offset();
                    if m.topic() != r.topic || m.partition() != r.partition || off < next {
                        continue; // left over from an earlier assignment
                    }
                    if off >= r.end {
                        break;
                    }
                    match self.decoder.decode(KafkaRecord::from_message(&m)) {
                        Ok(item) => out.push(item),
                        Err(why) => ctx.bad_record_raw(
                            &format!("kafka: {}/{} offset {off}: {why}", r.topic, r.partition),
                            m.payload().unwrap_or_default(),
                        ),
                    }
                    next = off + 1;
                    progress = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(p))) if p == r.partition => {
                    // The end of the partition: what is left of the range is a gap (transaction
                    // markers, compaction) unless the partition lost records.
                    let (_, high) = consumer
                        .fetch_watermarks(&r.topic, r.partition, self.request_timeout)
                        .map_err(|e| classify(&what, e))?;
                    if high >= r.end {
                        break;
                    }
                    return Err(SourceError::external(format!(
                        "{what}: the partition ends at {high}, before the end of the range \
                         (records lost, or a leader behind)"
                    )));
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    let error = classify(&what, e);
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    // librdkafka reconnects and retries by itself; the read timeout bounds it.
                    tracing::debug!("{error}");
                    last_error = Some(error.to_string());
                }
            }
            if progress.elapsed() >= self.read_timeout {
                let why = last_error.map_or(String::new(), |e| format!(" (last error: {e})"));
                return Err(SourceError::external(format!(
                    "{what}: no record past offset {next} within {:?}{why}",
                    self.read_timeout
                )));
            }
        }
        Ok(())
    }
}

impl<D: KafkaDecoder> SplitReader for KafkaReader<D> {
    type Split = PartitionRange;
    type Item = D::Item;

    fn read(
        &self,
        range: &PartitionRange,
        out: &mut Vec<D::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        if range.end <= range.start {
            return Ok(());
        }
        let consumer = self.take_consumer()?;
        let result = self.read_range(&consumer, range, out, ctx);
        // A consumer whose read failed is dropped: its state is unknown.
        if result.is_ok() && consumer.unassign().is_ok() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(consumer);
        }
        result
    }
}
