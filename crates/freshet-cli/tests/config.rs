//! Settings from a TOML file: the environment overrides the file, the command line overrides
//! both, unknown keys and out-of-range values are refused by name.

use std::process::Command;

fn demo(config: &str, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("freshet.toml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_freshet"));
    cmd.arg("--config").arg(&file).arg("demo").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const FILE: &str =
    "[demo]\nbatches = 1\nbatch-ms = 10\nrate = 100\nworkers = 2\nui-addr = \"off\"\n";

#[test]
fn the_file_then_the_environment_then_the_command_line() {
    // The demo's first line says its rate, batch interval and workers.
    let (code, out, err) = demo(FILE, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("100 click events/s, 10 ms batches, 2 workers"),
        "{out}"
    );

    let (code, out, err) = demo(FILE, &[("FRESHET_WORKERS", "3")], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("10 ms batches, 3 workers"), "{out}");

    let (code, out, err) = demo(FILE, &[("FRESHET_WORKERS", "3")], &["--workers", "1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("10 ms batches, 1 workers"), "{out}");
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    let (code, _, err) = demo("[demo]\nbatchez = 2\n", &[], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("has no option `batchez`"), "{err}");
}

#[test]
fn a_value_out_of_range_in_the_file_is_refused_like_on_the_command_line() {
    let (code, _, err) = demo("[demo]\nrate = 0\nui-addr = \"off\"\n", &[], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--rate") && err.contains("1..=5000000"),
        "{err}"
    );
}
