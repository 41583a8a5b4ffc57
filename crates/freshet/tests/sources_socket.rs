//! Socket sources on loopback, in available-now runs (which end when the peers close, so the
//! whole input is known when the run returns): lines, CRLF, invalid UTF-8 (skipped and
//! counted), a connection closed in the middle of a line (the partial line is delivered),
//! several senders to a listener, an address in use, and the limits on line length and
//! connections.

mod common;

use common::*;
use freshet::source::receiver::BadRecordPolicy;
use freshet::source::socket::{SocketTextListener, SocketTextReceiver};
use freshet::{Error, StreamingContext};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A server on a free loopback port that accepts one connection, writes `bytes` and closes.
fn serve_once(bytes: Vec<u8>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(&bytes).unwrap();
        conn.flush().unwrap();
    });
    (addr, handle)
}

/// Every record of every batch, in batch order.
fn all<T: Clone>(c: &freshet::CollectedBatches<T>) -> Vec<T> {
    c.batches().into_iter().flat_map(|(_, r)| r).collect()
}

/// Runs a socket_text_stream against a server that sends `bytes` and closes.
fn receive(workers: usize, bytes: &[u8]) -> (Vec<String>, u64) {
    let (addr, server) = serve_once(bytes.to_vec());
    let (ctx, _clock) = context(workers);
    let out = ctx.socket_text_stream(addr).collect_batches();
    ctx.run_available_now().unwrap();
    server.join().unwrap();
    // Batches are consecutive from the first batch time.
    let n = out.len() as u64;
    assert_eq!(times(&out), expected_times(n));
    (all(&out), ctx.skipped_records())
}

#[test]
fn socket_text_stream_receives_lines_until_the_server_closes() {
    for workers in WORKERS {
        let (lines, skipped) = receive(workers, b"alpha\nbeta\r\n\ngamma\n");
        assert_eq!(lines, strings(&["alpha", "beta", "", "gamma"]));
        assert_eq!(skipped, 0);
    }
}

#[test]
fn socket_text_stream_skips_and_counts_invalid_utf8() {
    for workers in WORKERS {
        let (lines, skipped) = receive(workers, b"ok1\n\xff\xfe\xfd\nok2\nbad \xc3\x28 too\nok3\n");
        assert_eq!(lines, strings(&["ok1", "ok2", "ok3"]));
        assert_eq!(skipped, 2, "with {workers} worker(s)");
    }
}

#[test]
fn socket_text_stream_delivers_a_partial_last_line() {
    for workers in WORKERS {
        let (lines, skipped) = receive(workers, b"full line\npartial li");
        assert_eq!(lines, strings(&["full line", "partial li"]));
        assert_eq!(skipped, 0);
    }
}

#[test]
fn socket_text_stream_server_sends_nothing() {
    let (lines, skipped) = receive(2, b"");
    assert_eq!(lines, Vec::<String>::new());
    assert_eq!(skipped, 0);
}

#[test]
fn socket_text_stream_many_lines_in_order() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("line {i}\n"));
    }
    for workers in WORKERS {
        let (lines, _) = receive(workers, text.as_bytes());
        let expected: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
        assert_eq!(lines, expected, "with {workers} worker(s)");
    }
}

#[test]
fn socket_text_stream_word_count() {
    let (addr, server) = serve_once(b"a b\nb c\nc c\n".to_vec());
    let (ctx, _clock) = context(4);
    let counts = ctx
        .socket_text_stream(addr)
        .flat_map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
        .count_by_value()
        .collect_batches();
    ctx.run_available_now().unwrap();
    server.join().unwrap();
    // The batches may cut the input anywhere: add up the counts of every batch.
    let mut total = std::collections::BTreeMap::new();
    for (w, n) in all(&counts) {
        *total.entry(w).or_insert(0) += n;
    }
    assert_eq!(
        total.into_iter().collect::<Vec<_>>(),
        vec![
            ("a".to_string(), 1),
            ("b".to_string(), 2),
            ("c".to_string(), 3)
        ]
    );
}

#[test]
fn socket_text_stream_fail_policy_fails_the_run() {
    let (addr, server) = serve_once(b"ok\n\xff\n".to_vec());
    let (ctx, _clock) = context(1);
    ctx.socket_text_stream_with(addr, BadRecordPolicy::Fail)
        .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    server.join().unwrap();
}

/// A free loopback port (bound, then released).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Connects to `addr`, retrying while the listener is not bound yet.
fn connect(addr: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(addr) {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    }
}

#[test]
fn socket_text_listener_receives_from_several_senders() {
    for workers in WORKERS {
        let addr = free_addr();
        let (ctx, _clock) = context(workers);
        let out = ctx.socket_text_listener(addr.to_string()).collect_batches();
        let runner = {
            let ctx: StreamingContext = ctx.clone();
            std::thread::spawn(move || ctx.run_available_now())
        };
        // Both senders connect before either closes, so the listener sees them both.
        let mut a = connect(addr);
        let mut b = connect(addr);
        a.write_all(b"a1\na2\n\xff\xff\na3").unwrap();
        b.write_all(b"b1\r\n").unwrap();
        drop(a);
        b.write_all(b"b2\n").unwrap();
        drop(b);
        runner.join().unwrap().unwrap();
        let mut lines = all(&out);
        lines.sort();
        assert_eq!(
            lines,
            strings(&["a1", "a2", "a3", "b1", "b2"]),
            "with {workers} worker(s)"
        );
        assert_eq!(ctx.skipped_records(), 1);
    }
}

#[test]
fn socket_text_listener_on_an_address_in_use_fails_start() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ctx, _clock) = context(2);
    ctx.socket_text_listener(addr.clone()).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err}");
    assert_eq!(err.domain(), freshet::ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&addr), "{err}");
    // The context is stopped, with that error.
    assert!(matches!(ctx.await_termination(), Err(Error::Source { .. })));

    // The same in an available-now run.
    let (ctx, _clock) = context(1);
    ctx.socket_text_listener(addr).collect_batches();
    assert!(matches!(ctx.run_available_now(), Err(Error::Source { .. })));
    drop(taken);
}

#[test]
fn socket_text_listener_with_an_invalid_address_fails_start() {
    let (ctx, _clock) = context(1);
    ctx.socket_text_listener("not an address").collect_batches();
    assert!(matches!(ctx.start(), Err(Error::Source { .. })));
}

#[test]
fn a_line_longer_than_the_limit_is_a_bad_record_and_the_next_lines_arrive() {
    let mut input = b"ok\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 5000));
    input.extend(b"\nafter\n");
    input.extend(std::iter::repeat_n(b'y', 3000)); // over-long, and the last
    let (addr, server) = serve_once(input);
    let (ctx, _clock) = context(1);
    let out = ctx
        .receiver_stream(SocketTextReceiver::new(addr, BadRecordPolicy::Skip).max_line_bytes(1000))
        .collect_batches();
    ctx.run_available_now().unwrap();
    server.join().unwrap();
    assert_eq!(all(&out), strings(&["ok", "after"]));
    assert_eq!(ctx.skipped_records(), 2);

    let (ctx, _clock) = context(1);
    ctx.receiver_stream(
        SocketTextReceiver::new("127.0.0.1:1", BadRecordPolicy::Skip).max_line_bytes(0),
    )
    .collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("max_line_bytes"), "{err}");
}

#[test]
fn a_listener_at_its_connection_limit_serves_the_next_sender_once_one_closes() {
    let addr = free_addr();
    let (ctx, _clock) = context(1);
    let out = ctx
        .receiver_stream(
            SocketTextListener::new(addr.to_string(), BadRecordPolicy::Skip).max_connections(1),
        )
        .collect_batches();
    let runner = {
        let ctx: StreamingContext = ctx.clone();
        std::thread::spawn(move || ctx.run_available_now())
    };
    let mut a = connect(addr);
    let mut b = connect(addr);
    // b writes first, but is served only after a, the connection being served, closes.
    b.write_all(b"b1\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    a.write_all(b"a1\n").unwrap();
    drop(a);
    drop(b);
    runner.join().unwrap().unwrap();
    assert_eq!(all(&out), strings(&["a1", "b1"]));

    let (ctx, _clock) = context(1);
    ctx.receiver_stream(
        SocketTextListener::new("127.0.0.1:0", BadRecordPolicy::Skip).max_connections(0),
    )
    .collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}
