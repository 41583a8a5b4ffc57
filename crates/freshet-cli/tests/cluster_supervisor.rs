//! `freshet cluster run`: the environment each process gets, restarts of the whole cluster after
//! a failure, giving up after --max-restarts, signals forwarded to the processes, and the options'
//! ranges. The processes are /bin/sh scripts that write what they saw to files.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `freshet cluster run` with `options`, the script as the program and `dir` as its `$1`.
fn cluster(options: &[&str], script: &str, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_freshet"));
    command
        .args(["cluster", "run", "--restart-delay-ms", "0"])
        .args(options)
        .args(["--", "/bin/sh", "-c", script, "sh"])
        .arg(dir);
    command
}

/// Runs `command` to its end.
fn run(mut command: Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

/// The lines of `dir/name`.
fn lines(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_process_gets_its_index_the_peers_and_the_control_address() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"printf '%s\n' "$FRESHET_CLUSTER_PROCESSES" "$FRESHET_CLUSTER_PROCESS" \
        "$FRESHET_CLUSTER_PEERS" "$FRESHET_CLUSTER_CONTROL" "$FRESHET_CLUSTER_ATTEMPT" \
        > "$1/env-$FRESHET_CLUSTER_PROCESS""#;
    let out = run(cluster(&["--processes", "3"], script, dir.path()));
    assert!(out.status.success(), "{out:?}");
    for i in 0..3 {
        assert_eq!(
            lines(dir.path(), &format!("env-{i}")),
            [
                "3",
                &i.to_string(),
                "127.0.0.1:2101,127.0.0.1:2102,127.0.0.1:2103",
                "127.0.0.1:2100",
                "0"
            ]
        );
    }
    assert!(!dir.path().join("env-3").exists());

    let dir = tempfile::tempdir().unwrap();
    let options = [
        "--processes",
        "2",
        "--base-port",
        "7000",
        "--host",
        "10.0.0.5",
    ];
    let out = run(cluster(&options, script, dir.path()));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        lines(dir.path(), "env-1"),
        [
            "2",
            "1",
            "10.0.0.5:7001,10.0.0.5:7002",
            "10.0.0.5:7000",
            "0"
        ]
    );

    // An IPv6 address takes brackets before its port.
    let dir = tempfile::tempdir().unwrap();
    let out = run(cluster(
        &["--processes", "1", "--host", "::1"],
        script,
        dir.path(),
    ));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        lines(dir.path(), "env-0"),
        ["1", "0", "[::1]:2101", "[::1]:2100", "0"]
    );
}

#[test]
fn a_failed_process_restarts_the_whole_cluster() {
    let dir = tempfile::tempdir().unwrap();
    // Every process notes each start; on the first start process 1 fails once the two others
    // have noted theirs (so that each has run before the cluster is stopped).
    let script = r#"echo "$FRESHET_CLUSTER_ATTEMPT" >> "$1/starts-$FRESHET_CLUSTER_PROCESS"
        if [ "$FRESHET_CLUSTER_ATTEMPT" = 0 ] && [ "$FRESHET_CLUSTER_PROCESS" = 1 ]; then
            while [ ! -e "$1/starts-0" ] || [ ! -e "$1/starts-2" ]; do sleep 0.01; done
            exit 1
        fi"#;
    let out = run(cluster(&["--processes", "3"], script, dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for i in 0..3 {
        assert_eq!(lines(dir.path(), &format!("starts-{i}")), ["0", "1"]);
    }
    assert!(
        stderr.contains(
            "freshet cluster: process 1 exited with status 1; \
             restarting all 3 processes (restart 1 of 10)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("restarting").count(), 1, "{stderr}");
}

#[test]
fn it_gives_up_after_max_restarts_and_stops_the_processes_still_running() {
    let dir = tempfile::tempdir().unwrap();
    // Process 0 always fails; process 1 would run for a minute unless stopped.
    let script = r#"echo "$FRESHET_CLUSTER_ATTEMPT" >> "$1/starts-$FRESHET_CLUSTER_PROCESS"
        [ "$FRESHET_CLUSTER_PROCESS" = 0 ] && exit 3
        exec sleep 60"#;
    let started = Instant::now();
    let options = ["--processes", "2", "--max-restarts", "2"];
    let out = run(cluster(&options, script, dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(lines(dir.path(), "starts-0"), ["0", "1", "2"]);
    assert!(stderr.contains("(restart 1 of 2)"), "{stderr}");
    assert!(stderr.contains("(restart 2 of 2)"), "{stderr}");
    assert!(
        stderr.contains("process 0 exited with status 3; giving up after 2 restart(s)"),
        "{stderr}"
    );
    // Process 1 was stopped each time, not waited for (three minutes).
    assert!(started.elapsed() < Duration::from_secs(50), "{stderr}");
}

#[test]
fn a_process_killed_by_a_signal_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"echo "$FRESHET_CLUSTER_ATTEMPT" >> "$1/starts"; kill -9 $$"#;
    let options = ["--processes", "1", "--max-restarts", "1"];
    let out = run(cluster(&options, script, dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(lines(dir.path(), "starts"), ["0", "1"]);
    assert!(
        stderr.contains("freshet cluster: process 0 was killed by signal 9; restarting all 1 processes (restart 1 of 1)"),
        "{stderr}"
    );
}

#[test]
fn sigterm_is_forwarded_and_a_clean_stop_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // Each process exits 0 on SIGTERM, once it has said that it is ready.
    let script = r#"trap 'exit 0' TERM
        touch "$1/ready-$FRESHET_CLUSTER_PROCESS"
        while :; do sleep 0.05; done"#;
    let mut command = cluster(&["--processes", "2"], script, dir.path());
    let supervisor = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(dir.path().join("ready-0").exists() && dir.path().join("ready-1").exists()) {
        assert!(Instant::now() < deadline, "the processes did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = libc::pid_t::try_from(supervisor.id()).unwrap();
    // SAFETY: kill(2) on the supervisor, which has not been waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = supervisor.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("stopping; SIGTERM sent to 2 process(es)"),
        "{stderr}"
    );
}

#[test]
fn bad_options_are_refused_with_the_option_named() {
    let dir = tempfile::tempdir().unwrap();
    let freshet = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["--processes", "0", "--", "touch", "ran"],
            "--processes",
            "1..=64",
        ),
        (
            vec!["--processes", "65", "--", "touch", "ran"],
            "--processes",
            "1..=64",
        ),
        (
            vec!["--processes", "3", "--base-port", "0", "--", "touch", "ran"],
            "--base-port",
            "",
        ),
        (
            vec![
                "--processes",
                "3",
                "--base-port",
                "65532",
                "--",
                "touch",
                "ran",
            ],
            "--base-port",
            "1..=65531",
        ),
        (
            vec![
                "--processes",
                "1",
                "--max-restarts",
                "1001",
                "--",
                "touch",
                "ran",
            ],
            "--max-restarts",
            "0..=1000",
        ),
        (
            vec![
                "--processes",
                "1",
                "--restart-delay-ms",
                "600001",
                "--",
                "touch",
                "ran",
            ],
            "--restart-delay-ms",
            "0..=600000",
        ),
        (
            vec!["--processes", "1", "--host", "a,b", "--", "touch", "ran"],
            "--host",
            "",
        ),
        (
            vec!["--processes", "2"],
            "-- <PROGRAM>",
            "required arguments were not provided",
        ),
        (vec!["--", "touch", "ran"], "--processes", ""),
    ];
    for (options, option, range) in cases {
        let args: Vec<&str> = ["cluster", "run"]
            .into_iter()
            .chain(options.iter().copied())
            .collect();
        let (code, err) = freshet(&args);
        assert!(code.is_some_and(|c| c != 0), "{options:?}: {code:?} {err}");
        assert!(
            err.contains(option),
            "{options:?} does not name {option}: {err}"
        );
        assert!(
            err.contains(range),
            "{options:?} does not give {range}: {err}"
        );
    }
    // No process was started (each would have created `ran`).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_program_that_cannot_start_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args([
            "cluster",
            "run",
            "--processes",
            "2",
            "--",
            "/nonexistent/program",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot start process 0: /nonexistent/program"),
        "{stderr}"
    );
}
