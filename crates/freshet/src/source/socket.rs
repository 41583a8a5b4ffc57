//! Lines of text over TCP.
//!
//! - [`StreamingContext::socket_text_stream`] connects to a server (as Spark's
//!   `socketTextStream`) and reconnects when the connection fails or ends;
//! - [`StreamingContext::socket_text_listener`] listens on an address and accepts any number of
//!   senders.
//!
//! A line ends at `\n` (a trailing `\r` is removed). A line that is not valid UTF-8 follows the
//! [`BadRecordPolicy`]; a connection that closes in the middle of a line delivers the partial
//! line, since its bytes were received.

use super::receiver::{BadRecordPolicy, Receiver, ReceiverContext};
use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How often a blocked read wakes up to look for a stop.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Lines stored together.
const STORE_BATCH: usize = 1024;

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .map_err(|error| Error::Address {
            addr: addr.to_string(),
            error,
        })?
        .next()
        .ok_or_else(|| Error::Address {
            addr: addr.to_string(),
            error: std::io::Error::new(ErrorKind::NotFound, "the address resolves to nothing"),
        })
}

/// Binds a non-blocking TCP listener at `addr` for a receiver's `on_start`: an address in use
/// (or otherwise unusable) is an [`Error::Address`] naming it, so `start()` fails clearly.
pub fn bind_listener(addr: &str) -> Result<TcpListener> {
    let address_error = |error| Error::Address {
        addr: addr.to_string(),
        error,
    };
    let listener = TcpListener::bind(addr).map_err(address_error)?;
    listener.set_nonblocking(true).map_err(address_error)?;
    Ok(listener)
}

/// Reads lines from `stream` into `ctx` until the peer closes it or the context stops.
fn read_lines(
    stream: TcpStream,
    ctx: &ReceiverContext<String>,
    policy: BadRecordPolicy,
    source: &str,
) -> Result<()> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|error| Error::Address {
            addr: source.to_string(),
            error,
        })?;
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    loop {
        if ctx.is_stopped() {
            break;
        }
        if reader.buffer().is_empty() || pending.len() >= STORE_BATCH {
            ctx.store_many(&mut pending);
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
                ctx.store_many(&mut pending);
                return Err(Error::Source {
                    source_name: source.to_string(),
                    message: format!("read failed: {e}"),
                });
            }
        }
    }
    ctx.store_many(&mut pending);
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
        Err(e) => ctx.bad_record(
            policy,
            &format!("a line of {} bytes is not valid UTF-8", e.as_bytes().len()),
        ),
    }
}

/// Connects to a server and receives its lines (see [`StreamingContext::socket_text_stream`]).
pub struct SocketTextReceiver {
    addr: String,
    policy: BadRecordPolicy,
}

impl Receiver for SocketTextReceiver {
    type Item = String;

    fn name(&self) -> String {
        format!("socket {}", self.addr)
    }

    fn run(&mut self, ctx: &ReceiverContext<String>) -> Result<()> {
        let addr = resolve(&self.addr)?;
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|error| {
                Error::Address {
                    addr: self.addr.clone(),
                    error,
                }
            })?;
        read_lines(stream, ctx, self.policy, &self.name())
    }

    fn restart_on_end(&self) -> bool {
        true
    }
}

/// Listens on an address and receives the lines of every connection (see
/// [`StreamingContext::socket_text_listener`]).
pub struct SocketTextListener {
    addr: String,
    policy: BadRecordPolicy,
    listener: Option<TcpListener>,
}

impl SocketTextListener {
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

    fn on_start(&mut self) -> Result<()> {
        self.listener = Some(bind_listener(&self.addr)?);
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<String>) -> Result<()> {
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

impl StreamingContext {
    /// Lines of text from the TCP server at `addr` (`host:port`). The receiver connects when
    /// the context starts and reconnects (every 200 ms) while the server is down or after it
    /// closes the connection; in an available-now run the stream ends when the server closes.
    pub fn socket_text_stream(&self, addr: impl Into<String>) -> DStream<String> {
        self.socket_text_stream_with(addr, BadRecordPolicy::default())
    }

    /// [`socket_text_stream`](Self::socket_text_stream) with a policy for malformed lines.
    pub fn socket_text_stream_with(
        &self,
        addr: impl Into<String>,
        policy: BadRecordPolicy,
    ) -> DStream<String> {
        self.receiver_stream(SocketTextReceiver {
            addr: addr.into(),
            policy,
        })
    }

    /// Lines of text sent to a TCP listener bound at `addr` when the context starts (an address
    /// in use fails `start()`). Any number of senders may connect; in an available-now run the
    /// stream ends once every accepted connection has closed.
    pub fn socket_text_listener(&self, addr: impl Into<String>) -> DStream<String> {
        self.socket_text_listener_with(addr, BadRecordPolicy::default())
    }

    /// [`socket_text_listener`](Self::socket_text_listener) with a policy for malformed lines.
    pub fn socket_text_listener_with(
        &self,
        addr: impl Into<String>,
        policy: BadRecordPolicy,
    ) -> DStream<String> {
        self.receiver_stream(SocketTextListener {
            addr: addr.into(),
            policy,
            listener: None,
        })
    }
}
