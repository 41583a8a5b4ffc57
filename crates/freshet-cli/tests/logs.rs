//! Log lines: no colour codes when standard error is not a terminal, JSON on request.

use std::process::Command;

/// Runs `freshet wordcount` over a directory holding a file with a line that is not UTF-8, which
/// logs a warning; returns standard error.
fn stderr_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"one two\n\xff\xfe\nthree\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(args)
        .args(["wordcount"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("FRESHET_LOG_FORMAT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let err = stderr_of(&[]);
    assert!(err.contains("WARN"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes in {err:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let err = stderr_of(&["--log-format", "json"]);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log line");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["level"], "WARN", "{line}");
    }
}
