//! One run of the receiver: connect, consume with manual acknowledgements, store deliveries in
//! blocks and acknowledge each block once it is stored.

use super::error::{classify, timed_out};
use super::message::{RabbitMqDecoder, RabbitMqMessage};
use super::receiver::{RabbitMqReceiver, MIN_WAIT};
use freshet::source::{BadRecordPolicy, ReceiverContext, StoreError};
use freshet::{ErrorDomain, RetryHint, SourceError};
use lapin::message::{Delivery, DeliveryResult};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TryRecvError};

/// How long closing the connection may take when the run ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A block being filled: the items, the deliveries it covers (decoded or skipped) and the tag
/// of its last delivery.
struct Block<T> {
    records: Vec<T>,
    deliveries: usize,
    last_tag: Option<u64>,
    since: Option<Instant>,
}

impl<T> Block<T> {
    fn new() -> Self {
        Block {
            records: Vec::new(),
            deliveries: 0,
            last_tag: None,
            since: None,
        }
    }
}

/// What the next step of the loop has to handle.
enum Next {
    Delivery(Box<DeliveryResult>),
    Idle,
    Closed,
}

impl<D: RabbitMqDecoder> RabbitMqReceiver<D> {
    /// Connects, consumes until stopped, a failure or (available-now) an empty queue, then
    /// closes the connection: the broker requeues whatever was delivered and not acknowledged.
    pub(super) async fn session(&self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        let what = format!("rabbitmq: connecting to {}", self.address());
        let conn = self
            .request(
                &what,
                Connection::connect(&self.uri, ConnectionProperties::default()),
            )
            .await?;
        let result = self.consume(&conn, ctx).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(200, "receiver stopped")).await;
        result
    }

    /// Connects and counts the messages ready in the queue.
    pub(super) async fn probe(&self) -> Result<u32, SourceError> {
        let what = format!("rabbitmq: connecting to {}", self.address());
        let conn = self
            .request(
                &what,
                Connection::connect(&self.uri, ConnectionProperties::default()),
            )
            .await?;
        let result = match self.request(&self.what(), conn.create_channel()).await {
            Ok(channel) => self.ready(&channel).await,
            Err(e) => Err(e),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(200, "probe done")).await;
        result
    }

    /// Awaits a broker request for at most `request_timeout`.
    async fn request<T>(
        &self,
        what: &str,
        request: impl Future<Output = lapin::Result<T>>,
    ) -> Result<T, SourceError> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(result) => result.map_err(|e| classify(what, e)),
            Err(_) => Err(timed_out(what, self.request_timeout)),
        }
    }

    fn what(&self) -> String {
        format!("rabbitmq: queue `{}` at {}", self.queue, self.address())
    }

    /// The number of messages ready in the queue (a passive declare: NOT_FOUND if it is gone).
    async fn ready(&self, channel: &Channel) -> Result<u32, SourceError> {
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = self
            .request(
                &self.what(),
                channel.queue_declare(&self.queue, options, FieldTable::default()),
            )
            .await?;
        Ok(queue.message_count())
    }

    async fn consume(
        &self,
        conn: &Connection,
        ctx: &ReceiverContext<D::Item>,
    ) -> Result<(), SourceError> {
        let what = self.what();
        let channel = self.request(&what, conn.create_channel()).await?;
        self.request(
            &what,
            channel.basic_qos(self.prefetch, BasicQosOptions::default()),
        )
        .await?;
        match self.declare {
            Some(durable) => {
                let options = QueueDeclareOptions {
                    durable,
                    ..QueueDeclareOptions::default()
                };
                self.request(
                    &what,
                    channel.queue_declare(&self.queue, options, FieldTable::default()),
                )
                .await?;
            }
            None => {
                self.ready(&channel).await?;
            }
        }
        let consumer = self
            .request(
                &what,
                channel.basic_consume(
                    &self.queue,
                    &self.consumer_tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await?;
        // lapin calls the delegate on its I/O thread, in delivery order; the deliveries are
        // queued for this loop there, before any task is spawned, so their order is kept.
        let (tx, mut rx) = mpsc::unbounded_channel::<DeliveryResult>();
        consumer.set_delegate(move |delivery: DeliveryResult| {
            let _ = tx.send(delivery);
            async {}
        });
        let block_limit = self.block_size.min(usize::from(self.prefetch));
        let mut block = Block::new();
        loop {
            if ctx.is_stopped() {
                return self.flush(&channel, ctx, &mut block).await;
            }
            let wait = block.since.map_or(self.poll_timeout, |since| {
                self.block_max_wait
                    .saturating_sub(since.elapsed())
                    .clamp(MIN_WAIT, self.poll_timeout)
            });
            let mut next = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(delivery)) => Next::Delivery(Box::new(delivery)),
                Ok(None) => Next::Closed,
                Err(_) => Next::Idle,
            };
            if matches!(next, Next::Idle) {
                if !conn.status().connected() || !channel.status().connected() {
                    return Err(SourceError::external(format!(
                        "{what}: the connection to the broker was lost"
                    )));
                }
                if ctx.available_now() && block.deliveries == 0 {
                    // Deliveries sent before the answer are queued before it arrives.
                    let ready = self.ready(&channel).await?;
                    next = match rx.try_recv() {
                        Ok(delivery) => Next::Delivery(Box::new(delivery)),
                        Err(TryRecvError::Empty) if ready == 0 => return Ok(()),
                        Err(TryRecvError::Empty) => Next::Idle,
                        Err(TryRecvError::Disconnected) => Next::Closed,
                    };
                }
            }
            let delivery = match next {
                Next::Idle => None,
                Next::Delivery(delivery) => Some(*delivery),
                Next::Closed => Some(Ok(None)),
            };
            match delivery {
                None => {}
                Some(Ok(Some(delivery))) => {
                    self.take(delivery, &channel, ctx, &mut block).await?;
                }
                Some(Ok(None)) => {
                    // The broker cancelled the consumer (the queue was deleted, or the node
                    // holding it went down): a restart finds out which.
                    self.flush(&channel, ctx, &mut block).await?;
                    return Err(SourceError::external(format!(
                        "{what}: the broker cancelled the consumer"
                    )));
                }
                Some(Err(e)) => {
                    // The channel is closed: the broker requeues the block's deliveries, so
                    // they are not stored here.
                    return Err(classify(&what, e));
                }
            }
            if block.deliveries >= block_limit
                || block
                    .since
                    .is_some_and(|s| s.elapsed() >= self.block_max_wait)
            {
                self.flush(&channel, ctx, &mut block).await?;
            }
        }
    }

    /// Decodes a delivery into the block, or handles it as a bad record.
    async fn take(
        &self,
        delivery: Delivery,
        channel: &Channel,
        ctx: &ReceiverContext<D::Item>,
        block: &mut Block<D::Item>,
    ) -> Result<(), SourceError> {
        let tag = delivery.delivery_tag;
        let message = RabbitMqMessage::from_delivery(delivery);
        let routing_key = message.routing_key.clone();
        match self.decoder.decode(message) {
            Ok(item) => block.records.push(item),
            Err(why) => {
                let what = format!(
                    "rabbitmq: queue `{}`, message routed with `{routing_key}`: {why}",
                    self.queue
                );
                if self.bad_records == BadRecordPolicy::Fail {
                    // Not acknowledged: it stays in the queue.
                    self.flush(channel, ctx, block).await?;
                    return Err(SourceError::user(what));
                }
                ctx.bad_record(BadRecordPolicy::Skip, &what);
            }
        }
        block.deliveries += 1;
        block.last_tag = Some(tag);
        block.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Stores the block reliably, then acknowledges every delivery up to its last one. If it
    /// cannot be stored, its deliveries are rejected back to the queue.
    async fn flush(
        &self,
        channel: &Channel,
        ctx: &ReceiverContext<D::Item>,
        block: &mut Block<D::Item>,
    ) -> Result<(), SourceError> {
        let records = std::mem::take(&mut block.records);
        block.deliveries = 0;
        block.since = None;
        let Some(tag) = block.last_tag.take() else {
            return Ok(());
        };
        let what = format!("{}: acknowledging up to delivery {tag}", self.what());
        match ctx.store_reliably(records) {
            Ok(()) => {
                let multiple = BasicAckOptions { multiple: true };
                self.request(&what, channel.basic_ack(tag, multiple)).await
            }
            Err(e) => {
                let options = BasicNackOptions {
                    multiple: true,
                    requeue: true,
                };
                if let Err(nack) = self.request(&what, channel.basic_nack(tag, options)).await {
                    tracing::debug!("{nack}");
                }
                Err(store_error(e))
            }
        }
    }
}

/// A block that could not be stored: nothing of it was acknowledged, so it comes again.
fn store_error<T>(e: StoreError<T>) -> SourceError {
    let message = format!("rabbitmq receiver: storing a block: {}", e.error);
    match e.error.domain() {
        ErrorDomain::External => {
            SourceError::new(ErrorDomain::External, RetryHint::WithBackoff, message)
        }
        domain => SourceError::new(domain, RetryHint::NoRetry, message),
    }
    .with_cause(e.error)
}
