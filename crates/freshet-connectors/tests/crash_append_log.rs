//! The crash test of the files connector: the `tail_levels` example, killed with SIGKILL at
//! random moments while lines are appended to two log files (some written in two parts), must
//! never count a line twice, and must end with the same counts as an uninterrupted run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];

/// A small deterministic random generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// The example binary, (re)built so that it is never older than the code under test (a
/// no-op when `cargo test` has just built it).
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("tail_levels");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "freshet-connectors",
            "--example",
            "tail_levels",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "cannot build the tail_levels example");
    bin
}

fn spawn(bin: &Path, input: &Path, output: &Path, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(["--input", input.to_str().unwrap()])
        .args(["--output", output.to_str().unwrap()])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--batch-ms", "50", "--workers", &WORKERS.to_string()])
        .args(["--checkpoint-every", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Appends log lines and remembers how many of each level are complete.
struct Writer {
    files: Vec<PathBuf>,
    complete: BTreeMap<String, u64>,
    /// A line whose first part was written, per file.
    open: Vec<Option<String>>,
    n: u64,
}

impl Writer {
    fn append(&self, file: usize, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.files[file])
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Writes a few lines; some are left half-written, to be finished by a later call.
    fn write_some(&mut self, rng: &mut Rng) {
        for _ in 0..(1 + rng.below(6)) {
            let file = rng.below(self.files.len() as u64) as usize;
            if let Some(level) = self.open[file].take() {
                self.append(file, " rest of the line\n");
                *self.complete.entry(level).or_default() += 1;
                continue;
            }
            let level = LEVELS[rng.below(LEVELS.len() as u64) as usize].to_string();
            self.n += 1;
            let line = format!("{level} request {} took {} ms", self.n, rng.below(900));
            if rng.below(4) == 0 {
                self.append(file, &line);
                self.open[file] = Some(level);
            } else {
                self.append(file, &format!("{line}\n"));
                *self.complete.entry(level).or_default() += 1;
            }
        }
    }

    fn finish_open_lines(&mut self) {
        for file in 0..self.files.len() {
            if let Some(level) = self.open[file].take() {
                self.append(file, " end\n");
                *self.complete.entry(level).or_default() += 1;
            }
        }
    }
}

/// The counts of the newest batch directory that has every worker's part.
fn newest(out: &Path) -> Option<BTreeMap<String, u64>> {
    let mut batches: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            Some((name.strip_prefix("batch-")?.parse().ok()?, e.path()))
        })
        .collect();
    batches.sort();
    for (_, dir) in batches.iter().rev() {
        let parts: Vec<PathBuf> = (0..WORKERS)
            .map(|w| dir.join(format!("part-{w:05}")))
            .collect();
        if !parts.iter().all(|p| p.exists()) {
            continue;
        }
        let mut counts = BTreeMap::new();
        for p in parts {
            for line in std::fs::read_to_string(p).unwrap().lines() {
                let (level, n): (String, u64) = serde_json::from_str(line).unwrap();
                assert!(
                    counts.insert(level, n).is_none(),
                    "a level twice in one batch"
                );
            }
        }
        return Some(counts);
    }
    None
}

fn wait_for(out: &Path, expected: &BTreeMap<String, u64>, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if newest(out).as_ref() == Some(expected) {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the example exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn killed_at_random_moments_it_counts_every_line_exactly_once() {
    let bin = example();
    let root = tempfile::tempdir().unwrap();
    let (input, output, checkpoint) = (
        root.path().join("logs"),
        root.path().join("out"),
        root.path().join("ck"),
    );
    std::fs::create_dir_all(&input).unwrap();
    let mut rng = Rng(0x10C5_A11E_0000_0007);
    let mut writer = Writer {
        files: vec![input.join("api.log"), input.join("worker.log")],
        complete: BTreeMap::new(),
        open: vec![None, None],
        n: 0,
    };
    writer.write_some(&mut rng);

    for kill in 0..20 {
        let mut child = spawn(&bin, &input, &output, &checkpoint);
        let run_for = Duration::from_millis(80 + rng.below(500));
        let started = Instant::now();
        while started.elapsed() < run_for {
            writer.write_some(&mut rng);
            std::thread::sleep(Duration::from_millis(10 + rng.below(40)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(counts) = newest(&output) {
            for (level, n) in &counts {
                let written = writer.complete.get(level).copied().unwrap_or(0);
                assert!(
                    *n <= written,
                    "after kill {kill}: {level} counted {n} times, but only {written} complete lines were written"
                );
            }
        }
        writer.write_some(&mut rng);
    }

    writer.finish_open_lines();
    let expected = writer.complete.clone();
    let mut child = spawn(&bin, &input, &output, &checkpoint);
    let reached = wait_for(&output, &expected, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reached,
        "after 20 kills the output is {:?}, expected {expected:?}",
        newest(&output)
    );

    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    let mut child = spawn(&bin, &input, &output2, &checkpoint2);
    let reached = wait_for(&output2, &expected, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reached,
        "the uninterrupted run ended with {:?}",
        newest(&output2)
    );
}
