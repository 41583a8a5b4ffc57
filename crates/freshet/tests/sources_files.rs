//! `text_file_stream` driven by the manual clock: each batch takes the files that appeared in the
//! directory since the previous batch. Hidden files, subdirectories and files already there are
//! ignored (unless asked for); unreadable, vanishing and malformed input is skipped and counted.

mod common;

use common::*;
use freshet::source::file_stream::FileStreamOptions;
use freshet::source::receiver::BadRecordPolicy;
use freshet::{BatchTime, Error};
use std::path::Path;
use std::time::Duration;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn new_files_go_to_the_next_batch() {
    for workers in WORKERS {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "old.txt", "old\n");
        let (ctx, clock) = context(workers);
        let out = ctx.text_file_stream(dir.path()).collect_batches();
        ctx.start().unwrap();
        write(dir.path(), "a.txt", "a1\na2\n");
        step(&ctx, &clock, 1);
        step(&ctx, &clock, 2);
        write(dir.path(), "b.txt", "b1\n");
        write(dir.path(), "c.txt", "c1\nc2\r\nc3");
        step(&ctx, &clock, 3);
        // A file is read once, even if it changes later (files must not change).
        write(dir.path(), "a.txt", "changed\n");
        step(&ctx, &clock, 4);
        ctx.stop(true).unwrap();
        assert_eq!(
            sorted(&out, 4),
            vec![
                strings(&["a1", "a2"]),
                vec![],
                strings(&["b1", "c1", "c2", "c3"]),
                vec![],
            ],
            "with {workers} worker(s)"
        );
        assert_eq!(ctx.skipped_records(), 0);
    }
}

#[test]
fn hidden_files_and_subdirectories_are_ignored_until_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(2);
    let out = ctx.text_file_stream(dir.path()).collect_batches();
    ctx.start().unwrap();
    write(dir.path(), ".part.tmp", "x\n");
    write(dir.path(), "_temporary", "y\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "inner.txt", "z\n");
    step(&ctx, &clock, 1);
    // The writer's atomic rename makes the file visible.
    std::fs::rename(dir.path().join(".part.tmp"), dir.path().join("part.txt")).unwrap();
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 2), vec![vec![], strings(&["x"])]);
}

#[test]
fn include_existing_reads_the_files_already_there() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.txt", "old\n");
    let (ctx, clock) = context(4);
    let out = ctx
        .text_file_stream_with(dir.path(), FileStreamOptions::new().include_existing(true))
        .collect_batches();
    ctx.start().unwrap();
    write(dir.path(), "new.txt", "new\n");
    step(&ctx, &clock, 1);
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 2), vec![strings(&["new", "old"]), vec![]]);
}

#[test]
fn max_files_per_batch_bounds_each_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(4);
    let out = ctx
        .text_file_stream_with(dir.path(), FileStreamOptions::new().max_files_per_batch(2))
        .collect_batches();
    ctx.start().unwrap();
    for name in ["1", "2", "3", "4", "5"] {
        write(dir.path(), name, &format!("{name}\n"));
    }
    for k in 1..=4 {
        step(&ctx, &clock, k);
    }
    ctx.stop(true).unwrap();
    // Oldest first (written in name order): two, two, one, then nothing.
    assert_eq!(
        sorted(&out, 4),
        vec![
            strings(&["1", "2"]),
            strings(&["3", "4"]),
            strings(&["5"]),
            vec![]
        ]
    );
}

#[test]
fn many_files_in_one_batch_over_four_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(4);
    let out = ctx
        .text_file_stream(dir.path())
        .map(|l| l.parse::<u32>().unwrap())
        .reduce(|a, b| a + b)
        .collect_batches();
    ctx.start().unwrap();
    // Files 0..10, file i holds the numbers 10 i .. 10 i + 9: the total is 0 + ... + 99.
    for i in 0..10u32 {
        let text: String = (10 * i..10 * i + 10).map(|n| format!("{n}\n")).collect();
        write(dir.path(), &format!("f{i:02}"), &text);
    }
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 1), vec![vec![4950]]);
}

#[test]
fn a_missing_directory_fails_start() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _clock) = context(1);
    ctx.text_file_stream(dir.path().join("missing"))
        .collect_batches();
    assert!(matches!(ctx.start(), Err(Error::Source { .. })));
    // A file is not a directory either.
    write(dir.path(), "file", "");
    let (ctx, _clock) = context(1);
    ctx.text_file_stream(dir.path().join("file"))
        .collect_batches();
    assert!(matches!(ctx.start(), Err(Error::Source { .. })));
}

#[test]
fn a_vanishing_file_is_skipped_and_counted() {
    for workers in WORKERS {
        let dir = tempfile::tempdir().unwrap();
        // Both files are found at start; the cap leaves "b" for batch 2.
        write(dir.path(), "a", "a\n");
        write(dir.path(), "b", "b\n");
        let (ctx, clock) = context(workers);
        let out = ctx
            .text_file_stream_with(
                dir.path(),
                FileStreamOptions::new()
                    .include_existing(true)
                    .max_files_per_batch(1),
            )
            .collect_batches();
        ctx.start().unwrap();
        step(&ctx, &clock, 1);
        std::fs::remove_file(dir.path().join("b")).unwrap();
        write(dir.path(), "c", "c\n");
        step(&ctx, &clock, 2);
        step(&ctx, &clock, 3);
        ctx.stop(true).unwrap();
        assert_eq!(
            sorted(&out, 3),
            vec![strings(&["a"]), vec![], strings(&["c"])],
            "with {workers} worker(s)"
        );
        assert_eq!(ctx.skipped_records(), 1);
    }
}

#[test]
fn an_unreadable_file_is_skipped_and_counted() {
    // A file replaced by a directory after it was listed: opening works, reading fails.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a", "a\n");
    write(dir.path(), "b", "b\n");
    let (ctx, clock) = context(2);
    let out = ctx
        .text_file_stream_with(
            dir.path(),
            FileStreamOptions::new()
                .include_existing(true)
                .max_files_per_batch(1),
        )
        .collect_batches();
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    std::fs::remove_file(dir.path().join("b")).unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 2), vec![strings(&["a"]), vec![]]);
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn lines_that_are_not_utf8_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(2);
    let out = ctx.text_file_stream(dir.path()).collect_batches();
    ctx.start().unwrap();
    std::fs::write(dir.path().join("x"), b"one\n\xff\xfe\ntwo\r\n\xc3(\nthree").unwrap();
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 1), vec![strings(&["one", "three", "two"])]);
    assert_eq!(ctx.skipped_records(), 2);
}

#[test]
fn dead_letter_policy_keeps_malformed_lines_in_the_sources_file() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let (ctx, clock) = context_with(config(2).dead_letter_dir(&dead));
    let out = ctx
        .text_file_stream_with(
            &input,
            FileStreamOptions::new().bad_records(BadRecordPolicy::DeadLetter),
        )
        .uid("logs")
        .collect_batches();
    ctx.start().unwrap();
    std::fs::write(input.join("x"), b"one\n\xff\xfe\ntwo\n").unwrap();
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 1), vec![strings(&["one", "two"])]);
    assert_eq!(ctx.skipped_records(), 1);
    let kept = std::fs::read_to_string(dead.join("logs.jsonl")).unwrap();
    let lines: Vec<&str> = kept.lines().collect();
    assert_eq!(lines.len(), 1, "{kept}");
    assert!(lines[0].contains(r#""record_hex":"fffe""#), "{kept}");
    assert!(lines[0].contains("not valid UTF-8"), "{kept}");
}

#[test]
fn dead_letter_policy_without_a_directory_fails_at_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(1);
    let _out = ctx
        .text_file_stream_with(
            dir.path(),
            FileStreamOptions::new().bad_records(BadRecordPolicy::DeadLetter),
        )
        .collect_batches();
    ctx.start().unwrap();
    std::fs::write(dir.path().join("x"), b"\xff\n").unwrap();
    clock.advance(interval());
    let err = ctx.await_batch(BatchTime(100), TIMEOUT).unwrap_err();
    assert!(err.to_string().contains("dead_letter_dir"), "{err}");
    let _ = ctx.stop(true);
}

#[test]
fn fail_policy_stops_the_run_on_a_vanishing_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a", "a\n");
    write(dir.path(), "b", "b\n");
    let (ctx, clock) = context(2);
    let out = ctx
        .text_file_stream_with(
            dir.path(),
            FileStreamOptions::new()
                .include_existing(true)
                .max_files_per_batch(1)
                .bad_records(BadRecordPolicy::Fail),
        )
        .collect_batches();
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    std::fs::remove_file(dir.path().join("b")).unwrap();
    clock.advance(interval());
    let err = ctx.await_batch(BatchTime(200), TIMEOUT).unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err}");
    assert!(matches!(ctx.stop(true), Err(Error::Source { .. })));
    assert_eq!(out.batch(BatchTime(100)), Some(strings(&["a"])));
}

#[test]
fn a_directory_removed_while_running_is_skipped() {
    // A directory that cannot be listed any more is skipped at each batch, not fatal.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let (ctx, clock) = context(1);
    let out = ctx.text_file_stream(&dir).collect_batches();
    ctx.start().unwrap();
    write(&dir, "a", "a\n");
    step(&ctx, &clock, 1);
    std::fs::remove_dir_all(&dir).unwrap();
    step(&ctx, &clock, 2);
    std::fs::create_dir(&dir).unwrap();
    write(&dir, "b", "b\n");
    step(&ctx, &clock, 3);
    ctx.stop(true).unwrap();
    assert_eq!(
        sorted(&out, 3),
        vec![strings(&["a"]), vec![], strings(&["b"])]
    );
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn a_large_file_is_read_in_ranges_and_every_line_once() {
    // About 9.5 MiB: three ranges of at most 4 MiB, with lines across the range boundaries.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut expected = Vec::new();
    let mut i = 0u64;
    while text.len() < 9_500_000 {
        let line = format!("line {i} {}", "x".repeat((i % 97) as usize));
        text.push_str(&line);
        text.push('\n');
        expected.push(line);
        i += 1;
    }
    // The last line has no newline: it is read too.
    text.push_str("last");
    expected.push("last".to_string());
    for workers in WORKERS {
        let (ctx, _clock) = context(workers);
        let input = dir.path().join(format!("in-{workers}"));
        std::fs::create_dir(&input).unwrap();
        write(&input, "big.txt", &text);
        let out = ctx
            .text_file_stream_with(&input, FileStreamOptions::new().include_existing(true))
            .collect_batches();
        ctx.run_available_now().unwrap();
        let mut got: Vec<String> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got.len(), want.len(), "with {workers} worker(s)");
        assert!(got == want, "with {workers} worker(s)");
    }
}

#[test]
fn a_file_far_older_than_the_newest_taken_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context(1);
    let out = ctx
        .text_file_stream_with(
            dir.path(),
            FileStreamOptions::new().max_file_age(Duration::from_secs(3600)),
        )
        .collect_batches();
    ctx.start().unwrap();
    write(dir.path(), "new", "fresh\n");
    step(&ctx, &clock, 1);
    // Copied in with its old modification time kept (`cp -p`): older than the age bound.
    write(dir.path(), ".old.tmp", "stale\n");
    let f = std::fs::File::options()
        .write(true)
        .open(dir.path().join(".old.tmp"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    drop(f);
    std::fs::rename(dir.path().join(".old.tmp"), dir.path().join("old")).unwrap();
    write(dir.path(), "newer", "also fresh\n");
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(
        sorted(&out, 2),
        vec![strings(&["fresh"]), strings(&["also fresh"])]
    );
}

#[test]
fn an_out_of_range_file_age_fails_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _clock) = context(1);
    ctx.text_file_stream_with(
        dir.path(),
        FileStreamOptions::new().max_file_age(Duration::from_millis(5)),
    )
    .collect_batches();
    let err = ctx.start().unwrap_err().to_string();
    assert!(
        err.contains("max_file_age must be between 1 s and 365 days"),
        "{err}"
    );
}
