//! A keyed, windowed job as 3 processes under `freshet cluster run`, one process killed with
//! SIGKILL at random moments: the supervisor restarts the job as a whole, it recovers from its
//! checkpoint, and its output ends equal to an uninterrupted run's.

#[path = "../../freshet/tests/run_example/mod.rs"]
mod run_example;

use run_example::{alone, batches, example, free_ports, job_args, write_inputs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many times a process of the job is killed.
const KILLS: usize = 10;

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

/// The processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (name) state ppid ...`: the name may hold spaces, so read after its `)`.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && state != "Z" {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_process_killed_at_random_moments_under_the_supervisor_loses_and_repeats_nothing() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 300, 0xC1A5_7E55);
    let job = |out: &std::path::Path| job_args(&input, out, &["--files-per-batch", "1"]);

    // The uninterrupted run, in one process.
    let reference = root.path().join("reference");
    let status = alone(&bin).args(job(&reference)).status().unwrap();
    assert!(status.success());

    let out = root.path().join("out");
    let ck = root.path().join("ck");
    let ports = free_ports(3);
    let mut supervisor: Child = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(["cluster", "run", "--processes", "3", "--base-port"])
        .arg(ports[0].to_string())
        .args(["--max-restarts", "100", "--restart-delay-ms", "0", "--"])
        .arg(&bin)
        .args(job(&out))
        .args(["--checkpoint", ck.to_str().unwrap()])
        .args(["--checkpoint-every", "3", "--pause-ms", "20"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(root.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();

    let mut rng = Rng(0x5EED_C1A5);
    for kill in 0..KILLS {
        std::thread::sleep(Duration::from_millis(300 + rng.below(1700)));
        if let Some(status) = supervisor.try_wait().unwrap() {
            panic!("the job ended ({status}) after only {kill} kills: give it more input");
        }
        let children = children_of(supervisor.id());
        if children.is_empty() {
            continue;
        }
        let victim = children[rng.below(children.len() as u64) as usize];
        // SIGKILL; a child that ended meanwhile is not an error.
        // SAFETY: `kill` has no memory effects; the pid is a child of the supervisor.
        unsafe {
            libc::kill(victim as libc::pid_t, libc::SIGKILL);
        }
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = supervisor.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            supervisor.kill().unwrap();
            panic!("the job did not finish after the kills");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(root.path().join("stderr")).unwrap();
    let restarts: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("freshet cluster:"))
        .collect();
    assert!(status.success(), "the supervisor gave up: {status}: {err}");
    assert!(
        restarts.len() >= KILLS,
        "{} restarts for {KILLS} kills: {restarts:?}",
        restarts.len()
    );
    for kind in ["totals", "windows"] {
        let (expected, got) = (batches(&reference, kind), batches(&out, kind));
        assert!(expected.len() > 100, "{} {kind} batches", expected.len());
        assert_eq!(
            got.len(),
            expected.len(),
            "{kind}: {} batches after {KILLS} kills, {} uninterrupted",
            got.len(),
            expected.len()
        );
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{kind} batch {i} differs after {KILLS} kills");
        }
    }
}
