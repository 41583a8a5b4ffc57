//! Benchmarks of windows and state (figures in `docs/benchmarks.md`).
//!
//! ```text
//! CARGO_TARGET_DIR=target/bench cargo run --release -p freshet --example windows_bench -- all
//! ... -- sliding | event-time | state [--quick] [--per-batch=N] [--batches=N]
//!     [--incremental=0|1] (sliding) [--workers=N] (sliding, event-time)
//! ```
//!
//! - `sliding`: count by key over a sliding window of 30 batches, slide 1 batch, 100k distinct
//!   keys; incremental (`reduce_by_key_and_window_inv`) against recomputed
//!   (`reduce_by_key_and_window`), 1 and 2 workers.
//! - `event-time`: tumbling 1 s event-time windows counting per key (1000 keys) over 10 million
//!   events whose event times are up to 200 ms out of order, 1 and 2 workers.
//! - `state`: `update_state_by_key` with 1 million keys (u64 key, u64 count); prints the heap
//!   bytes per key held once every key is in the state (a counting allocator wraps the system
//!   allocator).
//!
//! Input comes from the embedded generator (the workers make their share of each batch), run
//! available-now, so the figures are records per second of wall time including generation.

use freshet::event_time::{WatermarkOptions, WindowSpec};
use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A well-spread pseudo-random number from `seq`.
fn mix(seq: u64) -> u64 {
    let mut x = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// User + system CPU time of the whole process so far, in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

/// Runs `once` (which returns the records it processed) `RUNS` times; returns the best and
/// median records per second of wall time and the best records per CPU-second.
fn measure(mut once: impl FnMut() -> u64) -> (f64, f64, f64) {
    let mut wall = Vec::new();
    let mut cpu: f64 = 0.0;
    for _ in 0..RUNS {
        let (c0, t0) = (cpu_seconds(), Instant::now());
        let n = once() as f64;
        let (secs, cpu_secs) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        wall.push(n / secs);
        if cpu_secs > 0.0 {
            cpu = cpu.max(n / cpu_secs);
        }
    }
    wall.sort_by(|a, b| b.total_cmp(a));
    (wall[0], wall[wall.len() / 2], cpu)
}

/// How many times each measurement runs.
const RUNS: usize = 3;

/// A context with a 1 s batch interval and `workers` workers.
fn context(workers: usize) -> StreamingContext {
    StreamingContext::new(
        StreamingConfig::new(Duration::from_secs(1))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .expect("context")
}

/// The value of option `--name=N`, if given.
fn opt(name: &str) -> Option<u64> {
    let prefix = format!("--{name}=");
    std::env::args().find_map(|a| a.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
}

fn sliding(quick: bool) {
    let keys = 100_000u64;
    let per_batch = opt("per-batch").unwrap_or(if quick { 20_000 } else { 100_000 });
    let batches = opt("batches").unwrap_or(if quick { 40 } else { 60 });
    println!(
        "\n## Sliding-window count by key: window 30 batches, slide 1, {keys} keys, {batches} batches of {per_batch} records"
    );
    println!("| variant | workers | records/s (best) | records/s (median) | records per CPU-s |");
    println!("|---|---|---|---|---|");
    for incremental in [true, false] {
        if opt("incremental").is_some_and(|i| (i == 1) != incremental) {
            continue;
        }
        for workers in [1, 2] {
            if opt("workers").is_some_and(|w| w != workers as u64) {
                continue;
            }
            let (best, median, cpu) = measure(|| {
                let ctx = context(workers);
                let records = ctx.generator_stream(
                    GeneratorOptions::rate(per_batch).limit(per_batch * batches),
                    move |seq| (mix(seq) % keys, 1u64),
                );
                let len = Duration::from_secs(30);
                let slide = Duration::from_secs(1);
                let windows = if incremental {
                    records.reduce_by_key_and_window_inv_filtered(
                        |a, b| a + b,
                        |a, b| a - b,
                        len,
                        slide,
                        |kv: &(u64, u64)| kv.1 > 0,
                    )
                } else {
                    records.reduce_by_key_and_window(|a, b| a + b, len, slide)
                };
                let last = Arc::new(Mutex::new(0u64));
                let seen = last.clone();
                windows.count().foreach_batch(move |_t, n| {
                    *seen.lock().unwrap() = n.first().copied().unwrap_or(0);
                });
                ctx.run_available_now().expect("run");
                let keys_in_window = *last.lock().unwrap();
                assert!(
                    keys_in_window > keys / 2,
                    "{keys_in_window} keys in the last window"
                );
                per_batch * batches
            });
            let name = if incremental {
                "incremental (inv)"
            } else {
                "recomputed"
            };
            println!("| {name} | {workers} | {best:.0} | {median:.0} | {cpu:.0} |");
        }
    }
}

fn event_time(quick: bool) {
    let keys = 1_000u64;
    let per_batch = 100_000u64;
    let total = if quick { 2_000_000 } else { 10_000_000 };
    println!(
        "\n## Event-time tumbling count per key: 1 s windows, {keys} keys, {total} events, {per_batch} per batch, up to 200 ms out of order, delay 500 ms"
    );
    println!("| workers | events/s (best) | events/s (median) | events per CPU-s | windows emitted | late |");
    println!("|---|---|---|---|---|---|");
    for workers in [1, 2] {
        if opt("workers").is_some_and(|w| w != workers as u64) {
            continue;
        }
        let mut emitted = 0;
        let mut late = 0;
        let (best, median, cpu) = measure(|| {
            let ctx = context(workers);
            // Event time advances 10 s per batch, with up to 200 ms of disorder.
            let events =
                ctx.generator_stream(GeneratorOptions::rate(per_batch).limit(total), move |seq| {
                    let r = mix(seq);
                    let ts = 1_000_000 + seq * 10_000 / per_batch + 200 - (r >> 40) % 200;
                    (r % keys, ts)
                });
            let counts = events
                .with_event_time(
                    |r: &(u64, u64)| r.1,
                    WatermarkOptions::new(Duration::from_millis(500)),
                )
                .count_by_key_and_window(WindowSpec::tumbling(Duration::from_secs(1)))
                .expect("windows");
            let windows = Arc::new(Mutex::new((0u64, 0u64)));
            let sink = windows.clone();
            counts.windows().foreach_batch(move |_t, ws| {
                let mut s = sink.lock().unwrap();
                s.0 += ws.len() as u64;
                s.1 += ws.iter().map(|w| w.2).sum::<u64>();
            });
            ctx.run_available_now().expect("run");
            let (n, counted) = *windows.lock().unwrap();
            assert_eq!(counted + counts.late_count(), total);
            (emitted, late) = (n, counts.late_count());
            total
        });
        println!("| {workers} | {best:.0} | {median:.0} | {cpu:.0} | {emitted} | {late} |");
    }
}

fn state() {
    let keys = 1_000_000u64;
    let per_batch = 100_000u64;
    println!("\n## update_state_by_key memory: {keys} keys (u64 key, u64 state), 1 worker");
    let ctx = context(1);
    let records = ctx.generator_stream(
        GeneratorOptions::rate(per_batch).limit(keys + 3 * per_batch),
        // Ten batches of new keys, then three batches touching the first keys again.
        move |seq| (seq % keys, 1u64),
    );
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let sink = sizes.clone();
    records
        .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
            Some(old.unwrap_or(0) + new.len() as u64)
        })
        .count()
        .foreach_batch(move |_t, n| {
            sink.lock()
                .unwrap()
                .push((n[0], ALLOCATED.load(Ordering::Relaxed)));
        });
    let base = ALLOCATED.load(Ordering::Relaxed);
    let start = Instant::now();
    ctx.run_available_now().expect("run");
    let secs = start.elapsed().as_secs_f64();
    let sizes = sizes.lock().unwrap();
    // The samples taken while every key is in the state (the last one may come after the
    // operator has been dropped at the end of the input).
    let bytes = sizes
        .iter()
        .filter(|(n, _)| *n == keys)
        .map(|(_, b)| *b)
        .max()
        .expect("a batch with every key");
    let n = keys;
    let held = bytes.saturating_sub(base);
    println!("| keys in state | heap held | bytes per key | batches | time |");
    println!("|---|---|---|---|---|");
    println!(
        "| {n} | {:.1} MB | {:.1} | {} | {secs:.2} s |",
        held as f64 / 1e6,
        held as f64 / n as f64,
        sizes.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let which = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("all", String::as_str);
    println!(
        "machine: {} cores available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    match which {
        "sliding" => sliding(quick),
        "event-time" => event_time(quick),
        "state" => state(),
        "all" => {
            sliding(quick);
            event_time(quick);
            state();
        }
        other => {
            eprintln!("unknown scenario `{other}`: sliding, event-time, state or all");
            std::process::exit(2);
        }
    }
}
