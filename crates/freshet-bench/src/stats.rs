//! Small helpers shared by the scenarios: percentiles, repeated timings, formatting and the
//! machine summary printed at the start of a run.

use std::path::PathBuf;
use std::time::Duration;

/// The value at quantile `q` (0.0..=1.0) of `sorted` (nearest rank); 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The best (largest) and the median of `samples`.
pub fn best_and_median(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let best = s.last().copied().unwrap_or(0.0);
    let median = if s.is_empty() { 0.0 } else { s[s.len() / 2] };
    (best, median)
}

/// `n` per second over `d`.
pub fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// A rate in millions with two decimals, e.g. `12.34 M`.
pub fn millions(x: f64) -> String {
    format!("{:.2} M", x / 1e6)
}

/// CPU time (user + system, all threads) this process has used so far, from `/proc/self/stat`
/// (10 ms resolution); zero where that file does not exist.
pub fn process_cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start with field 3, so utime (14) and stime (15) are the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let ticks: u64 = fields
        .by_ref()
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    // Linux reports in clock ticks of 1/100 s on every common configuration.
    Duration::from_millis(ticks * 10)
}

/// The one-minute load average, if the system tells it.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Prints the cores, the load and the allocator, so that figures can be judged.
pub fn print_machine() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "machine: {cores} cores, load average {} (global allocator: {}, {} build)",
        load_average().map_or_else(|| "unknown".to_string(), |l| format!("{l:.2}")),
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "system"
        },
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    if cfg!(debug_assertions) {
        println!("warning: debug build; run with --release for meaningful figures");
    }
}

/// Prints a warning when the load average suggests other work competes for the cores.
pub fn warn_if_busy() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if let Some(l) = load_average() {
        if l > 0.5 * cores {
            println!(
                "note: load average {l:.2} on {cores} cores: figures measured on a busy machine"
            );
        }
    }
}

/// The directory generated benchmark input goes to: `$FRESHET_BENCH_DATA`, or `bench-data`
/// under the workspace's `target` directory.
pub fn data_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FRESHET_BENCH_DATA") {
        return PathBuf::from(dir);
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::canonicalize(&target)
        .unwrap_or(target)
        .join("bench-data")
}

/// A timed run: its result, its wall time, and the CPU time of the whole process meanwhile.
pub struct Timed<A> {
    /// What the run returned.
    pub answer: A,
    /// Its wall time.
    pub wall: std::time::Duration,
    /// The process's user and system time during it.
    pub cpu: std::time::Duration,
}

/// Runs `f` once and times it.
pub fn timed<A>(f: impl FnOnce() -> anyhow::Result<A>) -> anyhow::Result<Timed<A>> {
    let cpu_start = process_cpu_time();
    let start = std::time::Instant::now();
    let answer = f()?;
    Ok(Timed {
        answer,
        wall: start.elapsed(),
        cpu: process_cpu_time().saturating_sub(cpu_start),
    })
}

/// The input directory `name` under [`data_root`], made by `generate` unless a complete copy
/// made with the same `params` is there (its `_COMPLETE` marker holds them).
pub fn generated(
    name: &str,
    params: &str,
    generate: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    let dir = data_root().join(name);
    let marker = dir.join("_COMPLETE");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == params) {
        return Ok(dir);
    }
    let start = std::time::Instant::now();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    generate(&dir)?;
    std::fs::write(&marker, params)?;
    println!(
        "generated {} in {:.1} s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// Writes file `name` of `dir` with `write`, under a hidden temporary name renamed into place
/// once complete.
pub fn write_file(
    dir: &std::path::Path,
    name: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    write(&mut out)?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, dir.join(name))
}
