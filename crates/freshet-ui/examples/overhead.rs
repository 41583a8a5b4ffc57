//! What the UI costs a job: the demo pipeline (click stream, page views per batch) with 10 ms
//! batches, run available-now over a fixed number of records, without and with the UI — a page
//! open on the event stream and a Prometheus scraper hitting `/metrics` every second.
//!
//! ```sh
//! CARGO_TARGET_DIR=target/bench cargo run --release -p freshet-ui --example overhead -- \
//!     [records per batch] [batches] [runs]
//! ```
//!
//! Runs alternate (off, on, off, on, ...) so that drift on the machine hits both; the figure is
//! the median throughput of each.

use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Reads the event stream until told to stop, as an open page does.
fn page(addr: SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        write!(s, "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut buf = [0u8; 16384];
        let mut bytes = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = s.read(&mut buf) {
                bytes += n as u64;
            }
        }
        bytes
    })
}

/// Scrapes `/metrics` every second until told to stop.
fn scraper(addr: SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut scrapes = 0;
        while !stop.load(Ordering::Relaxed) {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(
                s,
                "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            assert!(out.contains("freshet_batches_completed_total"));
            scrapes += 1;
            let until = Instant::now() + Duration::from_secs(1);
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                thread::sleep(Duration::from_millis(10));
            }
        }
        scrapes
    })
}

/// CPU ticks (user + system): (live threads named `freshet-ui`, the whole process).
fn cpu_ticks() -> (u64, u64) {
    let (mut ui, mut all) = (0, 0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rsplit_once(')').map(|r| r.1) else {
            continue;
        };
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
        all += ticks;
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.starts_with("freshet-ui") {
            ui += ticks;
        }
    }
    // The process's total, which includes threads that have already exited.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    if let Some(rest) = stat.rsplit_once(')').map(|r| r.1) {
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        all = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    }
    (ui, all)
}

/// One available-now run; returns (records per second, batches per second, UI CPU share).
fn run(per_batch: u64, batches: u64, ui: bool) -> (f64, f64, f64) {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(10))
            .workers(2)
            .stop_on_ctrl_c(false),
    )
    .unwrap();
    let records = per_batch * batches;
    ctx.click_stream(GeneratorOptions::rate(per_batch * 100).limit(records))
        .map(|c| (c.page, 1u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_batch(|_, counts| {
            std::hint::black_box(counts);
        });
    let stop = Arc::new(AtomicBool::new(false));
    let mut helpers = Vec::new();
    let server = if ui {
        let server = UiServer::start(&ctx, UiConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
        helpers.push(page(server.local_addr(), stop.clone()));
        helpers.push(scraper(server.local_addr(), stop.clone()));
        thread::sleep(Duration::from_millis(100));
        Some(server)
    } else {
        None
    };
    let started = Instant::now();
    let (ui0, all0) = cpu_ticks();
    ctx.run_available_now().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let (ui1, all1) = cpu_ticks();
    let share = ui1.saturating_sub(ui0) as f64 / all1.saturating_sub(all0).max(1) as f64;
    stop.store(true, Ordering::Relaxed);
    for h in helpers {
        h.join().unwrap();
    }
    drop(server);
    let done = ctx.batches_completed() as f64;
    (records as f64 / secs, done / secs, share)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let per_batch = arg(1, 20_000);
    let batches = arg(2, 1000);
    let runs = arg(3, 5);
    println!("demo pipeline, 10 ms batches of {per_batch} records, {batches} batches per run");
    run(per_batch, batches / 10, false); // warm up
    let (mut off, mut on, mut bps, mut shares) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        // off, on, on, off: neither side always runs first.
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for ui in order {
            let (rps, b, share) = run(per_batch, batches, ui);
            println!(
                "run {i} ui {:<3}: {:>12.0} records/s, {:>6.1} batches/s, UI threads {:.3}% of CPU",
                if ui { "on" } else { "off" },
                rps,
                b,
                share * 100.0
            );
            bps.push(b);
            if ui {
                on.push(rps);
                shares.push(share);
            } else {
                off.push(rps);
            }
        }
    }
    let (off, on) = (median(off), median(on));
    println!(
        "UI threads used {:.3}% of the process's CPU time (median)",
        median(shares) * 100.0
    );
    println!(
        "median: UI off {off:.0} records/s, UI on {on:.0} records/s, ratio {:.4} ({:+.2}%), {:.0} batches/s",
        on / off,
        (on / off - 1.0) * 100.0,
        median(bps)
    );
}
