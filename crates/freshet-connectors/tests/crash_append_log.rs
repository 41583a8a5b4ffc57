//! The crash test of the files connector: the `tail_levels` example, killed with SIGKILL at
//! random moments while lines are appended to two log files (some written in two parts), must
//! never count a line twice, and must end with the same counts as an uninterrupted run.

use freshet::testing::crash::{example_binary, newest_complete_batch, wait_for_output, Rng};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];

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

/// The counts of the newest batch every worker wrote.
fn newest(out: &Path) -> Option<BTreeMap<String, u64>> {
    let (_, parts) = newest_complete_batch(out, WORKERS)?;
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
    Some(counts)
}

fn wait_for(out: &Path, expected: &BTreeMap<String, u64>, child: &mut Child) -> bool {
    wait_for_output(|| newest(out), expected, child, Duration::from_secs(60))
}

#[test]
fn killed_at_random_moments_it_counts_every_line_exactly_once() {
    let bin = example_binary("freshet-connectors", "tail_levels");
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
