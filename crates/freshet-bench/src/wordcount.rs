//! Word count over generated text files.
//!
//! The input (by default 8 files of 16 MiB, lines of 8 to 16 words drawn from a Zipf-like
//! vocabulary of 50,000 words) is generated once, deterministically, under
//! [`data_root`](crate::stats::data_root)`/wordcount-*`, and reused by later runs. Before
//! measuring, every file is read once so that all runs read from the page cache.
//!
//! Measured, each `--reps` times (best and median reported, in words per second of wall time;
//! also the best words per CPU-second of the whole process, which a busy machine disturbs
//! less):
//! - a hand-written single-thread loop: read each file, `split_ascii_whitespace`, count into a
//!   `HashMap<&str, u64>` (std SipHash, and FxHash: the hasher the engine uses), merge per file;
//! - the same loop doing the textbook pipeline's work: a `String` per line, a `Vec` of owned
//!   words per line, counted into a `FxHashMap<String, u64>`;
//! - Freshet streaming: `text_file_stream_with(dir, include_existing, max_files_per_batch)`,
//!   `flat_map` to words, `map` to `(word, 1)`, `reduce_by_key(+)`, `foreach_batch` summing
//!   the counts, run available-now with 1 and with 2 workers;
//! - Freshet batch job: `Dataset::text_file(dir).flat_map(..).map(..).reduce_by_key(..).count()`
//!   (one partition, hence one worker thread, per file).

use crate::stats::{
    best_and_median, generated, millions, per_sec, timed, warn_if_busy, write_file, Timed,
};
use anyhow::{bail, Context as _};
use freshet::source::file_stream::FileStreamOptions;
use freshet::{Dataset, StreamingConfig, StreamingContext};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the word-count scenario.
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// Number of input files.
    #[arg(long, default_value_t = 8)]
    pub files: usize,
    /// Size of each input file in MiB.
    #[arg(long, default_value_t = 16)]
    pub mib: usize,
    /// Number of distinct words in the vocabulary.
    #[arg(long, default_value_t = 50_000)]
    pub vocab: usize,
    /// How many times each measurement runs.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Files per batch of the streaming runs.
    #[arg(long, default_value_t = 2)]
    pub max_files_per_batch: usize,
    /// Worker counts of the streaming runs, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// The forms of the Freshet pipeline to measure, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "textbook,collector,combine"
    )]
    pub styles: Vec<Style>,
    /// Skip the batch-job (`Dataset::text_file`) measurement.
    #[arg(long)]
    pub no_batch_job: bool,
}

/// What one counting run found: total words and, where the run knows it, distinct words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counted {
    words: u64,
    distinct: Option<u64>,
}

impl Counted {
    /// Whether `self` agrees with `reference` on everything both know.
    fn agrees_with(&self, reference: &Counted) -> bool {
        self.words == reference.words
            && match (self.distinct, reference.distinct) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// Runs the scenario and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("\n== wordcount ==");
    let dir = ensure_input(args)?;
    let files = input_files(&dir)?;
    let bytes = warm_page_cache(&files)?;
    println!(
        "input: {} files, {:.1} MiB in {}",
        files.len(),
        bytes as f64 / (1 << 20) as f64,
        dir.display()
    );
    warn_if_busy();

    let mut rows: Vec<Row> = Vec::new();
    let reference = measure(
        &mut rows,
        "hand loop, 1 thread, std HashMap (SipHash)",
        args.reps,
        || Ok(hand_count(&files, std::hash::RandomState::new())),
        None,
    )?;
    measure(
        &mut rows,
        "hand loop, 1 thread, FxHashMap",
        args.reps,
        || Ok(hand_count(&files, rustc_hash::FxBuildHasher)),
        Some(reference),
    )?;
    measure(
        &mut rows,
        "hand loop, 1 thread, owned words (FxHashMap)",
        args.reps,
        || Ok(hand_count_owned(&files)),
        Some(reference),
    )?;
    for (style, label) in [
        (Style::Textbook, "flat_map+map"),
        (Style::Collector, "flat_map_into"),
        (Style::PartitionCombine, "map_partitions combine"),
    ] {
        if !args.styles.contains(&style) {
            continue;
        }
        for &w in &args.workers {
            measure(
                &mut rows,
                &format!("freshet stream ({label}), {w} worker(s)"),
                args.reps,
                || freshet_stream_styled(&dir, w, args.max_files_per_batch, style),
                Some(reference),
            )?;
        }
    }
    if !args.no_batch_job {
        measure(
            &mut rows,
            &format!(
                "freshet batch job (Dataset, {} workers)",
                files
                    .len()
                    .min(std::thread::available_parallelism().map_or(1, |n| n.get()))
            ),
            args.reps,
            || {
                // `count()` gives the distinct words, which is checked; the total is the input's.
                let distinct = freshet_batch_job(&dir)?;
                Ok(Counted {
                    words: reference.words,
                    distinct: Some(distinct),
                })
            },
            Some(reference),
        )?;
    }

    let baseline = rows
        .iter()
        .find(|r| r.name.contains("FxHashMap"))
        .map(|r| (best_and_median(&r.wall).0, best_and_median(&r.cpu).0))
        .unwrap_or((1.0, 1.0));
    println!(
        "\n{:<48} {:>10} {:>10} {:>8} {:>12} {:>8}",
        "words/s (wall)", "best", "median", "vs Fx", "per CPU-s", "vs Fx"
    );
    for r in &rows {
        let (best, median) = best_and_median(&r.wall);
        let (cpu_best, _) = best_and_median(&r.cpu);
        println!(
            "{:<48} {:>10} {:>10} {:>7.2}x {:>12} {:>7.2}x",
            r.name,
            millions(best),
            millions(median),
            best / baseline.0,
            millions(cpu_best),
            cpu_best / baseline.1
        );
    }
    Ok(())
}

/// The samples of one measurement: words per second of wall time and per CPU-second.
struct Row {
    name: String,
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs `f` `reps` times, checks its result against `reference`, prints each run, and adds the
/// words-per-second samples to `rows` under `name`. Returns the first run's result.
fn measure(
    rows: &mut Vec<Row>,
    name: &str,
    reps: usize,
    mut f: impl FnMut() -> anyhow::Result<Counted>,
    reference: Option<Counted>,
) -> anyhow::Result<Counted> {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut first = None;
    for _ in 0..reps.max(1) {
        let Timed {
            answer: counted,
            wall: took,
            cpu: cpu_took,
        } = timed(&mut f)?;
        if let Some(r) = reference {
            if !counted.agrees_with(&r) {
                bail!("{name}: counted {counted:?}, expected {r:?}");
            }
        }
        let rate = per_sec(counted.words, took);
        println!(
            "  {name}: {:.3} s wall, {:.2} s CPU, {} words/s ({} words{})",
            took.as_secs_f64(),
            cpu_took.as_secs_f64(),
            millions(rate),
            counted.words,
            counted
                .distinct
                .map_or_else(String::new, |d| format!(", {d} distinct"))
        );
        wall.push(rate);
        cpu.push(per_sec(counted.words, cpu_took));
        first.get_or_insert(counted);
    }
    rows.push(Row {
        name: name.to_string(),
        wall,
        cpu,
    });
    Ok(first.unwrap_or(Counted {
        words: 0,
        distinct: None,
    }))
}

/// The hand-written baseline: one thread, one map of borrowed words per file, merged into a
/// map of owned words.
fn hand_count<S: BuildHasher + Clone>(files: &[PathBuf], hasher: S) -> Counted {
    let mut total: HashMap<String, u64, S> = HashMap::with_hasher(hasher.clone());
    let mut words = 0u64;
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let mut counts: HashMap<&str, u64, S> = HashMap::with_hasher(hasher.clone());
        for w in text.split_ascii_whitespace() {
            *counts.entry(w).or_insert(0) += 1;
        }
        for (w, n) in counts {
            words += n;
            match total.get_mut(w) {
                Some(c) => *c += n,
                None => {
                    total.insert(w.to_owned(), n);
                }
            }
        }
    }
    Counted {
        words,
        distinct: Some(total.len() as u64),
    }
}

/// The hand-written loop doing what the textbook pipeline asks for: a `String` per line, a
/// `Vec` of owned `String` words per line, each word counted into a map of owned words.
fn hand_count_owned(files: &[PathBuf]) -> Counted {
    use std::io::BufRead as _;
    let mut counts: rustc_hash::FxHashMap<String, u64> = Default::default();
    let mut words = 0u64;
    for file in files {
        let Ok(f) = std::fs::File::open(file) else {
            continue;
        };
        for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
            let owned: Vec<String> = line.split_ascii_whitespace().map(str::to_owned).collect();
            for w in owned {
                words += 1;
                *counts.entry(w).or_insert(0) += 1;
            }
        }
    }
    Counted {
        words,
        distinct: Some(counts.len() as u64),
    }
}

/// How the Freshet word count is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// `flat_map` (a `Vec<String>` per line) → `map((w, 1))` → `reduce_by_key`: the textbook form.
    Textbook,
    /// `flat_map_into` pushing `(w, 1)` → `reduce_by_key`: no `Vec` per line, no `map` stage.
    Collector,
    /// `map_partitions` counting each partition with borrowed `&str` keys (as the hand loop
    /// does) → `reduce_by_key`: Spark's "combine inside mapPartitions" idiom.
    #[value(name = "combine")]
    PartitionCombine,
}

/// Freshet stream word count in the given style: total words counted.
fn freshet_stream_styled(
    dir: &Path,
    workers: usize,
    files_per_batch: usize,
    style: Style,
) -> anyhow::Result<Counted> {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )?;
    let words = Arc::new(AtomicU64::new(0));
    let w = Arc::clone(&words);
    let lines = ctx.text_file_stream_with(
        dir,
        FileStreamOptions::new()
            .include_existing(true)
            .max_files_per_batch(files_per_batch),
    );
    let pairs = match style {
        Style::Textbook => lines
            .flat_map(|line: String| {
                line.split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<String>>()
            })
            .map(|w| (w, 1u64)),
        Style::Collector => lines.flat_map_into(|line: String, out: &mut Vec<(String, u64)>| {
            out.extend(line.split_ascii_whitespace().map(|w| (w.to_owned(), 1u64)))
        }),
        Style::PartitionCombine => lines.map_partitions(|lines: Vec<String>| {
            let mut counts: rustc_hash::FxHashMap<&str, u64> = Default::default();
            for line in &lines {
                for w in line.split_ascii_whitespace() {
                    *counts.entry(w).or_insert(0) += 1;
                }
            }
            counts
                .into_iter()
                .map(|(w, n)| (w.to_owned(), n))
                .collect::<Vec<_>>()
        }),
    };
    pairs
        .reduce_by_key(|a, b| a + b)
        .foreach_batch(move |_t, counts| {
            w.fetch_add(counts.iter().map(|c| c.1).sum::<u64>(), Ordering::Relaxed);
        });
    ctx.run_available_now()?;
    // Counts are per batch (a word appears in every batch it occurs in), so only the total
    // number of words is checked.
    Ok(Counted {
        words: words.load(Ordering::Relaxed),
        distinct: None,
    })
}

/// Freshet batch job: the number of distinct words.
fn freshet_batch_job(dir: &Path) -> anyhow::Result<u64> {
    Ok(Dataset::text_file(dir)?
        .flat_map(|line: String| {
            line.split_ascii_whitespace()
                .map(str::to_owned)
                .collect::<Vec<String>>()
        })
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
        .count()?)
}

/// Reads every file once so that the measured runs read from the page cache; returns the
/// total size in bytes.
fn warm_page_cache(files: &[PathBuf]) -> anyhow::Result<u64> {
    let mut total = 0;
    for f in files {
        total += std::fs::read(f)
            .with_context(|| format!("reading {}", f.display()))?
            .len() as u64;
    }
    Ok(total)
}

/// The input files of `dir` (hidden and `_`-prefixed names excepted), sorted.
pub(crate) fn input_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(".");
        if path.is_file() && !name.starts_with('.') && !name.starts_with('_') {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A small deterministic generator (SplitMix64).
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `vocab` distinct lower-case words; frequent (low-rank) words tend to be short.
fn vocabulary(vocab: usize, rng: &mut SplitMix) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(vocab);
    let mut words = Vec::with_capacity(vocab);
    while words.len() < vocab {
        let rank = words.len();
        let base = if rank < 100 {
            2
        } else if rank < 5_000 {
            4
        } else {
            5
        };
        let len = base + (rng.next() % 7) as usize;
        let w: String = (0..len)
            .map(|_| (b'a' + (rng.next() % 26) as u8) as char)
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Generates the input unless a complete copy with the same parameters is there; returns its
/// directory.
pub(crate) fn ensure_input(args: &Args) -> anyhow::Result<PathBuf> {
    let params = format!(
        "v1 files={} mib={} vocab={}",
        args.files, args.mib, args.vocab
    );
    let name = format!("wordcount-{}x{}mib-{}w", args.files, args.mib, args.vocab);
    generated(&name, &params, |dir| {
        let mut rng = SplitMix(0x5EED_F00D);
        let words = vocabulary(args.vocab, &mut rng);
        // Zipf with exponent 1: P(rank k) proportional to 1 / (k + 1).
        let mut cumulative = Vec::with_capacity(words.len());
        let mut sum = 0.0;
        for k in 0..words.len() {
            sum += 1.0 / (k + 1) as f64;
            cumulative.push(sum);
        }
        let target = (args.mib as u64) << 20;
        for i in 0..args.files {
            write_file(dir, &format!("part-{i:03}.txt"), |out| {
                let mut written = 0u64;
                let mut line = String::new();
                while written < target {
                    line.clear();
                    let n = 8 + (rng.next() % 9) as usize;
                    for j in 0..n {
                        if j > 0 {
                            line.push(' ');
                        }
                        let u = rng.unit() * sum;
                        let k = cumulative.partition_point(|&c| c < u).min(words.len() - 1);
                        line.push_str(&words[k]);
                    }
                    line.push('\n');
                    out.write_all(line.as_bytes())?;
                    written += line.len() as u64;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}
