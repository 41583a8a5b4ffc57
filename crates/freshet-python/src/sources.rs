//! The connectors' sources, as streams of Python values (`freshet-connectors`).

use crate::coll::{Base, Coll};
use crate::context::Context;
use crate::value::Value;
use freshet_connectors::kafka::KafkaSource;
use freshet_connectors::mqtt::MqttSource;
use freshet_connectors::nats::NatsSource;
use freshet_connectors::rabbitmq::RabbitMqSource;
use freshet_connectors::redis::RedisStreamSource;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Bytes as a `str` when they are UTF-8, else as `bytes`.
fn text_or_bytes(b: Vec<u8>) -> Value {
    match String::from_utf8(b) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

fn limit(name: &str, n: Option<i64>) -> PyResult<Option<u64>> {
    match n {
        None => Ok(None),
        Some(n) if (1..=1_000_000_000_000).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(PyValueError::new_err(format!(
            "{name} must be between 1 and 1000000000000, got {n}"
        ))),
    }
}

#[pymethods]
impl Context {
    /// Kafka topics as a direct stream: `(key, value)` per record, replayable by offset range.
    #[pyo3(signature = (brokers, topics, max_records_per_partition_per_batch=None))]
    fn kafka_direct_stream(
        &self,
        brokers: String,
        topics: Vec<String>,
        max_records_per_partition_per_batch: Option<i64>,
    ) -> PyResult<Coll> {
        let mut source = KafkaSource::direct(brokers, topics);
        if let Some(n) = limit(
            "max_records_per_partition_per_batch",
            max_records_per_partition_per_batch,
        )? {
            source = source.max_records_per_partition_per_batch(n);
        }
        let records = self.context().direct_stream(source).map(|r| {
            Value::pair(
                r.key.map(text_or_bytes).unwrap_or(Value::None),
                r.value.map(text_or_bytes).unwrap_or(Value::None),
            )
        });
        Ok(Coll::new(Base::Stream(records)))
    }

    /// A NATS JetStream stream's payloads, replayable by sequence range.
    #[pyo3(signature = (server_url, stream, filter_subject=None, max_messages_per_batch=None))]
    fn nats_jetstream_stream(
        &self,
        server_url: String,
        stream: String,
        filter_subject: Option<String>,
        max_messages_per_batch: Option<i64>,
    ) -> PyResult<Coll> {
        let mut source = NatsSource::jetstream(server_url, stream);
        if let Some(f) = filter_subject {
            source = source.filter_subject(f);
        }
        if let Some(n) = limit("max_messages_per_batch", max_messages_per_batch)? {
            source = source.max_messages_per_batch(n);
        }
        let payloads = self
            .context()
            .direct_stream(source.bytes())
            .map(text_or_bytes);
        Ok(Coll::new(Base::Stream(payloads)))
    }

    /// A Redis stream's `field`, replayable by entry-id range.
    #[pyo3(signature = (url, stream_key, field, max_entries_per_batch=None))]
    fn redis_stream(
        &self,
        url: String,
        stream_key: String,
        field: String,
        max_entries_per_batch: Option<i64>,
    ) -> PyResult<Coll> {
        let mut source = RedisStreamSource::new(url, stream_key);
        if let Some(n) = limit("max_entries_per_batch", max_entries_per_batch)? {
            source = source.max_entries_per_batch(n);
        }
        let values = self
            .context()
            .direct_stream(source.field_utf8(field))
            .map(Value::Str);
        Ok(Coll::new(Base::Stream(values)))
    }

    /// MQTT topic filters (QoS 1, a persistent session named `client_id`), UTF-8 payloads,
    /// acknowledged once in the write-ahead log.
    fn mqtt_stream(&self, broker: String, client_id: String, topics: Vec<String>) -> Coll {
        let receiver = MqttSource::receiver(broker, client_id, topics);
        Coll::new(Base::Stream(
            self.context().receiver_stream(receiver).map(Value::Str),
        ))
    }

    /// A RabbitMQ queue's UTF-8 messages, acknowledged once in the write-ahead log.
    fn rabbitmq_stream(&self, uri: String, queue: String) -> Coll {
        let receiver = RabbitMqSource::receiver(uri, queue);
        Coll::new(Base::Stream(
            self.context().receiver_stream(receiver).map(Value::Str),
        ))
    }
}
