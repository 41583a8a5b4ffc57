//! `freshet demo --checkpoint DIR` writes an event log next to the checkpoint; a second run on
//! the same directory resumes and logs a second run; `freshet history DIR` lists the runs and
//! serves the newest read-only until Ctrl-C.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn freshet(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(args)
        .output()
        .expect("run freshet");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn get(addr: &str, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn demo_runs_are_logged_and_served_by_history() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().to_str().unwrap();
    let demo = [
        "demo",
        "--batches",
        "3",
        "--batch-ms",
        "50",
        "--rate",
        "1000",
        "--ui-addr",
        "off",
        "--checkpoint",
        ckpt,
    ];
    // A graceful stop completes every batch already due, so a loaded machine may run more than
    // three; the history must show exactly as many as the newest run reported.
    let mut completed = 0;
    for _ in 0..2 {
        let (code, out) = freshet(&demo);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("event log: "), "{out}");
        completed = out
            .lines()
            .find_map(|l| l.strip_prefix("stopped after "))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no batch count in {out}"));
        assert!(completed >= 3, "{out}");
    }
    let (code, out) = freshet(&["history", ckpt, "--list"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("run-")).count(),
        2,
        "{out}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(["history", ckpt, "--ui-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let status = get(&addr, "/api/v1/status");
    assert_eq!(status["history"]["ended"], "stopped", "{status}");
    let batches = get(&addr, "/api/v1/batches");
    assert_eq!(batches.as_array().unwrap().len(), completed, "{batches}");
    let outputs = get(&addr, "/api/v1/outputs");
    assert!(outputs
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "page views"));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn history_of_a_directory_without_a_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = freshet(&[
        "history",
        dir.path().to_str().unwrap(),
        "--ui-addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("holds no event log"), "{out}");
    assert_eq!(out.matches("holds no event log").count(), 1, "{out}");
}
