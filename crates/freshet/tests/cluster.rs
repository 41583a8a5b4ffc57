//! A job over several processes on 127.0.0.1: the same results as one process, and a prompt,
//! clear failure of every process when one of them dies or disagrees.

mod run_example;

use run_example::{
    alone, batches, cluster_env, example, free_ports, job_args, write_files, write_inputs,
};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Starts process `process` of a cluster on `ports` running `cluster_counts` with `args`.
fn start(bin: &Path, process: usize, ports: &[u16], args: &[&str]) -> Child {
    let mut cmd = alone(bin);
    cluster_env(&mut cmd, process, ports);
    cmd.args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a process that should end by itself (a hang fails the test after 60 s).
fn finish(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{what} did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn three_processes_give_the_windows_and_totals_of_one() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 14, 0x5EED);
    let run = |out: &Path, extra: &[&str]| job_args(&input, out, extra);

    let one = root.path().join("one");
    let status = alone(&bin)
        .args(run(&one, &["--workers", "2"]))
        .status()
        .unwrap();
    assert!(status.success());

    let three = root.path().join("three");
    let ck = root.path().join("ck");
    let ports = free_ports(3);
    let args = run(&three, &["--checkpoint", ck.to_str().unwrap()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let children: Vec<Child> = (0..3).map(|p| start(&bin, p, &ports, &args)).collect();
    for (p, child) in children.into_iter().enumerate() {
        let out = finish(child, &format!("process {p}"));
        assert!(out.status.success(), "process {p} failed: {}", text(&out));
    }

    for kind in ["windows", "totals"] {
        let (a, b) = (batches(&one, kind), batches(&three, kind));
        assert!(
            a.len() >= 3,
            "the single process wrote {} {kind} batches",
            a.len()
        );
        assert_eq!(a, b, "{kind} differ between 1 process and 3");
    }
    // Every process wrote its workers' parts of the checkpoints.
    let parts: Vec<String> = std::fs::read_dir(ck.join("checkpoints"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.file_name().to_string_lossy().to_string())
        .collect();
    for w in 0..3 {
        let name = format!("part-{w:05}.bin");
        assert!(parts.contains(&name), "no {name} among {parts:?}");
    }
}

/// Starts a 3-process job that runs until stopped, and waits until it has done some batches.
fn running_job(bin: &Path, out: &Path, input: &Path) -> (Vec<Child>, Vec<u16>) {
    let ports = free_ports(3);
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--batch-ms",
        "50",
    ];
    let children: Vec<Child> = (0..3).map(|p| start(bin, p, &ports, &args)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(out.join("totals")).map_or(0, |d| d.count()) < 5 {
        assert!(Instant::now() < deadline, "the job did no batches");
        std::thread::sleep(Duration::from_millis(20));
    }
    (children, ports)
}

#[test]
fn when_a_process_is_killed_the_others_fail_promptly_naming_it() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 4, 7);
    let (mut children, _) = running_job(&bin, &root.path().join("out"), &input);
    children[2].kill().unwrap(); // SIGKILL
    children[2].wait().unwrap();
    let rest: Vec<Child> = children.drain(..2).collect();
    for (p, child) in rest.into_iter().enumerate() {
        let out = finish(child, &format!("process {p}"));
        assert!(!out.status.success(), "process {p} ended well");
        assert!(
            text(&out).contains("process 2"),
            "process {p} did not name process 2: {}",
            text(&out)
        );
    }
}

#[test]
fn when_the_driver_is_killed_the_others_fail_promptly() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 4, 8);
    let (mut children, _) = running_job(&bin, &root.path().join("out"), &input);
    children[0].kill().unwrap();
    children[0].wait().unwrap();
    for (p, child) in children.drain(..).enumerate().skip(1) {
        let out = finish(child, &format!("process {p}"));
        assert!(!out.status.success(), "process {p} ended well");
        assert!(
            text(&out).contains("driver"),
            "process {p} did not name the driver: {}",
            text(&out)
        );
    }
}

#[test]
fn a_process_with_another_worker_count_is_refused() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    write_inputs(&input, 2, 9);
    let ports = free_ports(2);
    let out = root.path().join("out");
    let args = |workers: &str| job_args(&input, &out, &["--workers", workers]);
    let spawn = |p: usize, workers: &str| {
        let mut cmd: Command = alone(&bin);
        cluster_env(&mut cmd, p, &ports);
        cmd.args(args(workers))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let driver = spawn(0, "1");
    let other = spawn(1, "2");
    let (driver, other) = (finish(driver, "the driver"), finish(other, "process 1"));
    assert!(!driver.status.success() && !other.status.success());
    for o in [&driver, &other] {
        assert!(
            text(o).contains("runs 2 workers, the driver 1"),
            "{}",
            text(o)
        );
    }
}

#[test]
fn a_job_checkpointed_by_three_processes_resumes_in_one_with_its_state_repartitioned() {
    let bin = example("cluster_counts");
    let root = tempfile::tempdir().unwrap();
    let (all, growing) = (root.path().join("all"), root.path().join("growing"));
    write_inputs(&all, 14, 42);
    write_files(&growing, 0..8, 42);
    let args = job_args;

    let reference = root.path().join("reference");
    assert!(alone(&bin)
        .args(args(&all, &reference, &[]))
        .status()
        .unwrap()
        .success());

    let (out, ck) = (root.path().join("out"), root.path().join("ck"));
    let ck_arg = ck.to_str().unwrap().to_string();
    let first = args(&growing, &out, &["--checkpoint", &ck_arg]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let ports = free_ports(3);
    let children: Vec<Child> = (0..3).map(|p| start(&bin, p, &ports, &first)).collect();
    for (p, child) in children.into_iter().enumerate() {
        let o = finish(child, &format!("process {p}"));
        assert!(o.status.success(), "process {p}: {}", text(&o));
    }
    // More files, and the job goes on as one process of two workers.
    write_files(&growing, 8..14, 42);
    let o = alone(&bin)
        .args(args(
            &growing,
            &out,
            &["--checkpoint", &ck_arg, "--workers", "2"],
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    for kind in ["windows", "totals"] {
        assert_eq!(
            batches(&out, kind),
            batches(&reference, kind),
            "{kind} differ after the change from 3 processes to 1"
        );
    }
}
