//! Pieces of a crash test: a pipeline run as a child process, killed with SIGKILL at random
//! moments while data keeps arriving, restarted from its checkpoint, and compared with an
//! uninterrupted run. See `crates/freshet-connectors/tests/crash_append_log.rs` for one put
//! together.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A small deterministic random generator (xorshift64*), so that a failing crash test
/// reproduces with the same seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The path of example `example` of package `package`, built now (a no-op when it is up to
/// date) so that it is never older than the code under test. Call it from an integration test
/// of the same workspace.
pub fn example_binary(package: &str, example: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let target = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", package, "--example", example])
        .status()
        .expect("run cargo");
    assert!(status.success(), "cannot build the {example} example");
    target.join("examples").join(example)
}

/// The `<out>/batch-<time>/` directories a file sink wrote, oldest first, with their times
/// (`None` while `out` does not exist).
pub fn batch_dirs(out: &Path) -> Option<Vec<(u64, PathBuf)>> {
    let mut batches: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            Some((name.strip_prefix("batch-")?.parse().ok()?, e.path()))
        })
        .collect();
    batches.sort();
    Some(batches)
}

/// The part files of the newest `<out>/batch-<time>/` directory that has all `partitions` of
/// them (`part-00000`, ...), with its time: the newest batch a sink wrote completely.
pub fn newest_complete_batch(out: &Path, partitions: usize) -> Option<(u64, Vec<PathBuf>)> {
    batch_dirs(out)?.into_iter().rev().find_map(|(t, dir)| {
        let parts: Vec<PathBuf> = (0..partitions)
            .map(|p| dir.join(format!("part-{p:05}")))
            .collect();
        parts.iter().all(|p| p.exists()).then_some((t, parts))
    })
}

/// Waits until `read` returns `expected` (true), or `timeout` passes (false). Panics if `child`
/// exits meanwhile: a pipeline that should keep running stopped.
pub fn wait_for_output<T: PartialEq>(
    read: impl Fn() -> Option<T>,
    expected: &T,
    child: &mut Child,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if read().as_ref() == Some(expected) {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the pipeline exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
