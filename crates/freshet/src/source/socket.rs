//! Lines of text over TCP.
//!
//! - [`StreamingContext::socket_text_stream`](crate::StreamingContext::socket_text_stream)(crate::StreamingContext::socket_text_stream)
//!   connects to a server (as Spark's `socketTextStream`) and reconnects, with back-off, when the
//!   connection fails or ends;
//! - [`StreamingContext::socket_text_listener`](crate::StreamingContext::socket_text_listener)(crate::StreamingContext::socket_text_listener)
//!   listens on an address and accepts any number of senders.
//!
//! A line ends at `\n` (a trailing `\r` is removed). A line that is not valid UTF-8 follows the
//! [`BadRecordPolicy`]; a connection that closes in the middle of a line delivers the partial
//! line, since its bytes were received.

use super::direct::BadRecordPolicy;
use super::receiver::{Receiver, ReceiverContext};
use crate::error::{Error, Result, SourceError};
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How often a blocked read wakes up to look for a stop.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Lines stored together.
const STORE_BATCH: usize = 1024;

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .map_err(|error| Error::address(addr, error))?
        .next()
        .ok_or_else(|| {
            Error::address(
                addr,
                std::io::Error::new(ErrorKind::NotFound, "the address resolves to nothing"),
            )
        })
}

/// Binds a non-blocking TCP listener at `addr` for a receiver's `on_start`: an address in use
/// (or otherwise unusable) is a user error naming it, so `start()` fails clearly.
pub fn bind_listener(addr: &str) -> std::result::Result<TcpListener, SourceError> {
    let listener = TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| SourceError::io(format!("cannot listen on {addr}"), e))?;
    Ok(listener)
}

/// Reads lines from `stream` into `ctx` until the peer closes it or the context stops.
fn read_lines(
    stream: TcpStream,
    ctx: &ReceiverContext<String>,
    policy: BadRecordPolicy,
    source: &str,
) -> std::result::Result<(), SourceError> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|error| SourceError::io(source, error))?;
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    loop {
        if ctx.is_stopped() {
            break;
        }
        if reader.buffer().is_empty() || pending.len() >= STORE_BATCH {
            ctx.store_many(std::mem::take(&mut pending));
        }
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => {
                // End of stream: a partial last line was received, so it is delivered.
                if !line.is_empty() {
                    push_line(&mut line, &mut pending, ctx, policy);
                }
                break;
            }
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    push_line(&mut line, &mut pending, ctx, policy);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                ctx.store_many(pending);
                return Err(SourceError::io(format!("{source}: read failed"), e));
            }
        }
    }
    ctx.store_many(pending);
    Ok(())
}

fn push_line(
    line: &mut Vec<u8>,
    out: &mut Vec<String>,
    ctx: &ReceiverContext<String>,
    policy: BadRecordPolicy,
) {
    let mut bytes = std::mem::take(line);
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(s) => out.push(s),
        Err(e) => ctx.bad_record_raw(
            policy,
            &format!("a line of {} bytes is not valid UTF-8", e.as_bytes().len()),
            e.as_bytes(),
        ),
    }
}

/// Connects to a server and receives its lines (see [`StreamingContext::socket_text_stream`](crate::StreamingContext::socket_text_stream)).
pub struct SocketTextReceiver {
    addr: String,
    policy: BadRecordPolicy,
}

impl SocketTextReceiver {
    /// A client of the server at `addr`.
    pub fn new(addr: impl Into<String>, policy: BadRecordPolicy) -> Self {
        SocketTextReceiver {
            addr: addr.into(),
            policy,
        }
    }
}

impl Receiver for SocketTextReceiver {
    type Item = String;

    fn name(&self) -> String {
        format!("socket {}", self.addr)
    }

    fn kind(&self) -> &'static str {
        "socket_text_stream"
    }

    fn run(&mut self, ctx: &ReceiverContext<String>) -> std::result::Result<(), SourceError> {
        let addr = resolve(&self.addr).map_err(|e| match e {
            // A name that does not resolve now may resolve later (DNS): retried.
            Error::Address { addr, error } => {
                SourceError::external(format!("cannot resolve {addr}: {error}"))
            }
            e => SourceError::internal(e.to_string()),
        })?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|error| SourceError::io(&self.addr, error))?;
        read_lines(stream, ctx, self.policy, &self.name())
    }

    fn restart_on_end(&self) -> bool {
        true
    }
}

/// Listens on an address and receives the lines of every connection (see
/// [`StreamingContext::socket_text_listener`](crate::StreamingContext::socket_text_listener)).
pub struct SocketTextListener {
    addr: String,
    policy: BadRecordPolicy,
    listener: Option<TcpListener>,
}

impl SocketTextListener {
    /// A listener on `addr` (bound when the context starts).
    pub fn new(addr: impl Into<String>, policy: BadRecordPolicy) -> Self {
        SocketTextListener {
            addr: addr.into(),
            policy,
            listener: None,
        }
    }

    /// The address actually bound (useful with port 0), once the context has started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }
}

impl Receiver for SocketTextListener {
    type Item = String;

    fn name(&self) -> String {
        format!("socket listener {}", self.addr)
    }

    fn kind(&self) -> &'static str {
        "socket_text_listener"
    }

    fn on_start(&mut self) -> std::result::Result<(), SourceError> {
        self.listener = Some(bind_listener(&self.addr)?);
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<String>) -> std::result::Result<(), SourceError> {
        let Some(listener) = self.listener.as_ref() else {
            return Ok(());
        };
        let mut connections: Vec<std::thread::JoinHandle<()>> = Vec::new();
        let mut accepted = 0usize;
        loop {
            if ctx.is_stopped() {
                break;
            }
            match listener.accept() {
                Ok((stream, peer)) => {
                    accepted += 1;
                    let _ = stream.set_nonblocking(false);
                    let ctx = ctx.clone();
                    let policy = self.policy;
                    let name = format!("{} from {peer}", self.name());
                    connections.push(std::thread::spawn(move || {
                        if let Err(e) = read_lines(stream, &ctx, policy, &name) {
                            tracing::warn!("{e}");
                        }
                    }));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    connections.retain(|c| !c.is_finished());
                    if ctx.available_now() && accepted > 0 && connections.is_empty() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => tracing::warn!("accept on {} failed: {e}", self.addr),
            }
        }
        for c in connections {
            let _ = c.join();
        }
        Ok(())
    }
}
