//! The crash test of the HTTP ingest receiver: the `http_ingest_counts` example counts the
//! records POSTed to it and is killed with SIGKILL at random moments, 20 times, while a client
//! posts known requests and retries each until it is answered 200.
//!
//! Request `i` holds `m = 1 + i % 3` copies of the record `req-i`, so the final count of
//! `req-i` tells how many times the request was stored. The guarantee checked: every request
//! answered 200 is counted (at least `m`); a request answered 200 on its first attempt is
//! counted exactly once (`m`); a retried one at most once per attempt (at-least-once for
//! retries); never a part of a request. An uninterrupted run of the same requests counts each
//! exactly once.
#![cfg(all(feature = "http", feature = "files"))]

use freshet::testing::crash::{batch_dirs, example_binary, Rng};
use freshet::testing::laws::closed_port;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;

fn spawn(bin: &Path, addr: &str, output: &Path, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(["--addr", addr])
        .args(["--output", output.to_str().unwrap()])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--batch-ms", "50", "--workers", &WORKERS.to_string()])
        .args(["--checkpoint-every", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The running counts in the files: every batch's changed records, newest batch last.
fn file_counts(out: &Path) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (_, dir) in batch_dirs(out).unwrap_or_default() {
        for p in 0..WORKERS {
            let Ok(text) = std::fs::read_to_string(dir.join(format!("part-{p:05}"))) else {
                continue;
            };
            for line in text.lines() {
                let (record, n): (String, u64) = serde_json::from_str(line).unwrap();
                counts.insert(record, n);
            }
        }
    }
    counts
}

/// How many copies request `i` holds.
fn copies(i: u64) -> u64 {
    1 + i % 3
}

/// Posts request `i` once: whether it was answered 200.
fn post(agent: &ureq::Agent, addr: &str, i: u64) -> bool {
    let body = format!("req-{i}\n").repeat(copies(i) as usize);
    agent
        .post(format!("http://{addr}/ingest"))
        .header("Content-Type", "application/x-ndjson")
        .send(body.as_bytes())
        .is_ok_and(|r| r.status().as_u16() == 200)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Waits until `done` holds of the counts, or `timeout` passes; panics if `child` exits.
fn wait_for_counts(
    out: &Path,
    child: &mut Child,
    timeout: Duration,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done(&file_counts(out)) {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the pipeline exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn killed_at_random_moments_it_counts_every_acknowledged_request() {
    let bin = example_binary("freshet-connectors", "http_ingest_counts");
    let root = tempfile::tempdir().unwrap();
    let (output, checkpoint) = (root.path().join("out"), root.path().join("ck"));
    let addr = closed_port();
    let mut rng = Rng(0x0BAD_C0FF_EE00_0042);

    // The client: request after request, each retried until it is answered 200.
    let attempts: Arc<Mutex<Vec<u64>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let client = {
        let (attempts, done, addr) = (Arc::clone(&attempts), Arc::clone(&done), addr.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let mut i = 0u64;
            while !done.load(Ordering::SeqCst) {
                attempts.lock().unwrap().push(0);
                loop {
                    attempts.lock().unwrap()[i as usize] += 1;
                    if post(&agent, &addr, i) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                i += 1;
                // A steady trickle, so that the uninterrupted run replays it quickly.
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    for kill in 0..20 {
        let mut child = spawn(&bin, &addr, &output, &checkpoint);
        std::thread::sleep(Duration::from_millis(200 + rng.below(800)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let counts = file_counts(&output);
        let sent = attempts.lock().unwrap().clone();
        for (record, n) in &counts {
            let i: u64 = record.strip_prefix("req-").unwrap().parse().unwrap();
            let tries = sent.get(i as usize).copied().unwrap_or(0);
            assert!(
                *n <= copies(i) * tries,
                "after kill {kill}: {record} counted {n} times, sent {tries} times"
            );
        }
    }

    // A last run, until the client's current request is answered and everything is counted.
    let mut child = spawn(&bin, &addr, &output, &checkpoint);
    done.store(true, Ordering::SeqCst);
    client.join().unwrap();
    let attempts = attempts.lock().unwrap().clone();
    let requests = attempts.len() as u64;
    assert!(requests > 20, "only {requests} requests were answered");
    let all_counted = |counts: &BTreeMap<String, u64>| {
        (0..requests).all(|i| counts.get(&format!("req-{i}")).copied().unwrap_or(0) >= copies(i))
    };
    let reached = wait_for_counts(&output, &mut child, Duration::from_secs(30), all_counted);
    // A few more batches, in case something would be counted again.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let counts = file_counts(&output);
    assert!(
        reached,
        "not every acknowledged request was counted: {counts:?}"
    );
    assert_eq!(counts.len() as u64, requests, "{counts:?}");
    let mut retried = 0;
    let mut twice = 0;
    for i in 0..requests {
        let n = counts[&format!("req-{i}")];
        let tries = attempts[i as usize];
        assert_eq!(n % copies(i), 0, "req-{i} counted {n}: part of a request");
        assert!(n >= copies(i), "req-{i} acknowledged but counted {n}");
        assert!(
            n <= copies(i) * tries,
            "req-{i} counted {n}, sent {tries} times"
        );
        if tries == 1 {
            assert_eq!(n, copies(i), "req-{i}, answered 200 at once, counted {n}");
        } else {
            retried += 1;
            twice += u64::from(n > copies(i));
        }
    }
    eprintln!(
        "{requests} requests; {retried} retried after a kill, {twice} of them stored twice \
         (at-least-once for retries)"
    );

    // The same requests, to a run that is never interrupted: each counted exactly once.
    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    let addr2 = closed_port();
    let mut child = spawn(&bin, &addr2, &output2, &checkpoint2);
    let agent = agent();
    for i in 0..requests {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !post(&agent, &addr2, i) {
            assert!(
                Instant::now() < deadline,
                "the uninterrupted run refused req-{i}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let expected: BTreeMap<String, u64> = (0..requests)
        .map(|i| (format!("req-{i}"), copies(i)))
        .collect();
    let reached = wait_for_counts(&output2, &mut child, Duration::from_secs(30), |c| {
        *c == expected
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reached,
        "the uninterrupted run counted {:?}",
        file_counts(&output2)
    );
    let killed: Vec<&String> = counts.keys().collect();
    let uninterrupted: Vec<&String> = expected.keys().collect();
    assert_eq!(killed, uninterrupted, "the same records");
}
