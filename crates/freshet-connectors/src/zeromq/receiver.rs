//! A receiver that reads a ZeroMQ `SUB` or `PULL` socket and stores what arrives in blocks.

use super::message::{Bytes, Json, Messages, Utf8, ZmqDecoder, ZmqMessage};
use super::settings::{classify, Settings, SocketKind};
use freshet::source::{BadRecordPolicy, Receiver, ReceiverContext};
use freshet::{Data, SourceError};
use serde::de::DeserializeOwned;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a read waits for a message before the receiver looks at whether it should stop.
const IDLE_POLL_MS: i32 = 100;

/// A receiver of a ZeroMQ `SUB` or `PULL` socket. See the [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::zeromq::ZmqSource;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
/// let receiver = ZmqSource::pull("tcp://0.0.0.0:5557").bind();
/// ctx.receiver_stream(receiver).count().print(1);
/// # Ok::<(), freshet::Error>(())
/// ```
pub struct ZmqReceiver<D: ZmqDecoder = Utf8> {
    settings: Settings,
    bad_records: BadRecordPolicy,
    decoder: D,
    socket: Option<zmq::Socket>,
}

impl ZmqReceiver<Utf8> {
    pub(crate) fn new(kind: SocketKind, endpoint: String) -> Self {
        ZmqReceiver {
            settings: Settings::new(kind, endpoint),
            bad_records: BadRecordPolicy::Skip,
            decoder: Utf8,
            socket: None,
        }
    }
}

impl<D: ZmqDecoder> ZmqReceiver<D> {
    /// Binds the endpoint (`tcp://0.0.0.0:5557`) instead of connecting to it, so that senders
    /// connect to the job. The bind happens in `start()`, which fails when the address is in
    /// use. By default the receiver connects, and ZeroMQ reconnects by itself when the peer
    /// goes away and comes back.
    pub fn bind(mut self) -> Self {
        self.settings.bind = true;
        self
    }

    /// Subscribes a `SUB` socket to the messages whose first frame starts with `prefix`; may be
    /// called several times. Without a call, a `SUB` socket takes every message. Refused for a
    /// `PULL` socket.
    pub fn subscribe(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.settings.subscriptions.push(prefix.as_ref().to_vec());
        self
    }

    /// The messages the socket queues before it stops taking more (ZeroMQ's `ZMQ_RCVHWM`;
    /// 1 ..= [`MAX_RECEIVE_HWM`](super::MAX_RECEIVE_HWM); default 1000). When the receiver is
    /// held back (its buffer full, its rate limit reached) the queue fills; then a `PUSH`
    /// sender blocks, and a `PUB` sender drops messages for this subscriber.
    pub fn receive_hwm(mut self, messages: i32) -> Self {
        self.settings.receive_hwm = messages;
        self
    }

    /// The largest message accepted, all frames together (ZeroMQ's `ZMQ_MAXMSGSIZE`;
    /// 1 ..= 1 GiB; default 1 MiB). ZeroMQ disconnects a peer that sends a larger one; with
    /// [`receive_hwm`](Self::receive_hwm) it bounds the memory a sender can fill.
    pub fn max_message_bytes(mut self, bytes: u64) -> Self {
        self.settings.max_message_bytes = bytes;
        self
    }

    /// Stores at most `n` messages as one block (1 ..= [`MAX_BLOCK_SIZE`](super::MAX_BLOCK_SIZE);
    /// default 1000): the messages waiting when one arrives are stored with it.
    pub fn block_size(mut self, n: usize) -> Self {
        self.settings.block_size = n;
        self
    }

    /// What to do with a message that does not decode (default: skip it and count it).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Produces items with `decoder` instead.
    pub fn decode<E: ZmqDecoder>(self, decoder: E) -> ZmqReceiver<E> {
        ZmqReceiver {
            settings: self.settings,
            bad_records: self.bad_records,
            decoder,
            socket: self.socket,
        }
    }

    /// Produces the messages as they are ([`ZmqMessage`]s: every frame, and the time received).
    pub fn messages(self) -> ZmqReceiver<Messages> {
        self.decode(Messages)
    }

    /// Produces the payloads (last frames) as raw bytes ([`Bytes`]).
    pub fn bytes(self) -> ZmqReceiver<Bytes> {
        self.decode(Bytes)
    }

    /// Produces the payloads (last frames) decoded from JSON into `T` ([`Json`]).
    pub fn json<T: Data + DeserializeOwned>(self) -> ZmqReceiver<Json<T>> {
        self.decode(Json::new())
    }

    fn store(&self, ctx: &ReceiverContext<D::Item>, block: Vec<Vec<Vec<u8>>>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut items = Vec::with_capacity(block.len());
        for frames in block {
            let message = ZmqMessage {
                frames,
                timestamp: now,
            };
            let raw = match self.bad_records {
                BadRecordPolicy::DeadLetter => Some(message.payload().to_vec()),
                _ => None,
            };
            match self.decoder.decode(message) {
                Ok(item) => items.push(item),
                Err(why) => ctx.bad_record_raw(
                    self.bad_records,
                    &format!("zeromq: a message on {}: {why}", self.settings),
                    raw.as_deref().unwrap_or_default(),
                ),
            }
        }
        ctx.store_many(items);
    }
}

impl<D: ZmqDecoder> Receiver for ZmqReceiver<D> {
    type Item = D::Item;

    fn name(&self) -> String {
        format!("zeromq {}", self.settings)
    }

    fn kind(&self) -> &'static str {
        match self.settings.kind {
            SocketKind::Sub => "zeromq_sub",
            SocketKind::Pull => "zeromq_pull",
        }
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        self.settings.validate()?;
        if self.socket.is_none() {
            self.socket = Some(self.settings.open(IDLE_POLL_MS)?);
        }
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<D::Item>) -> Result<(), SourceError> {
        if ctx.available_now() {
            // ZeroMQ keeps nothing for a socket: nothing is available now.
            return Ok(());
        }
        let socket = match self.socket.take() {
            Some(socket) => socket,
            None => self.settings.open(IDLE_POLL_MS)?,
        };
        let result = self.receive(&socket, ctx);
        self.socket = Some(socket);
        result
    }
}

impl<D: ZmqDecoder> ZmqReceiver<D> {
    /// Reads blocks until the context stops or the socket fails.
    fn receive(
        &self,
        socket: &zmq::Socket,
        ctx: &ReceiverContext<D::Item>,
    ) -> Result<(), SourceError> {
        let failed = |e| classify(&format!("receiving on {}", self.settings), e);
        while !ctx.is_stopped() {
            let first = match socket.recv_multipart(0) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => continue,
                Err(e) => return Err(failed(e)),
            };
            let mut block = Vec::with_capacity(self.settings.block_size.min(1024));
            block.push(first);
            let mut error = None;
            while block.len() < self.settings.block_size {
                match socket.recv_multipart(zmq::DONTWAIT) {
                    Ok(frames) => block.push(frames),
                    Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => break,
                    Err(e) => {
                        error = Some(failed(e));
                        break;
                    }
                }
            }
            // What was received is stored before an error ends the run.
            self.store(ctx, block);
            if let Some(e) = error {
                return Err(e);
            }
        }
        Ok(())
    }
}
