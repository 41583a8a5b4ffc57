//! ZeroMQ: one `PUSH` socket sends as fast as it can to the pipeline's bound `PULL` receiver,
//! next to a plain `PUSH` -> `PULL` pair in one process.

use crate::common::{
    config, count_into, payload, print_baseline, print_run, wait_for, Row, WORKERS,
};
use freshet::StreamingContext;
use freshet_connectors::zeromq::ZmqSource;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The pause between connecting and the first send, for the connection to come up.
const SETTLE: Duration = Duration::from_millis(100);

/// A free loopback TCP endpoint.
fn free_endpoint() -> std::io::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(format!("tcp://127.0.0.1:{port}"))
}

/// A `PUSH` socket connected to `endpoint`, waiting (at its high-water mark) rather than
/// dropping, and delivering what it holds before it closes.
fn pusher(endpoint: &str) -> zmq::Result<zmq::Socket> {
    let socket = zmq::Context::new().socket(zmq::PUSH)?;
    socket.set_linger(-1)?;
    socket.connect(endpoint)?;
    Ok(socket)
}

/// Sends `n` messages; blocks while the peer holds them back.
fn send(socket: &zmq::Socket, n: u64) -> zmq::Result<()> {
    for i in 0..n {
        socket.send(payload(i), 0)?;
    }
    Ok(())
}

/// A plain `PULL` socket bound in a thread of its own, a `PUSH` socket sending to it; returns
/// the seconds from the first send to the last message received.
fn plain(n: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let endpoint = free_endpoint()?;
    let pull = zmq::Context::new().socket(zmq::PULL)?;
    pull.bind(&endpoint)?;
    let (ready, wait) = std::sync::mpsc::channel();
    let puller = std::thread::spawn(move || -> zmq::Result<Instant> {
        let _ = ready.send(());
        let mut msg = zmq::Message::new();
        for _ in 0..n {
            pull.recv(&mut msg, 0)?;
        }
        Ok(Instant::now())
    });
    wait.recv()?;
    let push = pusher(&endpoint)?;
    std::thread::sleep(SETTLE);
    let started = Instant::now();
    send(&push, n)?;
    let ended = puller.join().map_err(|_| "the PULL thread panicked")??;
    Ok(ended.duration_since(started).as_secs_f64())
}

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let secs = plain(n)?;
    let baseline = print_baseline("zeromq", "PUSH -> plain PULL socket", n, secs);
    let mut freshet = [0.0; 2];
    for (slot, workers) in WORKERS.into_iter().enumerate() {
        let endpoint = free_endpoint()?;
        let ctx = StreamingContext::new(config(workers))?;
        let counted = count_into(ctx.receiver_stream(ZmqSource::pull(&endpoint).bind().bytes()));
        ctx.start()?;
        let push = pusher(&endpoint)?;
        std::thread::sleep(SETTLE);
        let started = Instant::now();
        send(&push, n)?;
        let secs = wait_for(&counted, n, started);
        ctx.stop(false)?;
        // Whatever was not taken is dropped rather than waited for.
        push.set_linger(0)?;
        drop(push);
        let got = counted.load(Ordering::Relaxed);
        freshet[slot] = print_run("zeromq", "PULL receiver", workers, got, secs);
    }
    Ok(Row {
        system: "ZeroMQ",
        baseline,
        freshet,
    })
}
