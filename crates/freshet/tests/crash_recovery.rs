//! The exactly-once check: the `exactly_once` example, killed with SIGKILL at random moments
//! and restarted, must end with the same output as an uninterrupted run, and after every kill
//! its newest batch must hold the counts over exactly the files consumed so far.

mod run_example;

use run_example::{batch_dirs, example};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const WORDS: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu",
];

/// A small deterministic random generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn example_binary() -> PathBuf {
    example("exactly_once")
}

fn spawn(bin: &Path, input: &Path, output: &Path, checkpoint: &Path) -> Child {
    spawn_example(
        bin,
        &["--input", input.to_str().unwrap()],
        output,
        checkpoint,
    )
}

/// Starts an example with `first` arguments, then the output and checkpoint directories, 50 ms
/// batches, `WORKERS` workers and a checkpoint every 3 batches.
fn spawn_example(bin: &Path, first: &[&str], output: &Path, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(first)
        .args(["--output", output.to_str().unwrap()])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args([
            "--batch-ms",
            "50",
            "--workers",
            &WORKERS.to_string(),
            "--checkpoint-every",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Writes file number `i` atomically (temporary hidden name, then rename) and returns its words.
fn write_file(dir: &Path, i: usize, rng: &mut Rng) -> Vec<String> {
    let mut words = Vec::new();
    let mut text = String::new();
    for _ in 0..(5 + rng.below(20)) {
        for _ in 0..(1 + rng.below(8)) {
            let w = WORDS[rng.below(WORDS.len() as u64) as usize];
            text.push_str(w);
            text.push(' ');
            words.push(w.to_string());
        }
        text.push('\n');
    }
    let tmp = dir.join(format!(".f{i:04}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(format!("f{i:04}.txt"))).unwrap();
    // Distinct modification times keep the consumption order the creation order.
    std::thread::sleep(Duration::from_millis(2));
    words
}

fn counts(files: &[Vec<String>]) -> BTreeMap<String, u64> {
    let mut c = BTreeMap::new();
    for f in files {
        for w in f {
            *c.entry(w.clone()).or_insert(0) += 1;
        }
    }
    c
}

/// The counts in the newest batch directory that has every worker's part.
fn newest_output(out: &Path) -> Option<BTreeMap<String, u64>> {
    newest_batch(out)
}

/// The `key<TAB>count` lines of the newest batch directory that has every worker's part.
fn newest_batch(out: &Path) -> Option<BTreeMap<String, u64>> {
    let batches = batch_dirs(out);
    for (_, dir) in batches.iter().rev() {
        let parts: Vec<PathBuf> = (0..WORKERS)
            .map(|w| dir.join(format!("part-{w:05}")))
            .collect();
        if !parts.iter().all(|p| p.exists()) {
            continue;
        }
        let mut c = BTreeMap::new();
        for p in parts {
            for line in std::fs::read_to_string(p).unwrap().lines() {
                let (w, n) = line.split_once('\t').expect("word<TAB>count");
                assert!(
                    c.insert(w.to_string(), n.parse().unwrap()).is_none(),
                    "{w} twice in one batch"
                );
            }
        }
        return Some(c);
    }
    None
}

fn wait_for(out: &Path, expected: &BTreeMap<String, u64>, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if newest_output(out).as_ref() == Some(expected) {
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
fn killed_at_random_moments_it_counts_every_file_exactly_once() {
    let bin = example_binary();
    let root = tempfile::tempdir().unwrap();
    let (input, output, checkpoint) = (
        root.path().join("in"),
        root.path().join("out"),
        root.path().join("ck"),
    );
    std::fs::create_dir_all(&input).unwrap();
    let mut rng = Rng(0x5EED_1234_ABCD_0042);
    let mut files: Vec<Vec<String>> = Vec::new();
    for i in 0..5 {
        files.push(write_file(&input, i, &mut rng));
    }

    for kill in 0..20 {
        let mut child = spawn(&bin, &input, &output, &checkpoint);
        let run_for = Duration::from_millis(80 + rng.below(500));
        let started = Instant::now();
        // Files keep arriving while the job runs, and some while it is down.
        while started.elapsed() < run_for {
            if rng.below(3) == 0 {
                let i = files.len();
                files.push(write_file(&input, i, &mut rng));
            }
            std::thread::sleep(Duration::from_millis(20 + rng.below(60)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(newest) = newest_output(&output) {
            let consistent = (0..=files.len()).any(|k| counts(&files[..k]) == newest);
            assert!(
                consistent,
                "after kill {kill}, the newest batch is not the count of a prefix of the {} files: {newest:?}",
                files.len()
            );
        }
        if rng.below(2) == 0 {
            let i = files.len();
            files.push(write_file(&input, i, &mut rng));
        }
    }

    // The last run sees every file; its newest batch must count each exactly once.
    let expected = counts(&files);
    let mut child = spawn(&bin, &input, &output, &checkpoint);
    let reached = wait_for(&output, &expected, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reached,
        "after 20 kills the output is {:?}, expected {expected:?}",
        newest_output(&output)
    );

    // An uninterrupted run over the same files gives the same counts.
    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    let mut child = spawn(&bin, &input, &output2, &checkpoint2);
    let reached = wait_for(&output2, &expected, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reached,
        "the uninterrupted run ended with {:?}",
        newest_output(&output2)
    );
}

/// The sender of the receiver crash test: pushes `seq<TAB>text` lines, resends from the first
/// unacknowledged record after every reconnect, and counts how often each record was sent.
struct Sender {
    addr: String,
    total: u64,
    acked: u64,
    times_sent: Vec<u32>,
}

impl Sender {
    /// Sends until everything is acknowledged or `deadline`; reconnects when the receiver dies.
    fn run(&mut self, deadline: Instant) {
        use std::io::{BufRead, BufReader, Write};
        while self.acked < self.total && Instant::now() < deadline {
            let Ok(stream) = std::net::TcpStream::connect(&self.addr) else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            'connection: while self.acked < self.total && Instant::now() < deadline {
                let end = (self.acked + 10).min(self.total);
                let mut chunk = String::new();
                for seq in self.acked..end {
                    chunk.push_str(&format!("{seq}\tpayload-{seq}\n"));
                    self.times_sent[seq as usize] += 1;
                }
                if writer.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                // Wait for the acknowledgement of this chunk.
                while self.acked < end {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break 'connection,
                        Ok(_) => {
                            if let Some(n) = line
                                .trim()
                                .strip_prefix("ack ")
                                .and_then(|n| n.parse::<u64>().ok())
                            {
                                self.acked = self.acked.max(n + 1);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_reliable_receiver_killed_at_random_moments_counts_every_acknowledged_record_once() {
    let bin = example("reliable_receiver");
    let root = tempfile::tempdir().unwrap();
    let (output, checkpoint) = (root.path().join("out"), root.path().join("ck"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let spawn_receiver = || spawn_example(&bin, &["--listen", &addr], &output, &checkpoint);
    const TOTAL: u64 = 1500;
    let sender = std::sync::Arc::new(std::sync::Mutex::new(Sender {
        addr: addr.clone(),
        total: TOTAL,
        acked: 0,
        times_sent: vec![0; TOTAL as usize],
    }));
    let pusher = {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let mut s = sender.lock().unwrap();
                s.run(Instant::now() + Duration::from_millis(200));
                if s.acked >= s.total || Instant::now() > deadline {
                    break;
                }
                drop(s);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut rng = Rng(0xFEED_BEEF_0123_4567);
    for _ in 0..20 {
        let mut child = spawn_receiver();
        std::thread::sleep(Duration::from_millis(60 + rng.below(400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let mut child = spawn_receiver();
    pusher.join().unwrap();
    let sender = sender.lock().unwrap();
    assert_eq!(
        sender.acked, TOTAL,
        "the sender could not deliver everything"
    );

    // Wait for a batch that counts every record.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut newest = None;
    while Instant::now() < deadline {
        newest = newest_batch(&output);
        if newest.as_ref().is_some_and(|c| c.len() as u64 == TOTAL) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let counts = newest.expect("no output");
    let resent = sender.times_sent.iter().filter(|n| **n > 1).count();
    for seq in 0..TOTAL {
        let counted = counts.get(&seq.to_string()).copied().unwrap_or(0);
        let sent = sender.times_sent[seq as usize] as u64;
        assert!(counted >= 1, "acknowledged record {seq} was lost");
        assert!(
            counted <= sent,
            "record {seq} counted {counted} times but sent {sent} times"
        );
        if sent == 1 {
            assert_eq!(
                counted, 1,
                "record {seq} was sent once and counted {counted} times"
            );
        }
    }
    eprintln!("{resent} of {TOTAL} records were resent after a crash");
}

/// The batch time of the newest complete checkpoint in `checkpoint`.
fn newest_checkpoint_time(checkpoint: &Path) -> Option<u64> {
    freshet_durable::describe(checkpoint.join("checkpoints"))
        .ok()?
        .into_iter()
        .filter(|c| c.status == freshet_durable::CheckpointStatus::Complete)
        .filter_map(|c| c.manifest.map(|m| m.batch_time))
        .max()
}

#[test]
fn sigterm_stops_gracefully_with_a_last_checkpoint_and_exit_status_0() {
    let bin = example_binary();
    let root = tempfile::tempdir().unwrap();
    let (input, output, checkpoint) = (
        root.path().join("in"),
        root.path().join("out"),
        root.path().join("ck"),
    );
    std::fs::create_dir_all(&input).unwrap();
    let mut rng = Rng(0x7E57_0000_0000_0015);
    let files: Vec<Vec<String>> = (0..4).map(|i| write_file(&input, i, &mut rng)).collect();
    let mut child = spawn(&bin, &input, &output, &checkpoint);
    assert!(
        wait_for(&output, &counts(&files), &mut child),
        "the job did not count the files"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "a SIGTERM ends the job with status 0");
    // The last checkpoint covers every batch: the batch log holds nothing to replay.
    let log = freshet_durable::BatchLog::read(checkpoint.join("batches")).unwrap();
    assert!(
        log.entries.values().all(|e| e.completed),
        "batches left to replay after a graceful stop"
    );
    let newest_batch = log.entries.keys().max().copied();
    assert!(newest_checkpoint_time(&checkpoint) >= newest_batch);
}
