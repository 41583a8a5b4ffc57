//! The connector laws, and the behaviour at the edges of lines and files.

use super::*;
use freshet::testing::laws::{check_direct_source, check_sink_idempotent, LawOptions};
use freshet::testing::BatchStepper;
use freshet::{BatchTime, StreamingConfig};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The directory the law test appends to between batches (a `fn` pointer cannot capture).
static LAW_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

fn grow(batch: usize) {
    let dir = LAW_DIR.lock().unwrap().clone().unwrap();
    append(&dir.join("a.log"), &format!("a{batch}-1\na{batch}-2\n"));
    if batch.is_multiple_of(2) {
        // A line written in two parts: only whole lines are taken.
        append(&dir.join("b.log"), &format!("b{batch}\npartial-{batch}"));
        append(&dir.join("b.log"), "-done\n");
    }
}

use std::path::PathBuf;

#[test]
fn the_append_log_source_passes_the_direct_source_laws() {
    let dir = tempfile::tempdir().unwrap();
    *LAW_DIR.lock().unwrap() = Some(dir.path().to_path_buf());
    let options = LawOptions {
        between_batches: Some(grow),
        ..LawOptions::default()
    };
    let path = dir.path().to_path_buf();
    let small = AppendLogOptions {
        max_bytes_per_file: 1024,
    };
    check_direct_source(
        || AppendLogSource::with_options(&path, small.clone()),
        &options,
    )
    .unwrap();
}

#[test]
fn the_json_lines_sink_passes_the_sink_law() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::new(dir.path()).sync(false);
    let batches = vec![
        (
            BatchTime(100),
            vec![vec![("a", 1)], vec![("b", 2), ("c", 3)]],
        ),
        (BatchTime(200), vec![vec![], vec![("d", 4)]]),
    ];
    let read_back = || {
        let mut files = Vec::new();
        for t in [100, 200] {
            for p in 0..2 {
                let path = sink.batch_dir(BatchTime(t)).join(format!("part-{p:05}"));
                files.push(std::fs::read_to_string(path).unwrap_or_default());
            }
        }
        files
    };
    check_sink_idempotent(&sink, "counts", &batches, read_back).unwrap();
    assert_eq!(read_back()[1], "[\"b\",2]\n[\"c\",3]\n");
}

#[test]
fn lines_become_records_once_complete_and_bad_bytes_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream(AppendLogSource::new(dir.path()))
        .uid("app-log")
        .collect_batches();
    stepper.start().unwrap();
    append(&log, "one\ntw");
    stepper.step().unwrap();
    append(&log, "o\r\n");
    append(&log, "\u{FF}bad\n");
    let mut bad = b"x".to_vec();
    bad.push(0xFF);
    bad.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&bad)
        .unwrap();
    stepper.step().unwrap();
    let ctx = stepper.context().clone();
    stepper.stop().unwrap();
    let batches: Vec<Vec<String>> = out.batches().into_iter().map(|(_, r)| r).collect();
    assert_eq!(batches[0], vec!["one".to_string()]);
    assert_eq!(batches[1], vec!["two".to_string(), "\u{FF}bad".to_string()]);
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn a_file_that_shrinks_fails_the_job_with_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "a much longer first line\n");
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    stepper
        .context()
        .direct_stream(AppendLogSource::new(dir.path()))
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();
    std::fs::write(&log, "short\n").unwrap();
    let err = stepper.step().unwrap_err();
    assert_eq!(err.domain(), freshet::ErrorDomain::User, "{err}");
    assert!(err.to_string().contains("shrank"), "{err}");
}

#[test]
fn a_bad_setting_is_refused_at_start_with_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    stepper
        .context()
        .direct_stream(AppendLogSource::with_options(
            dir.path(),
            AppendLogOptions {
                max_bytes_per_file: 10,
            },
        ))
        .collect_batches();
    let err = stepper.start().unwrap_err().to_string();
    assert!(
        err.contains("max_bytes_per_file must be between 1024"),
        "{err}"
    );
}
