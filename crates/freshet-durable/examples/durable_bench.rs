//! Prints the storage layer's figures: WAL write throughput per fsync policy, and checkpoint
//! write/read time and size for 1 million keys of state (u64 key, u64 value).
//!
//! ```text
//! CARGO_TARGET_DIR=target/bench cargo run --release -p freshet-durable --example durable_bench [DIR]
//! ```
//!
//! `DIR` (default: the system temporary directory) must be on the disk to measure.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use freshet_durable::checkpoint::{CheckpointId, CheckpointStore, FsCheckpointStore, Manifest};
use freshet_durable::wal::{FsyncPolicy, LogWriter, WalConfig, WalWriter};

const MIB: f64 = 1024.0 * 1024.0;

fn wal_run(base: &std::path::Path, fsync: FsyncPolicy, block: usize) -> (f64, f64, u64) {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let mut w = WalWriter::open(
        dir.path(),
        WalConfig {
            segment_size: 64 << 20,
            fsync,
        },
    )
    .expect("open wal");
    let data: Vec<u8> = (0..block).map(|i| (i * 31) as u8).collect();
    let max_bytes: u64 = 512 << 20;
    let budget = Duration::from_secs(3);
    let start = Instant::now();
    let mut written = 0u64;
    let mut records = 0u64;
    while written < max_bytes && start.elapsed() < budget {
        w.append(&data).expect("append");
        written += block as u64;
        records += 1;
    }
    w.sync().expect("sync");
    let secs = start.elapsed().as_secs_f64();
    (written as f64 / MIB / secs, records as f64 / secs, records)
}

fn encode_state(keys: u64, workers: usize) -> Vec<Vec<u8>> {
    let mut parts = vec![Vec::with_capacity((keys as usize / workers) * 16); workers];
    for k in 0..keys {
        let w = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % workers;
        parts[w].extend_from_slice(&k.to_le_bytes());
        parts[w].extend_from_slice(&(k * 3 + 1).to_le_bytes());
    }
    parts
}

fn checkpoint_run(base: &std::path::Path, keys: u64, workers: usize) {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let store = FsCheckpointStore::open(dir.path(), 2).expect("store");

    let t = Instant::now();
    let parts = encode_state(keys, workers);
    let encode = t.elapsed();

    let t = Instant::now();
    let mut m = Manifest::new(CheckpointId(1), "bench", 1000);
    for (w, bytes) in parts.iter().enumerate() {
        m.parts
            .push(store.put_part(CheckpointId(1), w, bytes).expect("put_part"));
    }
    store.commit(&m).expect("commit");
    let write = t.elapsed();

    let size: u64 = std::fs::read_dir(store.checkpoint_dir(CheckpointId(1)))
        .expect("list")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();

    let t = Instant::now();
    let loaded = store.latest().expect("latest").expect("a checkpoint");
    let read = t.elapsed();

    let t = Instant::now();
    let mut sum = 0u64;
    let mut n = 0u64;
    for p in &loaded.parts {
        for kv in p.chunks_exact(16) {
            let k = u64::from_le_bytes(kv[..8].try_into().expect("8 bytes"));
            let v = u64::from_le_bytes(kv[8..].try_into().expect("8 bytes"));
            sum = sum.wrapping_add(k ^ v);
            n += 1;
        }
    }
    let decode = t.elapsed();
    assert_eq!(n, keys);
    std::hint::black_box(sum);

    println!(
        "| {keys} | {workers} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        size as f64 / MIB,
        encode.as_secs_f64() * 1e3,
        write.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
        decode.as_secs_f64() * 1e3,
    );
}

fn main() {
    let base: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).expect("bench dir");
    println!("directory: {}", base.display());
    println!();
    println!("WAL append throughput (3 s or 512 MiB per run, 64 MiB segments)");
    println!();
    println!("| fsync policy | block | MB/s | blocks/s |");
    println!("|---|---|---|---|");
    let policies = [
        ("every record", FsyncPolicy::EveryRecord),
        (
            "every 10 ms",
            FsyncPolicy::Interval(Duration::from_millis(10)),
        ),
        (
            "every 100 ms",
            FsyncPolicy::Interval(Duration::from_millis(100)),
        ),
        ("never", FsyncPolicy::Never),
    ];
    for block in [4 << 10, 64 << 10, 1 << 20] {
        for (name, policy) in policies {
            let (mbs, rps, _) = wal_run(&base, policy, block);
            println!("| {name} | {} KiB | {mbs:.1} | {rps:.0} |", block >> 10);
        }
    }
    println!();
    println!("Checkpoint of u64 -> u64 state (16 bytes per key), written, committed, read back");
    println!();
    println!(
        "| keys | workers | size MiB | encode ms | write+commit ms | latest() ms | decode ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workers in [1, 4] {
        checkpoint_run(&base, 1_000_000, workers);
    }
}
