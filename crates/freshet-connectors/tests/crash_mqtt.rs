//! The crash test of the MQTT reliable receiver: the `mqtt_word_counts` example is killed with
//! SIGKILL at random moments, 20 times, while messages `ID WORD` are published with QoS 1 to
//! the local Mosquitto. The broker redelivers what was stored but not acknowledged; the
//! pipeline drops repeated ids. The final counts must equal the messages the broker
//! acknowledged to the publisher, each counted once, and the counts of a run that is never
//! interrupted (a second persistent session subscribed from the start).
#![cfg(all(feature = "mqtt", feature = "files"))]

mod mqtt_client;
mod services;

use freshet::testing::crash::{batch_dirs, example_binary, wait_for_output, Rng};
use mqtt_client::{close_session, open_session, publish, unique};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const WORDS: [&str; 5] = ["amber", "basalt", "chalk", "flint", "slate"];

fn spawn(bin: &Path, client_id: &str, topic: &str, output: &Path, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(["--broker", mqtt_client::BROKER, "--client-id", client_id])
        .args(["--topic", topic])
        .args(["--output", output.to_str().unwrap()])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--batch-ms", "50", "--workers", &WORKERS.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The running counts in the files: every batch's changed words, newest batch last.
fn file_counts(out: &Path) -> Option<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for (_, dir) in batch_dirs(out)? {
        for p in 0..WORKERS {
            let Ok(text) = std::fs::read_to_string(dir.join(format!("part-{p:05}"))) else {
                continue;
            };
            for line in text.lines() {
                let (word, n): (String, u64) = serde_json::from_str(line).unwrap();
                counts.insert(word, n);
            }
        }
    }
    Some(counts)
}

/// Publishes messages with fresh ids and counts the words the broker acknowledged.
struct Publisher {
    topic: String,
    next_id: u64,
    acknowledged: BTreeMap<String, u64>,
}

impl Publisher {
    fn publish_some(&mut self, rng: &mut Rng) {
        let mut payloads = Vec::new();
        let mut words = Vec::new();
        for _ in 0..(1 + rng.below(3)) {
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            self.next_id += 1;
            payloads.push(format!("m{} {word}", self.next_id).into_bytes());
            words.push(word);
        }
        // Returns once the broker acknowledged every message.
        publish(&self.topic, &payloads);
        for w in words {
            *self.acknowledged.entry(w.to_string()).or_default() += 1;
        }
    }
}

#[test]
fn killed_at_random_moments_it_counts_every_acknowledged_message_once() {
    let bin = example_binary("freshet-connectors", "mqtt_word_counts");
    let root = tempfile::tempdir().unwrap();
    let topic = unique("crash-words");
    let (killed_id, steady_id) = (unique("crash-killed"), unique("crash-steady"));
    // Both sessions exist before the first message, so the broker keeps every message for both.
    open_session(&killed_id, &[&topic]);
    open_session(&steady_id, &[&topic]);
    let (output, checkpoint) = (root.path().join("out"), root.path().join("ck"));
    let mut rng = Rng(0x000A_7711_C0DE_0014);
    let mut publisher = Publisher {
        topic: topic.clone(),
        next_id: 0,
        acknowledged: BTreeMap::new(),
    };
    publisher.publish_some(&mut rng);

    for kill in 0..20 {
        let mut child = spawn(&bin, &killed_id, &topic, &output, &checkpoint);
        let run_for = Duration::from_millis(300 + rng.below(700));
        let started = Instant::now();
        while started.elapsed() < run_for {
            publisher.publish_some(&mut rng);
            std::thread::sleep(Duration::from_millis(30 + rng.below(50)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(counts) = file_counts(&output) {
            for (word, n) in &counts {
                let acked = publisher.acknowledged.get(word).copied().unwrap_or(0);
                assert!(
                    *n <= acked,
                    "after kill {kill}: {word} counted {n} times, but acknowledged {acked} times"
                );
            }
        }
        publisher.publish_some(&mut rng);
    }

    let expected = publisher.acknowledged.clone();
    let run = |client_id: &str, output: &Path, checkpoint: &Path| {
        let mut child = spawn(&bin, client_id, &topic, output, checkpoint);
        let reached = wait_for_output(
            || file_counts(output),
            &expected,
            &mut child,
            Duration::from_secs(60),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            reached,
            "{client_id} counted {:?}, expected {expected:?}",
            file_counts(output)
        );
    };
    run(&killed_id, &output, &checkpoint);
    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    run(&steady_id, &output2, &checkpoint2);
    close_session(&killed_id);
    close_session(&steady_id);
}
