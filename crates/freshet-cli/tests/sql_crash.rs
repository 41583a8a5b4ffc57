//! The crash test of streaming SQL: `freshet sql` running a windowed count with a checkpoint,
//! killed with SIGKILL at random moments while JSON files keep arriving, restarted each time,
//! must emit every window exactly once with its full count, as an uninterrupted run does.

use freshet::testing::crash::{batch_dirs, wait_for_output, Rng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QUERY: &str = "SELECT CAST(w['start'] AS BIGINT) AS s, page, count(*) AS n, sum(bytes) AS b \
                     FROM (SELECT tumble(ms, INTERVAL '1' SECOND) AS w, page, bytes FROM events) \
                     GROUP BY w, page";

/// (window start, page) → (count, bytes)
type Windows = BTreeMap<(i64, String), (i64, i64)>;

fn spawn(input: &Path, output: &Path, checkpoint: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_freshet"))
        .arg("sql")
        .args(["--source", &format!("events=json:{}", input.display())])
        .args(["--sink", &format!("json:{}", output.display())])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--event-log", "off", "--ui-addr", "off"])
        .args(["--batch-ms", "50", "--workers", "2"])
        .arg(QUERY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Writes files of events with event times that only grow, each renamed into place whole.
struct Writer {
    dir: PathBuf,
    files: u64,
    ms: i64,
    windows: Windows,
}

impl Writer {
    fn write_file(&mut self, rng: &mut Rng, events: u64) {
        let mut text = String::new();
        for _ in 0..events {
            self.ms += 1 + rng.below(120) as i64;
            let page = format!("/p{}", rng.below(3));
            let bytes = rng.below(1000) as i64;
            text.push_str(&format!(
                "{{\"ms\":{},\"page\":\"{page}\",\"bytes\":{bytes}}}\n",
                self.ms
            ));
            let w = self
                .windows
                .entry((self.ms / 1000 * 1000, page))
                .or_default();
            w.0 += 1;
            w.1 += bytes;
        }
        self.files += 1;
        let tmp = self.dir.join(format!(".f-{:06}.tmp", self.files));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.dir.join(format!("f-{:06}.json", self.files))).unwrap();
    }
}

/// Every row the sink wrote; a window written twice fails the test.
fn emitted(out: &Path) -> Option<Windows> {
    let mut rows = Windows::new();
    for (_, dir) in batch_dirs(out)? {
        for part in std::fs::read_dir(&dir).ok()?.flatten() {
            let name = part.file_name().to_string_lossy().to_string();
            if !name.ends_with(".jsonl") {
                continue;
            }
            let text = std::fs::read_to_string(part.path()).ok()?;
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let key = (
                    v["s"].as_i64().unwrap(),
                    v["page"].as_str().unwrap().to_string(),
                );
                let value = (v["n"].as_i64().unwrap(), v["b"].as_i64().unwrap());
                assert!(
                    rows.insert(key.clone(), value).is_none(),
                    "the window {key:?} was emitted twice"
                );
            }
        }
    }
    Some(rows)
}

#[test]
fn killed_at_random_moments_a_windowed_query_emits_every_window_once() {
    let root = tempfile::tempdir().unwrap();
    let (input, output, checkpoint) = (
        root.path().join("in"),
        root.path().join("out"),
        root.path().join("ck"),
    );
    std::fs::create_dir_all(&input).unwrap();
    let mut rng = Rng(0x5A1_C0DE_0000_0011);
    let mut writer = Writer {
        dir: input.clone(),
        files: 0,
        ms: 0,
        windows: Windows::new(),
    };
    writer.write_file(&mut rng, 20);

    for kill in 0..15 {
        let mut child = spawn(&input, &output, &checkpoint);
        let run_for = Duration::from_millis(150 + rng.below(600));
        let started = Instant::now();
        while started.elapsed() < run_for {
            let events = 1 + rng.below(30);
            writer.write_file(&mut rng, events);
            std::thread::sleep(Duration::from_millis(10 + rng.below(60)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever was emitted so far is a closed window with its whole count.
        for (key, value) in emitted(&output).unwrap_or_default() {
            assert_eq!(
                writer.windows.get(&key),
                Some(&value),
                "after kill {kill}: window {key:?}"
            );
        }
    }

    // An event far ahead closes every window written before it.
    let open = writer.windows.clone();
    writer.ms += 10_000;
    writer.write_file(&mut rng, 1);
    let expected = open;
    let mut child = spawn(&input, &output, &checkpoint);
    let reached = wait_for_output(
        || emitted(&output),
        &expected,
        &mut child,
        Duration::from_secs(90),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let got = emitted(&output).unwrap_or_default();
    assert!(
        reached,
        "after 15 kills: {} windows emitted, {} expected; missing {:?}",
        got.len(),
        expected.len(),
        expected
            .keys()
            .filter(|k| !got.contains_key(*k))
            .take(5)
            .collect::<Vec<_>>()
    );

    let (output2, checkpoint2) = (root.path().join("out2"), root.path().join("ck2"));
    let mut child = spawn(&input, &output2, &checkpoint2);
    let reached = wait_for_output(
        || emitted(&output2),
        &expected,
        &mut child,
        Duration::from_secs(90),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(reached, "the uninterrupted run emits the same windows");
}
