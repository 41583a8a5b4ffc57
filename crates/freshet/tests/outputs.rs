//! Output operations: foreach_batch (once per batch, in batch-time order, empty batches
//! included), collect_batches, print, save_as_text_files, and the batch figures a context keeps.

mod common;

use common::*;
use freshet::{BatchInfo, BatchTime, StreamingListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn foreach_batch_runs_once_per_batch_in_order_with_empty_batches() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let calls: Arc<Mutex<Vec<(u64, usize)>>> = Arc::default();
        let sink = calls.clone();
        ctx.queue_stream(vec![vec![1], vec![], vec![2, 3]])
            .foreach_batch(move |t, records: Vec<i32>| {
                sink.lock().unwrap().push((t.0, records.len()))
            });
        run_batches(&ctx, &clock, 5);
        assert_eq!(
            *calls.lock().unwrap(),
            vec![(100, 1), (200, 0), (300, 2), (400, 0), (500, 0)],
            "with {workers} worker(s)"
        );
    }
}

/// A batch time and the batch's records.
type Batch = (u64, Vec<i32>);

#[test]
fn foreach_batch_keeps_order_with_batches_in_flight_together() {
    // The clock jumps five intervals at once and five batches may run at the same time: every
    // batch is still handed to foreach_batch exactly once, in batch-time order.
    for workers in WORKERS {
        let (ctx, clock) = context_with(config(workers).max_in_flight_batches(5));
        let calls: Arc<Mutex<Vec<Batch>>> = Arc::default();
        let sink = calls.clone();
        ctx.queue_stream(vec![vec![1], vec![], vec![2, 3], vec![4], vec![5]])
            .map(|x| x * 10)
            .foreach_batch(move |t, mut records| {
                records.sort();
                sink.lock().unwrap().push((t.0, records))
            });
        ctx.start().unwrap();
        clock.advance(Duration::from_millis(5 * I));
        ctx.await_batch(BatchTime(500), TIMEOUT).unwrap();
        ctx.stop(true).unwrap();
        assert_eq!(
            *calls.lock().unwrap(),
            vec![
                (100, vec![10]),
                (200, vec![]),
                (300, vec![20, 30]),
                (400, vec![40]),
                (500, vec![50]),
            ],
            "with {workers} worker(s)"
        );
        assert_eq!(ctx.batches_completed(), 5);
    }
}

#[test]
fn clock_jump_runs_every_missed_batch() {
    let (ctx, clock) = context(2);
    let out = ctx
        .queue_stream(vec![vec![1], vec![2], vec![3]])
        .collect_batches();
    ctx.start().unwrap();
    clock.advance(Duration::from_millis(3 * I));
    ctx.await_batch(BatchTime(300), TIMEOUT).unwrap();
    ctx.stop(true).unwrap();
    assert_eq!(
        out.batches(),
        vec![
            (BatchTime(100), vec![1]),
            (BatchTime(200), vec![2]),
            (BatchTime(300), vec![3])
        ]
    );
}

#[test]
fn foreach_batch_gathers_worker_0_first() {
    // A batch is split evenly over the workers, and gathered worker 0 first: the order of a
    // narrow pipeline's output is the input order.
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let out = ctx
            .queue_stream(vec![(1..=10).collect::<Vec<i32>>()])
            .map(|x| x + 100)
            .collect_batches();
        run_batches(&ctx, &clock, 1);
        assert_eq!(
            out.batches(),
            vec![(BatchTime(100), (101..=110).collect())],
            "with {workers} worker(s)"
        );
    }
}

#[test]
fn several_outputs_see_every_batch() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let s = ctx.queue_stream(vec![vec![1, 2], vec![], vec![3]]);
        let a = s.collect_batches();
        let b = s.map(|x: i32| -x).collect_batches();
        let c = s.count().collect_batches();
        run_batches(&ctx, &clock, 3);
        assert_eq!(sorted(&a, 3), vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(sorted(&b, 3), vec![vec![-2, -1], vec![], vec![-3]]);
        assert_eq!(sorted(&c, 3), vec![vec![2], vec![0], vec![1]]);
    }
}

#[test]
fn collected_batches_accessors() {
    let (ctx, clock) = context(1);
    let out = ctx
        .queue_stream(vec![vec![3, 1, 2], vec![]])
        .collect_batches();
    assert!(out.is_empty());
    run_batches(&ctx, &clock, 2);
    assert_eq!(out.len(), 2);
    assert!(!out.is_empty());
    assert_eq!(out.batch(BatchTime(100)), Some(vec![3, 1, 2]));
    assert_eq!(out.batch(BatchTime(200)), Some(vec![]));
    assert_eq!(out.batch(BatchTime(300)), None);
    assert_eq!(out.sorted_batches(), vec![vec![1, 2, 3], vec![]]);
}

#[derive(Default)]
struct Recorder {
    completed: Mutex<Vec<(u64, u64)>>,
    submitted: Mutex<Vec<u64>>,
}

impl StreamingListener for Recorder {
    fn on_batch_submitted(&self, time: BatchTime) {
        self.submitted.lock().unwrap().push(time.0);
    }
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.completed
            .lock()
            .unwrap()
            .push((info.time.0, info.records));
    }
}

#[test]
fn batch_figures_and_listener_events() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let listener = Arc::new(Recorder::default());
        ctx.add_listener(listener.clone());
        ctx.queue_stream(vec![vec![1, 2, 3], vec![], vec![4]])
            .foreach_batch(|_, _: Vec<i32>| {});
        assert_eq!(ctx.first_batch_time(), None);
        run_batches(&ctx, &clock, 3);
        assert_eq!(ctx.first_batch_time(), Some(BatchTime(100)));
        assert_eq!(ctx.batches_completed(), 3);
        let recent: Vec<(u64, u64)> = ctx
            .recent_batches()
            .iter()
            .map(|b| (b.time.0, b.records))
            .collect();
        assert_eq!(recent, vec![(100, 3), (200, 0), (300, 1)]);
        assert_eq!(*listener.completed.lock().unwrap(), recent);
        assert_eq!(*listener.submitted.lock().unwrap(), vec![100, 200, 300]);
    }
}

/// The child side of `print_writes_batches_to_stdout`: does nothing unless asked to.
#[test]
fn print_child() {
    let Ok(workers) = std::env::var("FRESHET_PRINT_CHILD") else {
        return;
    };
    let (ctx, clock) = context(workers.parse().unwrap());
    let s = ctx.queue_stream(vec![(1..=8).collect::<Vec<i32>>(), vec![], vec![7, 8]]);
    s.print(3);
    s.map(|x| format!("s{x}")).print(10);
    run_batches(&ctx, &clock, 3);
}

#[test]
fn print_writes_batches_to_stdout() {
    for workers in WORKERS {
        // Run the child test in a separate process and read what it printed.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "print_child", "--nocapture", "--test-threads=1"])
            .env("FRESHET_PRINT_CHILD", workers.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let line = "-------------------------------------------\n";
        let block = |t: u64, body: &str| format!("{line}Time: {t} ms\n{line}{body}\n");
        for expected in [
            block(100, "1\n2\n3\n...\n"),
            block(
                100,
                "\"s1\"\n\"s2\"\n\"s3\"\n\"s4\"\n\"s5\"\n\"s6\"\n\"s7\"\n\"s8\"\n",
            ),
            block(200, ""),
            block(300, "7\n8\n"),
            block(300, "\"s7\"\n\"s8\"\n"),
        ] {
            assert!(
                stdout.contains(&expected),
                "with {workers} worker(s): missing\n{expected}\nin\n{stdout}"
            );
        }
        // Both print outputs print every batch once: 2 outputs × 3 batches.
        assert_eq!(stdout.matches("Time: ").count(), 6, "{stdout}");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn save_as_text_files_one_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("out").to_string_lossy().to_string();
    let (ctx, clock) = context(1);
    ctx.queue_stream(vec![vec![3, 1, 2], vec![]])
        .save_as_text_files(prefix, Some("txt"));
    run_batches(&ctx, &clock, 2);
    assert_eq!(dir_names(tmp.path()), vec!["out-100.txt", "out-200.txt"]);
    let b1 = tmp.path().join("out-100.txt");
    assert_eq!(dir_names(&b1), vec!["part-00000"]);
    assert_eq!(read(&b1.join("part-00000")), "3\n1\n2\n");
    let b2 = tmp.path().join("out-200.txt");
    assert_eq!(dir_names(&b2), vec!["part-00000"]);
    assert_eq!(read(&b2.join("part-00000")), "");
}

#[test]
fn save_as_text_files_one_part_per_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("words").to_string_lossy().to_string();
    let (ctx, clock) = context(4);
    ctx.queue_stream(vec![
        strings(&["a", "b", "c", "d", "e", "f", "g", "h"]),
        vec![],
        strings(&["x"]),
    ])
    .map(|w| w.to_uppercase())
    .save_as_text_files(prefix, None);
    run_batches(&ctx, &clock, 3);
    assert_eq!(
        dir_names(tmp.path()),
        vec!["words-100", "words-200", "words-300"]
    );
    let parts = ["part-00000", "part-00001", "part-00002", "part-00003"];
    let contents = |t: u64| -> Vec<String> {
        let d = tmp.path().join(format!("words-{t}"));
        assert_eq!(dir_names(&d), parts, "batch {t}");
        parts.iter().map(|p| read(&d.join(p))).collect()
    };
    // Each worker writes its own share of the batch (the batch is split evenly).
    assert_eq!(contents(100), vec!["A\nB\n", "C\nD\n", "E\nF\n", "G\nH\n"]);
    // Empty partitions still get a file.
    assert_eq!(contents(200), vec!["", "", "", ""]);
    assert_eq!(contents(300), vec!["", "", "", "X\n"]);
}

#[test]
fn save_as_text_files_after_a_shuffle_keeps_every_line() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("counts").to_string_lossy().to_string();
    let (ctx, clock) = context(4);
    ctx.queue_stream(vec![strings(&["a", "b", "a", "c", "a", "b"])])
        .count_by_value()
        .map(|(w, n)| format!("{w}={n}"))
        .save_as_text_files(prefix, Some("csv"));
    run_batches(&ctx, &clock, 1);
    let d = tmp.path().join("counts-100.csv");
    assert_eq!(
        dir_names(&d),
        vec!["part-00000", "part-00001", "part-00002", "part-00003"]
    );
    let mut lines: Vec<String> = dir_names(&d)
        .iter()
        .flat_map(|p| {
            read(&d.join(p))
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, strings(&["a=3", "b=2", "c=1"]));
}

#[test]
fn first_batch_is_the_first_aligned_time_strictly_after_the_start() {
    for (start, first) in [(0, 100), (200, 300), (250, 300), (299, 300)] {
        let clock = freshet::ManualClock::new(start);
        let ctx =
            freshet::StreamingContext::with_clock(config(2), Arc::new(clock.clone())).unwrap();
        let out = ctx.queue_stream(vec![vec![1], vec![2]]).collect_batches();
        ctx.start().unwrap();
        assert_eq!(ctx.first_batch_time(), Some(BatchTime(first)));
        clock.set(BatchTime(first));
        ctx.await_batch(BatchTime(first), TIMEOUT).unwrap();
        clock.advance(interval());
        ctx.await_batch(BatchTime(first + I), TIMEOUT).unwrap();
        ctx.stop(true).unwrap();
        assert_eq!(
            out.batches(),
            vec![(BatchTime(first), vec![1]), (BatchTime(first + I), vec![2])],
            "clock starting at {start}"
        );
    }
}
