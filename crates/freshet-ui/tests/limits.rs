//! The server's bounds on reading requests: a header read timeout, a maximum header size, and
//! the range checks on both settings.

mod common;

use common::get;
use freshet::{ManualClock, StreamingConfig, StreamingContext};
use freshet_ui::{
    UiConfig, UiError, UiServer, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_HEADER_BYTES,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Long enough for any of the waits below on a loaded machine; the tests never need it.
const WAIT: Duration = Duration::from_secs(10);

fn loopback() -> UiConfig {
    UiConfig::new("127.0.0.1:0".parse().unwrap())
}

fn context() -> StreamingContext {
    StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100)),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap()
}

/// Reads until the server closes `stream` (end of stream or reset) and returns what it sent;
/// panics when it is still open after `WAIT`.
fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server left the connection open for {WAIT:?}")
            }
            Err(e) => panic!("reading from the UI: {e}"),
        }
    }
}

/// Connects and sends `head` without finishing the request.
fn stall(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// `GET /api/v1/status` with an `X-Padding` header of `n` bytes; the status of the response, or
/// `None` when the server closed the connection without one.
fn padded_get(addr: SocketAddr, n: usize) -> Option<u16> {
    status_of(addr, &format!("X-Padding: {}\r\n", "p".repeat(n)))
}

/// `GET /api/v1/status` with `extra` header lines (each ending in `\r\n`); the status of the
/// response, or `None` when the server closed the connection without one.
fn status_of(addr: SocketAddr, extra: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    let request =
        format!("GET /api/v1/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    // The server may close before it has read everything: a failed write is a refusal too.
    if s.write_all(request.as_bytes()).is_err() {
        return None;
    }
    let raw = until_closed(&mut s);
    let text = String::from_utf8_lossy(&raw);
    text.lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
}

#[test]
fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let timeout = Duration::from_millis(300);
    let ctx = context();
    let ui = UiServer::start(&ctx, loopback().header_read_timeout(timeout)).unwrap();
    let addr = ui.local_addr();

    // Part of a request head, then nothing.
    let started = Instant::now();
    let mut slow = stall(addr, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    let sent = until_closed(&mut slow);
    assert!(
        sent.is_empty(),
        "no response was due: {:?}",
        String::from_utf8_lossy(&sent)
    );
    assert!(
        started.elapsed() >= timeout,
        "closed before the timeout: {:?}",
        started.elapsed()
    );

    // A connection that sends nothing at all is closed as well.
    let mut silent = TcpStream::connect(addr).unwrap();
    assert!(until_closed(&mut silent).is_empty());

    // A complete request is served as before.
    assert_eq!(get(addr, "/api/v1/status").status, 200);

    // A kept-alive connection gets its response, then is closed when no next request follows.
    let mut kept = stall(addr, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n");
    let sent = String::from_utf8_lossy(&until_closed(&mut kept)).into_owned();
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");

    // A stalled connection does not hold up shutdown for longer than the timeout.
    let _stalled = stall(addr, "GET / HTTP/1.1\r\n");
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        ui.shutdown();
        let _ = done.send(());
    });
    finished
        .recv_timeout(WAIT)
        .expect("shutdown waited on a stalled connection");
}

#[test]
fn headers_larger_than_the_limit_are_refused() {
    let ctx = context();
    let ui = UiServer::start(&ctx, loopback()).unwrap();
    let addr = ui.local_addr();

    // Over the default 16 KiB: refused with 431 (or closed), and the server keeps serving.
    let refused = padded_get(addr, 2 * DEFAULT_MAX_HEADER_BYTES);
    assert!(matches!(refused, None | Some(431)), "{refused:?}");
    assert_eq!(get(addr, "/api/v1/status").status, 200);
    // Under it: served.
    assert_eq!(padded_get(addr, DEFAULT_MAX_HEADER_BYTES - 1024), Some(200));
    ui.shutdown();

    // A configured limit counts the request line and all headers.
    let ui = UiServer::start(&ctx, loopback().max_header_bytes(2048)).unwrap();
    let addr = ui.local_addr();
    let refused = padded_get(addr, 3000);
    assert!(matches!(refused, None | Some(431)), "{refused:?}");
    let refused = padded_get(addr, 2048);
    assert!(matches!(refused, None | Some(431)), "{refused:?}");
    assert_eq!(padded_get(addr, 1024), Some(200));
    // Small headers add up.
    let line = |i: usize| format!("X-H{i:02}: 0123456789012345678901234567\r\n");
    let refused = status_of(addr, &(0..60).map(line).collect::<String>());
    assert!(matches!(refused, None | Some(431)), "{refused:?}");
    assert_eq!(
        status_of(addr, &(0..20).map(line).collect::<String>()),
        Some(200)
    );
    assert_eq!(get(addr, "/api/v1/status").status, 200);
    ui.shutdown();
}

#[test]
fn limits_out_of_range_are_refused_with_the_setting_named() {
    let ctx = context();
    let defaults = UiConfig::default();
    assert_eq!(defaults.header_read_timeout, DEFAULT_HEADER_READ_TIMEOUT);
    assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
    assert_eq!(defaults.max_header_bytes, DEFAULT_MAX_HEADER_BYTES);
    assert_eq!(defaults.max_header_bytes, 16 * 1024);

    for timeout in [
        Duration::ZERO,
        Duration::from_millis(99),
        Duration::from_secs(300) + Duration::from_millis(1),
        Duration::from_secs(3600),
    ] {
        let err = UiServer::start(&ctx, loopback().header_read_timeout(timeout)).unwrap_err();
        assert!(
            matches!(
                err,
                UiError::OutOfRange {
                    setting: "header_read_timeout",
                    ..
                }
            ),
            "{timeout:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("header_read_timeout"), "{message}");
        assert!(message.contains(&format!("{timeout:?}")), "{message}");
        assert!(message.contains("100ms to 300s"), "{message}");
    }
    for bytes in [0, 1023, 1024 * 1024 + 1, usize::MAX] {
        let err = UiServer::start(&ctx, loopback().max_header_bytes(bytes)).unwrap_err();
        assert!(
            matches!(
                err,
                UiError::OutOfRange {
                    setting: "max_header_bytes",
                    ..
                }
            ),
            "{bytes}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("max_header_bytes"), "{message}");
        assert!(message.contains(&bytes.to_string()), "{message}");
    }

    // The ends of the ranges are allowed.
    for config in [
        loopback().header_read_timeout(Duration::from_millis(100)),
        loopback().header_read_timeout(Duration::from_secs(300)),
        loopback().max_header_bytes(1024),
        loopback().max_header_bytes(1024 * 1024),
    ] {
        let ui =
            UiServer::start(&ctx, config.clone()).unwrap_or_else(|e| panic!("{config:?}: {e}"));
        assert_eq!(get(ui.local_addr(), "/api/v1/status").status, 200);
        ui.shutdown();
    }
}
