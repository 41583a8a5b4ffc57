//! Running the examples as processes, alone or as a cluster, and reading what
//! `cluster_counts` wrote (shared by the crash and cluster tests of the core and of the CLI).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of example `name` of the `freshet` crate, (re)built so that it is never older
/// than the code under test.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug_dir = exe.parent().unwrap().parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "freshet", "--example", name])
        .status()
        .unwrap();
    assert!(status.success(), "cannot build the {name} example");
    debug_dir.join("examples").join(name)
}

/// Writes `n` text files of words into `dir`, each a second older than the next, so a file
/// stream takes them in the same order every time.
pub fn write_inputs(dir: &Path, n: usize, seed: u64) {
    write_files(dir, 0..n, seed);
}

/// Writes files number `range` (see [`write_inputs`]); a file's words depend only on `seed`
/// and its number.
pub fn write_files(dir: &Path, range: std::ops::Range<usize>, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let base = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for i in range {
        let mut x = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
        let mut text = String::new();
        for _ in 0..40 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(&format!("w{} w{} common\n", x % 23, (x >> 8) % 5));
        }
        let path = dir.join(format!("part-{i:04}.txt"));
        std::fs::write(&path, text).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(base + std::time::Duration::from_secs(i as u64))
            .unwrap();
    }
}

/// What output `kind` (`windows` or `totals`) of a run in `out` holds: per batch with any
/// line, oldest first, the sorted lines of every worker's part.
pub fn batches(out: &Path, kind: &str) -> Vec<Vec<String>> {
    let dir = out.join(kind);
    let mut all = Vec::new();
    for (_, batch) in batch_dirs(&dir) {
        let mut lines: Vec<String> = Vec::new();
        for part in std::fs::read_dir(&batch).unwrap().flatten() {
            let name = part.file_name().to_string_lossy().to_string();
            if !name.starts_with("part-") {
                continue;
            }
            let text = std::fs::read_to_string(part.path()).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
        if !lines.is_empty() {
            lines.sort();
            all.push(lines);
        }
    }
    all
}

/// The `batch-<time>` directories a file sink wrote in `dir`, oldest first.
pub fn batch_dirs(dir: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut times: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let t = name.strip_prefix("batch-")?.parse().ok()?;
            Some((t, e.path()))
        })
        .collect();
    times.sort();
    times
}

/// `n + 1` free ports on 127.0.0.1: the control port, then one data port per process.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..=n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Sets the environment of process `process` of a cluster on `ports` (see [`free_ports`]).
pub fn cluster_env(cmd: &mut Command, process: usize, ports: &[u16]) {
    let peers: Vec<String> = ports[1..]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    cmd.env("FRESHET_CLUSTER_PROCESSES", peers.len().to_string())
        .env("FRESHET_CLUSTER_PROCESS", process.to_string())
        .env("FRESHET_CLUSTER_PEERS", peers.join(","))
        .env("FRESHET_CLUSTER_CONTROL", format!("127.0.0.1:{}", ports[0]));
}

/// The arguments of a `cluster_counts` run over `input` into `out`, available-now, then
/// `extra`.
pub fn job_args(input: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--input".to_string(),
        input.to_str().unwrap().to_string(),
        "--output".to_string(),
        out.to_str().unwrap().to_string(),
        "--available-now".to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// A command without any cluster variables inherited from the test's environment.
pub fn alone(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for v in [
        "FRESHET_CLUSTER_PROCESSES",
        "FRESHET_CLUSTER_PROCESS",
        "FRESHET_CLUSTER_PEERS",
        "FRESHET_CLUSTER_CONTROL",
        "FRESHET_CLUSTER_HOSTS_FILE",
    ] {
        cmd.env_remove(v);
    }
    cmd
}
