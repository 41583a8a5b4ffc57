//! The settings of a ZeroMQ receiver, their ranges and the socket they make.

use freshet::SourceError;

/// The most messages stored as one block.
pub const MAX_BLOCK_SIZE: usize = 100_000;
/// The largest receive high-water mark, in messages.
pub const MAX_RECEIVE_HWM: i32 = 10_000_000;
/// The largest message a receiver can be told to accept, in bytes (1 GiB).
pub const MAX_MESSAGE_BYTES: u64 = 1 << 30;

/// The kind of socket a receiver reads with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// `SUB`: receives what `PUB` sockets publish on the subscribed topic prefixes; a publisher
    /// drops messages for a subscriber that falls behind.
    Sub,
    /// `PULL`: receives what `PUSH` sockets send, shared among pullers; a pusher blocks when
    /// every puller is full.
    Pull,
}

impl SocketKind {
    /// The name ZeroMQ gives it.
    pub fn name(self) -> &'static str {
        match self {
            SocketKind::Sub => "SUB",
            SocketKind::Pull => "PULL",
        }
    }

    fn zmq(self) -> zmq::SocketType {
        match self {
            SocketKind::Sub => zmq::SUB,
            SocketKind::Pull => zmq::PULL,
        }
    }
}

/// Where a receiver's socket attaches and how it reads.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub kind: SocketKind,
    pub endpoint: String,
    pub bind: bool,
    pub subscriptions: Vec<Vec<u8>>,
    pub receive_hwm: i32,
    pub max_message_bytes: u64,
    pub block_size: usize,
}

impl Settings {
    pub fn new(kind: SocketKind, endpoint: String) -> Self {
        Settings {
            kind,
            endpoint,
            bind: false,
            subscriptions: Vec::new(),
            receive_hwm: 1000,
            max_message_bytes: 1 << 20,
            block_size: 1000,
        }
    }

    /// Checks every setting, naming the one out of range.
    pub fn validate(&self) -> Result<(), SourceError> {
        let endpoint = self.endpoint.trim();
        if endpoint.is_empty() || !endpoint.contains("://") {
            return Err(SourceError::user(format!(
                "zeromq: the endpoint {:?} is not a ZeroMQ endpoint (expected e.g. tcp://127.0.0.1:5557 or ipc:///run/app.sock)",
                self.endpoint
            )));
        }
        if self.kind == SocketKind::Pull && !self.subscriptions.is_empty() {
            return Err(SourceError::user(
                "zeromq: subscriptions apply to SUB sockets only; a PULL socket takes every message",
            ));
        }
        if !(1..=MAX_RECEIVE_HWM).contains(&self.receive_hwm) {
            return Err(SourceError::user(format!(
                "zeromq: receive_hwm must be between 1 and {MAX_RECEIVE_HWM} messages, not {}",
                self.receive_hwm
            )));
        }
        if !(1..=MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            return Err(SourceError::user(format!(
                "zeromq: max_message_bytes must be between 1 and {MAX_MESSAGE_BYTES}, not {}",
                self.max_message_bytes
            )));
        }
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            return Err(SourceError::user(format!(
                "zeromq: block_size must be between 1 and {MAX_BLOCK_SIZE}, not {}",
                self.block_size
            )));
        }
        Ok(())
    }

    /// A socket with these settings, bound or connected to the endpoint, subscribed, reading
    /// with a timeout of `poll_ms` so that the receiver looks at whether it should stop.
    pub fn open(&self, poll_ms: i32) -> Result<zmq::Socket, SourceError> {
        let what = |step: &str, e: zmq::Error| classify(&format!("{step} {self}"), e);
        let context = zmq::Context::new();
        let socket = context
            .socket(self.kind.zmq())
            .map_err(|e| what("opening", e))?;
        let max_bytes = i64::try_from(self.max_message_bytes).unwrap_or(i64::MAX);
        socket
            .set_rcvhwm(self.receive_hwm)
            .and_then(|()| socket.set_maxmsgsize(max_bytes))
            .and_then(|()| socket.set_rcvtimeo(poll_ms))
            .and_then(|()| socket.set_linger(0))
            .map_err(|e| what("configuring", e))?;
        if self.kind == SocketKind::Sub {
            if self.subscriptions.is_empty() {
                socket
                    .set_subscribe(b"")
                    .map_err(|e| what("subscribing", e))?;
            }
            for prefix in &self.subscriptions {
                socket
                    .set_subscribe(prefix)
                    .map_err(|e| what("subscribing", e))?;
            }
        }
        let endpoint = self.endpoint.trim();
        if self.bind {
            socket.bind(endpoint).map_err(|e| what("binding", e))?;
        } else {
            socket
                .connect(endpoint)
                .map_err(|e| what("connecting", e))?;
        }
        Ok(socket)
    }
}

impl std::fmt::Display for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.bind {
            "bound to"
        } else {
            "connected to"
        };
        write!(f, "the {} socket {how} {}", self.kind.name(), self.endpoint)
    }
}

/// Classifies a ZeroMQ error about `what`: a bad or busy endpoint is the user's; the rest
/// (interrupted calls, exhausted resources) may pass and is retried.
pub(crate) fn classify(what: &str, e: zmq::Error) -> SourceError {
    let message = format!("zeromq: {what}: {e}");
    match e {
        zmq::Error::EINVAL
        | zmq::Error::EPROTONOSUPPORT
        | zmq::Error::ENOCOMPATPROTO
        | zmq::Error::EADDRINUSE
        | zmq::Error::EADDRNOTAVAIL
        | zmq::Error::ENODEV
        | zmq::Error::EACCES
        | zmq::Error::ENOENT => SourceError::user(message),
        _ => SourceError::external(message),
    }
}
