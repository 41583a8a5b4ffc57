//! Golden tests of `Dataset`: the inputs (parallelize, text_file over a file, a directory or a
//! glob), the operators shared with `DStream`, and the actions (collect, count, take, reduce,
//! save_as_text_files).

mod common;

use common::strings;
use freshet::{current_batch_time, BatchTime, Dataset, Error};
use std::path::Path;

fn s(x: &str) -> String {
    x.to_string()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

// ---------------------------------------------------------------- inputs

#[test]
fn parallelize_cuts_contiguous_partitions() {
    let ds = Dataset::parallelize((1..=10).collect::<Vec<i32>>(), 4);
    assert_eq!(ds.partitions(), 4);
    assert_eq!(ds.collect().unwrap(), (1..=10).collect::<Vec<_>>());
    assert_eq!(
        ds.glom().collect().unwrap(),
        vec![vec![1, 2], vec![3, 4, 5], vec![6, 7], vec![8, 9, 10]]
    );
}

#[test]
fn parallelize_edge_cases() {
    // Zero partitions means one.
    let ds = Dataset::parallelize(vec![1, 2], 0);
    assert_eq!(ds.partitions(), 1);
    assert_eq!(ds.glom().collect().unwrap(), vec![vec![1, 2]]);
    // More partitions than records: some are empty.
    let ds = Dataset::parallelize(vec![7, 8], 4);
    assert_eq!(
        ds.glom().collect().unwrap(),
        vec![vec![], vec![7], vec![], vec![8]]
    );
    // No records at all.
    let empty = Dataset::parallelize(Vec::<i32>::new(), 3);
    assert_eq!(empty.collect().unwrap(), Vec::<i32>::new());
    assert_eq!(empty.count().unwrap(), 0);
    assert_eq!(empty.reduce(|a, b| a + b).unwrap(), None);
    assert_eq!(empty.take(5).unwrap(), Vec::<i32>::new());
    assert_eq!(empty.glom().collect().unwrap(), vec![Vec::<i32>::new(); 3]);
}

#[test]
fn text_file_reads_one_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "one\ntwo\r\n\nthree");
    let ds = Dataset::text_file(dir.path().join("a.txt")).unwrap();
    assert_eq!(ds.partitions(), 1);
    assert_eq!(ds.collect().unwrap(), strings(&["one", "two", "", "three"]));
}

#[test]
fn text_file_reads_a_directory_one_partition_per_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b.txt", "b1\nb2\n");
    write(dir.path(), "a.txt", "a1\n");
    write(dir.path(), "c.log", "");
    // Hidden and underscore files are not data.
    write(dir.path(), ".hidden", "no\n");
    write(dir.path(), "_SUCCESS", "");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "nested.txt", "no\n");
    let ds = Dataset::text_file_with(dir.path(), 3).unwrap();
    assert_eq!(ds.partitions(), 3);
    // Files in name order, partition 0 first.
    assert_eq!(ds.collect().unwrap(), strings(&["a1", "b1", "b2"]));
    assert_eq!(
        ds.glom().collect().unwrap(),
        vec![strings(&["a1"]), strings(&["b1", "b2"]), vec![]]
    );
    // Fewer partitions than files: contiguous runs of files, the same lines in the same order.
    let two = Dataset::text_file_with(dir.path(), 2).unwrap();
    assert_eq!(two.partitions(), 2);
    assert_eq!(two.collect().unwrap(), strings(&["a1", "b1", "b2"]));
    assert_eq!(
        two.glom().collect().unwrap(),
        vec![strings(&["a1"]), strings(&["b1", "b2"])]
    );
    // More partitions than files: one per file. The default: at most one per core.
    assert_eq!(
        Dataset::text_file_with(dir.path(), 8).unwrap().partitions(),
        3
    );
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        Dataset::text_file(dir.path()).unwrap().partitions(),
        cores.min(3)
    );
    let err = Dataset::text_file_with(dir.path(), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("partitions must be between 1 and 256, not 0"),
        "{err}"
    );
}

#[test]
fn text_file_reads_a_glob() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x.log", "x\n");
    write(dir.path(), "y.log", "y1\ny2\n");
    write(dir.path(), "z.txt", "z\n");
    let pattern = dir.path().join("*.log");
    let ds = Dataset::text_file_with(&pattern, 2).unwrap();
    assert_eq!(ds.partitions(), 2);
    assert_eq!(ds.collect().unwrap(), strings(&["x", "y1", "y2"]));
    assert_eq!(ds.count().unwrap(), 3);
}

#[test]
fn text_file_without_a_match_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Dataset::text_file(dir.path().join("missing.txt"));
    assert!(
        matches!(missing, Err(Error::Io { ref error, .. }) if error.kind() == std::io::ErrorKind::NotFound),
        "{:?}",
        missing.err()
    );
    let no_match = Dataset::text_file(dir.path().join("*.log"));
    assert!(matches!(no_match, Err(Error::Io { .. })));
    // An empty directory has no file either.
    assert!(Dataset::text_file(dir.path()).is_err());
    // A malformed pattern.
    let bad = Dataset::text_file(dir.path().join("[z-a"));
    assert!(matches!(
        bad,
        Err(Error::Pattern { .. }) | Err(Error::Io { .. })
    ));
}

#[test]
fn text_file_skips_lines_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mixed.txt"),
        b"good\n\xff\xfe bad\r\nalso good\r\n",
    )
    .unwrap();
    let ds = Dataset::text_file(dir.path().join("mixed.txt")).unwrap();
    assert_eq!(ds.collect().unwrap(), strings(&["good", "also good"]));
}

#[test]
fn text_file_reads_large_files_in_parts_and_keeps_every_line_in_order() {
    // Lines of many lengths, so the parts a file is read in (a few MiB each) end mid-line.
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for f in 0..2 {
        let mut text = String::new();
        for i in 0..120_000 {
            let line = format!("{f}-{i}-{}", "x".repeat(i % 97));
            text.push_str(&line);
            text.push('\n');
            expected.push(line);
        }
        assert!(text.len() > 5 << 20);
        write(dir.path(), &format!("big-{f}.txt"), &text);
    }
    for partitions in [1, 2] {
        let ds = Dataset::text_file_with(dir.path(), partitions).unwrap();
        assert_eq!(ds.collect().unwrap(), expected, "{partitions} partitions");
    }
}

#[test]
fn text_file_deleted_before_the_job_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gone.txt", "x\n");
    let ds = Dataset::text_file(dir.path().join("gone.txt")).unwrap();
    std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
    assert!(matches!(ds.collect(), Err(Error::Io { .. })));
    assert!(ds.count().is_err());
}

// ---------------------------------------------------------------- operators

#[test]
fn narrow_operators() {
    let ds = Dataset::parallelize((1..=6).collect::<Vec<i32>>(), 3);
    assert_eq!(
        ds.map(|x| x * 2).collect().unwrap(),
        vec![2, 4, 6, 8, 10, 12]
    );
    assert_eq!(ds.filter(|x| x % 3 == 0).collect().unwrap(), vec![3, 6]);
    assert_eq!(
        ds.flat_map(|x| std::iter::repeat_n(x, (x % 3) as usize))
            .collect()
            .unwrap(),
        vec![1, 2, 2, 4, 5, 5]
    );
    assert_eq!(
        ds.map_partitions(|p| vec![p.iter().sum::<i32>()])
            .collect()
            .unwrap(),
        vec![3, 7, 11]
    );
    assert_eq!(
        ds.glom().collect().unwrap(),
        vec![vec![1, 2], vec![3, 4], vec![5, 6]]
    );
}

#[test]
fn union_of_datasets() {
    let a = Dataset::parallelize(vec![1, 2, 3], 1);
    let b = Dataset::parallelize(vec![10, 20], 3);
    assert_eq!(
        sorted(a.union(&b).collect().unwrap()),
        vec![1, 2, 3, 10, 20]
    );
    assert_eq!(
        sorted(a.union(&a).collect().unwrap()),
        vec![1, 1, 2, 2, 3, 3]
    );
}

#[test]
fn repartition_of_a_dataset_spreads_records_over_n_partitions() {
    let ds = Dataset::parallelize((1..=12).collect::<Vec<i32>>(), 1);
    let re = ds.repartition(4);
    assert_eq!(re.partitions(), 4);
    let parts = re.glom().collect().unwrap();
    assert_eq!(
        parts.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 3, 3]
    );
    assert_eq!(
        sorted(parts.into_iter().flatten().collect()),
        (1..=12).collect::<Vec<_>>()
    );
    // Fewer partitions.
    let ds = Dataset::parallelize((1..=12).collect::<Vec<i32>>(), 6);
    let re = ds.repartition(2);
    assert_eq!(re.partitions(), 2);
    let parts = re.glom().collect().unwrap();
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![6, 6]);
    assert_eq!(re.count().unwrap(), 12);
}

fn pairs() -> Dataset<(String, i32)> {
    Dataset::parallelize(
        vec![
            (s("a"), 1),
            (s("b"), 2),
            (s("a"), 3),
            (s("c"), 4),
            (s("a"), 5),
            (s("b"), 6),
        ],
        3,
    )
}

#[test]
fn keyed_operators() {
    assert_eq!(
        sorted(pairs().reduce_by_key(|a, b| a + b).collect().unwrap()),
        vec![(s("a"), 9), (s("b"), 8), (s("c"), 4)]
    );
    assert_eq!(
        sorted(pairs().group_by_key().map_values(sorted).collect().unwrap()),
        vec![
            (s("a"), vec![1, 3, 5]),
            (s("b"), vec![2, 6]),
            (s("c"), vec![4])
        ]
    );
    assert_eq!(
        sorted(
            pairs()
                .combine_by_key(
                    |v| (v, 1),
                    |(s, n), v| (s + v, n + 1),
                    |(a, m), (b, n)| { (a + b, m + n) }
                )
                .collect()
                .unwrap()
        ),
        vec![(s("a"), (9, 3)), (s("b"), (8, 2)), (s("c"), (4, 1))]
    );
    assert_eq!(
        sorted(pairs().map_values(|v| v * 10).collect().unwrap()),
        vec![
            (s("a"), 10),
            (s("a"), 30),
            (s("a"), 50),
            (s("b"), 20),
            (s("b"), 60),
            (s("c"), 40)
        ]
    );
    assert_eq!(
        sorted(
            pairs()
                .filter(|(k, _)| k == "b")
                .flat_map_values(|v| vec![v, -v])
                .collect()
                .unwrap()
        ),
        vec![(s("b"), -6), (s("b"), -2), (s("b"), 2), (s("b"), 6)]
    );
    assert_eq!(
        sorted(
            Dataset::parallelize(strings(&["x", "y", "x"]), 2)
                .count_by_value()
                .collect()
                .unwrap()
        ),
        vec![(s("x"), 2), (s("y"), 1)]
    );
}

#[test]
fn joins_and_cogroup() {
    let left = Dataset::parallelize(vec![(s("a"), 1), (s("a"), 2), (s("b"), 3)], 2);
    let right = Dataset::parallelize(vec![(s("a"), 'p'), (s("c"), 'q'), (s("a"), 'r')], 3);
    assert_eq!(
        sorted(left.join(&right).collect().unwrap()),
        vec![
            (s("a"), (1, 'p')),
            (s("a"), (1, 'r')),
            (s("a"), (2, 'p')),
            (s("a"), (2, 'r'))
        ]
    );
    assert_eq!(
        sorted(left.left_outer_join(&right).collect().unwrap()),
        vec![
            (s("a"), (1, Some('p'))),
            (s("a"), (1, Some('r'))),
            (s("a"), (2, Some('p'))),
            (s("a"), (2, Some('r'))),
            (s("b"), (3, None))
        ]
    );
    assert_eq!(
        sorted(left.right_outer_join(&right).collect().unwrap()),
        vec![
            (s("a"), (Some(1), 'p')),
            (s("a"), (Some(1), 'r')),
            (s("a"), (Some(2), 'p')),
            (s("a"), (Some(2), 'r')),
            (s("c"), (None, 'q'))
        ]
    );
    assert_eq!(
        sorted(left.full_outer_join(&right).collect().unwrap()),
        vec![
            (s("a"), (Some(1), Some('p'))),
            (s("a"), (Some(1), Some('r'))),
            (s("a"), (Some(2), Some('p'))),
            (s("a"), (Some(2), Some('r'))),
            (s("b"), (Some(3), None)),
            (s("c"), (None, Some('q')))
        ]
    );
    assert_eq!(
        sorted(
            left.cogroup(&right)
                .map_values(|(v, w)| (sorted(v), sorted(w)))
                .collect()
                .unwrap()
        ),
        vec![
            (s("a"), (vec![1, 2], vec!['p', 'r'])),
            (s("b"), (vec![3], vec![])),
            (s("c"), (vec![], vec!['q']))
        ]
    );
    let empty = Dataset::parallelize(Vec::<(String, char)>::new(), 1);
    assert_eq!(left.join(&empty).collect().unwrap(), vec![]);
    assert_eq!(
        sorted(left.left_outer_join(&empty).collect().unwrap()),
        vec![
            (s("a"), (1, None)),
            (s("a"), (2, None)),
            (s("b"), (3, None))
        ]
    );
}

#[test]
fn batch_time_of_a_batch_job_is_zero() {
    let ds = Dataset::parallelize(vec![1, 2], 2);
    assert_eq!(
        ds.map(|x| (current_batch_time(), x)).collect().unwrap(),
        vec![(Some(BatchTime(0)), 1), (Some(BatchTime(0)), 2)]
    );
}

// ---------------------------------------------------------------- actions

#[test]
fn collect_count_take_reduce() {
    let ds = Dataset::parallelize((1..=10).collect::<Vec<i64>>(), 3);
    assert_eq!(ds.collect().unwrap(), (1..=10).collect::<Vec<_>>());
    assert_eq!(ds.count().unwrap(), 10);
    assert_eq!(ds.take(0).unwrap(), Vec::<i64>::new());
    assert_eq!(ds.take(4).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(ds.take(7).unwrap(), vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(ds.take(100).unwrap(), (1..=10).collect::<Vec<_>>());
    assert_eq!(ds.reduce(|a, b| a + b).unwrap(), Some(55));
    assert_eq!(ds.reduce(i64::max).unwrap(), Some(10));
    assert_eq!(
        Dataset::parallelize(vec![s("only")], 2)
            .reduce(|a, b| a + &b)
            .unwrap(),
        Some(s("only"))
    );
    // Actions can run again on the same dataset.
    assert_eq!(ds.count().unwrap(), 10);
    assert_eq!(ds.filter(|x| *x > 8).count().unwrap(), 2);
}

#[test]
fn save_as_text_files_writes_parts_and_success() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    Dataset::parallelize(strings(&["a", "b", "c"]), 2)
        .map(|x| x.repeat(2))
        .save_as_text_files(&out)
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["_SUCCESS", "part-00000", "part-00001"]);
    assert_eq!(
        std::fs::read_to_string(out.join("part-00000")).unwrap(),
        "aa\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("part-00001")).unwrap(),
        "bb\ncc\n"
    );
    assert_eq!(std::fs::read(out.join("_SUCCESS")).unwrap(), b"");
    // What was written reads back, _SUCCESS excepted.
    assert_eq!(
        Dataset::text_file(&out).unwrap().collect().unwrap(),
        strings(&["aa", "bb", "cc"])
    );
}

#[test]
fn save_as_text_files_of_an_empty_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("empty");
    Dataset::parallelize(Vec::<u8>::new(), 1)
        .save_as_text_files(&out)
        .unwrap();
    assert_eq!(std::fs::read(out.join("part-00000")).unwrap(), b"");
    assert!(out.join("_SUCCESS").is_file());
}

#[test]
fn word_count_over_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.txt", "the cat\nthe dog\n");
    write(dir.path(), "2.txt", "a cat\n");
    let counts = Dataset::text_file(dir.path())
        .unwrap()
        .flat_map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
        .count_by_value();
    assert_eq!(
        sorted(counts.collect().unwrap()),
        vec![(s("a"), 1), (s("cat"), 2), (s("dog"), 1), (s("the"), 2)]
    );
}
