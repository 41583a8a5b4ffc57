//! The command line refuses numbers out of range, naming the option and the range, and a
//! signal during `demo --batches N` is a graceful stop (status 0), not an error.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn freshet(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn numbers_out_of_range_are_refused_with_the_option_and_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["demo", "--rate", "18446744073709551615"],
            "--rate",
            "1..=5000000",
        ),
        (
            vec!["demo", "--rate", "10000000000"],
            "--rate",
            "1..=5000000",
        ),
        (
            vec!["demo", "--batches", "9223372036854775808"],
            "--batches",
            "1..=1000000000",
        ),
        (
            vec!["demo", "--batches", "0"],
            "--batches",
            "1..=1000000000",
        ),
        (
            vec!["demo", "--window-batches", "4294967297"],
            "--window-batches",
            "1..=10000",
        ),
        (
            vec!["demo", "--batch-ms", "978307200000"],
            "--batch-ms",
            "1..=3600000",
        ),
        (
            vec!["demo", "--batch-ms", "18446744073709551615"],
            "--batch-ms",
            "1..=3600000",
        ),
        (vec!["demo", "--workers", "0"], "--workers", "1..=256"),
        (vec!["demo", "--top", "0"], "--top", "1..=100000"),
        (vec!["demo", "--top", "many"], "--top", "1..=100000"),
        (
            vec!["wordcount", d, "--workers", "100000"],
            "--workers",
            "1..=256",
        ),
        (
            vec!["wordcount", d, "--watch", "--batch-ms", "0"],
            "--batch-ms",
            "1..=3600000",
        ),
    ];
    for (args, option, range) in cases {
        let (code, err) = freshet(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(option),
            "{args:?} does not name {option}: {err}"
        );
        assert!(err.contains(range), "{args:?} does not give {range}: {err}");
    }
}

#[test]
fn a_signal_during_demo_batches_is_a_graceful_stop_with_status_0() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args([
            "demo",
            "--batches",
            "100000",
            "--batch-ms",
            "10",
            "--rate",
            "1000",
        ])
        .args(["--ui-addr", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first batch line, then interrupt.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    for line in lines.by_ref() {
        if line.unwrap().contains("records") {
            seen += 1;
            if seen == 2 {
                break;
            }
        }
    }
    assert_eq!(seen, 2, "the demo printed no batch");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped after")),
        "{rest:?}"
    );
}

#[test]
fn an_unresolvable_ui_host_says_why() {
    let (code, err) = freshet(&[
        "demo",
        "--batches",
        "1",
        "--ui-addr",
        "no-such-host.invalid:4040",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--ui-addr"), "{err}");
    assert!(!err.contains("is not HOST:PORT"), "{err}");
}

#[test]
fn a_missing_watch_directory_is_said_to_not_exist_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (code, err) = freshet(&["wordcount", "--watch", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.matches("does not exist").count(), 1, "{err}");
}

#[test]
fn a_binary_file_logs_a_summary_not_a_line_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for _ in 0..5000 {
        bytes.extend_from_slice(b"\xff\xfe\x00binary\n");
    }
    std::fs::write(dir.path().join("blob.bin"), bytes).unwrap();
    let (code, err) = freshet(&["wordcount", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let warnings = err.lines().filter(|l| l.contains("WARN")).count();
    assert!(warnings <= 20, "{warnings} warning lines");
    assert!(err.contains("5000 inputs skipped so far"), "{err}");
}
