//! The crash test of the Kafka connector: the `kafka_wordcount` example reads lines from a
//! Kafka topic served by another process (the `kafka_mock_cluster` example), and is killed
//! with SIGKILL at random moments, 20 times, while a producer writes a known set of lines. The
//! final counts, in files and in the output topic, must equal those of an uninterrupted run,
//! and no batch may be written with different contents twice.
#![cfg(all(feature = "kafka", feature = "files"))]

use freshet::testing::crash::{batch_dirs, example_binary, wait_for_output, Rng};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const PARTITIONS: i32 = 3;
const WORDS: [&str; 6] = ["ash", "birch", "cedar", "elm", "fir", "oak"];

/// The mock cluster's process; killed when dropped.
struct Broker {
    child: Child,
    _stdin: ChildStdin,
    servers: String,
}

impl Broker {
    fn start() -> Broker {
        let bin = example_binary("freshet-connectors", "kafka_mock_cluster");
        let mut child = Command::new(bin)
            .args(["--topic", &format!("lines:{PARTITIONS}")])
            .args(["--topic", &format!("counts:{PARTITIONS}")])
            .args(["--topic", &format!("counts-again:{PARTITIONS}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the mock cluster");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let servers = line
            .trim()
            .strip_prefix("bootstrap.servers=")
            .unwrap_or_else(|| panic!("the mock cluster said {line:?}"))
            .to_string();
        Broker {
            child,
            _stdin: stdin,
            servers,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &Path, brokers: &str, topic: &str, output: &Path, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(["--brokers", brokers])
        .args(["--input-topic", "lines", "--output-topic", topic])
        .args(["--output", output.to_str().unwrap()])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--batch-ms", "50", "--workers", &WORKERS.to_string()])
        .args(["--checkpoint-every", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Produces lines of random words and remembers how often each word was written.
struct Lines {
    producer: BaseProducer,
    counts: BTreeMap<String, u64>,
}

impl Lines {
    fn write_some(&mut self, rng: &mut Rng) {
        for _ in 0..(1 + rng.below(5)) {
            let words: Vec<&str> = (0..1 + rng.below(4))
                .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                .collect();
            for w in &words {
                *self.counts.entry(w.to_string()).or_default() += 1;
            }
            let line = words.join(" ");
            let partition = rng.below(PARTITIONS as u64) as i32;
            self.producer
                .send(
                    BaseRecord::<(), _>::to("lines")
                        .partition(partition)
                        .payload(&line),
                )
                .unwrap();
        }
        self.producer.flush(Duration::from_secs(10)).unwrap();
    }
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

/// Every record of the output topic: `(batch time, word) → counts written`.
fn topic_records(brokers: &str, topic: &str) -> BTreeMap<(i64, String), Vec<u64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "checker")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut records: BTreeMap<(i64, String), Vec<u64>> = BTreeMap::new();
    let mut ended = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ended < PARTITIONS && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let word = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let n: u64 = std::str::from_utf8(m.payload().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                let Timestamp::CreateTime(t) = m.timestamp() else {
                    panic!("a record without its batch time");
                };
                records.entry((t, word)).or_default().push(n);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => ended += 1,
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    assert_eq!(ended, PARTITIONS, "{topic} was not read to its end");
    records
}

/// The newest count of every word in the topic, after checking that every copy of a batch's
/// record holds the same count (a replayed batch is the same batch).
fn topic_counts(records: &BTreeMap<(i64, String), Vec<u64>>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for ((t, word), copies) in records {
        assert!(
            copies.windows(2).all(|w| w[0] == w[1]),
            "batch {t} wrote {word} with different counts: {copies:?}"
        );
        counts.insert(word.clone(), copies[0]);
    }
    counts
}

#[test]
fn killed_at_random_moments_it_counts_every_line_exactly_once() {
    let broker = Broker::start();
    let brokers = broker.servers.clone();
    let bin = example_binary("freshet-connectors", "kafka_wordcount");
    let root = tempfile::tempdir().unwrap();
    let (output, checkpoint) = (root.path().join("out"), root.path().join("ck"));
    let mut rng = Rng(0x0CAF_CA00_0000_0013);
    let mut lines = Lines {
        producer: ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "0")
            .create()
            .unwrap(),
        counts: BTreeMap::new(),
    };
    lines.write_some(&mut rng);

    for kill in 0..20 {
        let mut child = spawn(&bin, &brokers, "counts", &output, &checkpoint);
        let run_for = Duration::from_millis(250 + rng.below(900));
        let started = Instant::now();
        while started.elapsed() < run_for {
            lines.write_some(&mut rng);
            std::thread::sleep(Duration::from_millis(10 + rng.below(40)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(counts) = file_counts(&output) {
            for (word, n) in &counts {
                let written = lines.counts.get(word).copied().unwrap_or(0);
                assert!(
                    *n <= written,
                    "after kill {kill}: {word} counted {n} times, but written {written} times"
                );
            }
        }
        lines.write_some(&mut rng);
    }

    let expected = lines.counts.clone();
    let run = |topic: &str, output: &Path, checkpoint: &Path| {
        let mut child = spawn(&bin, &brokers, topic, output, checkpoint);
        let reached = wait_for_output(
            || file_counts(output),
            &expected,
            &mut child,
            Duration::from_secs(60),
        );
        // The two outputs of a batch are written one after the other: the topic may still be
        // behind the files.
        let committed = reached
            && wait_for_output(
                || Some(topic_counts(&topic_records(&brokers, topic))),
                &expected,
                &mut child,
                Duration::from_secs(60),
            );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            reached,
            "the files of {topic} hold {:?}, expected {expected:?}",
            file_counts(output)
        );
        assert!(
            committed,
            "the topic {topic} does not hold the expected counts"
        );
    };
    run("counts", &output, &checkpoint);
    let killed = topic_records(&brokers, "counts");
    let batches: std::collections::BTreeSet<i64> = killed.keys().map(|(t, _)| *t).collect();
    let rewritten = killed.values().filter(|c| c.len() > 1).count();
    eprintln!(
        "the killed runs wrote {} batches to the topic; {rewritten} of {} records were written \
         again by replays (visible here: the mock cluster shows aborted transactions)",
        batches.len(),
        killed.len()
    );
    assert_eq!(topic_counts(&killed), expected, "the output topic's counts");

    // The same lines, read by a run that is never interrupted.
    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    run("counts-again", &output2, &checkpoint2);
    let again = topic_records(&brokers, "counts-again");
    assert_eq!(topic_counts(&again), expected);
    assert!(
        again.values().all(|copies| copies.len() == 1),
        "an uninterrupted run wrote a batch twice"
    );
}
