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
//!
//! Memory is bounded: a line longer than [`max_line_bytes`](SocketTextReceiver::max_line_bytes)
//! (1 MiB by default) is a bad record (its first [`DEAD_LETTER_PREFIX`] bytes are what a
//! dead-letter file keeps, the rest is read and dropped up to its end), and the listener serves
//! at most [`max_connections`](SocketTextListener::max_connections) connections at a time (64
//! by default); more wait in the operating system's accept queue, then are refused, until one
//! closes. A full receiver buffer stops the reads, so TCP pushes back on the senders.

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
/// The longest line by default (1 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// The largest `max_line_bytes` (1 GiB).
pub const MAX_LINE_BYTES: usize = 1 << 30;
/// How many connections a listener serves at a time by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// The largest `max_connections`.
pub const MAX_CONNECTIONS: usize = 10_000;
/// How much of an over-long line a bad-record report (and a dead-letter file) keeps.
pub const DEAD_LETTER_PREFIX: usize = 1024;

/// How a connection's lines are read.
#[derive(Clone, Copy, Debug)]
struct LineRules {
    policy: BadRecordPolicy,
    max_line_bytes: usize,
}

fn check_max_line_bytes(n: usize) -> std::result::Result<(), SourceError> {
    if (1..=MAX_LINE_BYTES).contains(&n) {
        Ok(())
    } else {
        Err(SourceError::user(format!(
            "max_line_bytes must be between 1 and {MAX_LINE_BYTES}, not {n}"
        )))
    }
}

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
    rules: LineRules,
    source: &str,
) -> std::result::Result<(), SourceError> {
    use std::io::Read;
    let policy = rules.policy;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|error| SourceError::io(source, error))?;
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    // Inside an over-long line already reported: its bytes are dropped up to its end.
    let mut dropping = false;
    loop {
        if ctx.is_stopped() {
            break;
        }
        if reader.buffer().is_empty() || pending.len() >= STORE_BATCH {
            ctx.store_many(std::mem::take(&mut pending));
        }
        // At most one byte past the limit is read, so a line never holds more than that.
        let room = (rules.max_line_bytes + 1).saturating_sub(line.len()) as u64;
        match (&mut reader).take(room.max(1)).read_until(b'\n', &mut line) {
            Ok(0) => {
                // End of stream: a partial last line was received, so it is delivered.
                if !line.is_empty() && !dropping {
                    push_line(&mut line, &mut pending, ctx, policy);
                }
                break;
            }
            Ok(_) => {
                let ended = line.last() == Some(&b'\n');
                if dropping {
                    line.clear();
                    dropping = !ended;
                } else if ended && line.len() <= rules.max_line_bytes + 1 {
                    push_line(&mut line, &mut pending, ctx, policy);
                } else if line.len() > rules.max_line_bytes {
                    ctx.bad_record_raw(
                        policy,
                        &format!(
                            "{source}: a line longer than {} bytes (max_line_bytes)",
                            rules.max_line_bytes
                        ),
                        &line[..line.len().min(DEAD_LETTER_PREFIX)],
                    );
                    line.clear();
                    dropping = !ended;
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
    max_line_bytes: usize,
}

impl SocketTextReceiver {
    /// A client of the server at `addr`.
    pub fn new(addr: impl Into<String>, policy: BadRecordPolicy) -> Self {
        SocketTextReceiver {
            addr: addr.into(),
            policy,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// The longest line, in bytes without its `\n` (1 ..= [`MAX_LINE_BYTES`]; default
    /// [`DEFAULT_MAX_LINE_BYTES`]). A longer line is a bad record.
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = n;
        self
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

    fn on_start(&mut self) -> std::result::Result<(), SourceError> {
        check_max_line_bytes(self.max_line_bytes)
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
        let rules = LineRules {
            policy: self.policy,
            max_line_bytes: self.max_line_bytes,
        };
        read_lines(stream, ctx, rules, &self.name())
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
    max_line_bytes: usize,
    max_connections: usize,
    listener: Option<TcpListener>,
}

impl SocketTextListener {
    /// A listener on `addr` (bound when the context starts).
    pub fn new(addr: impl Into<String>, policy: BadRecordPolicy) -> Self {
        SocketTextListener {
            addr: addr.into(),
            policy,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            listener: None,
        }
    }

    /// The longest line, in bytes without its `\n` (1 ..= [`MAX_LINE_BYTES`]; default
    /// [`DEFAULT_MAX_LINE_BYTES`]). A longer line is a bad record.
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = n;
        self
    }

    /// How many connections are served at a time (1 ..= [`MAX_CONNECTIONS`]; default
    /// [`DEFAULT_MAX_CONNECTIONS`]). Further senders wait until one closes.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
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
        check_max_line_bytes(self.max_line_bytes)?;
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(SourceError::user(format!(
                "max_connections must be between 1 and {MAX_CONNECTIONS}, not {}",
                self.max_connections
            )));
        }
        self.listener = Some(bind_listener(&self.addr)?);
        Ok(())
    }

    fn run(&mut self, ctx: &ReceiverContext<String>) -> std::result::Result<(), SourceError> {
        let Some(listener) = self.listener.as_ref() else {
            return Ok(());
        };
        let mut connections: Vec<std::thread::JoinHandle<()>> = Vec::new();
        let mut accepted = 0usize;
        let rules = LineRules {
            policy: self.policy,
            max_line_bytes: self.max_line_bytes,
        };
        loop {
            if ctx.is_stopped() {
                break;
            }
            connections.retain(|c| !c.is_finished());
            if connections.len() >= self.max_connections {
                // Full: new senders wait in the accept queue until a connection closes.
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            match listener.accept() {
                Ok((stream, peer)) => {
                    accepted += 1;
                    let _ = stream.set_nonblocking(false);
                    let ctx = ctx.clone();
                    let name = format!("{} from {peer}", self.name());
                    connections.push(std::thread::spawn(move || {
                        if let Err(e) = read_lines(stream, &ctx, rules, &name) {
                            tracing::warn!("{e}");
                        }
                    }));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
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
