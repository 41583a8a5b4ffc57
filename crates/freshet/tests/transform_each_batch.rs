//! `transform_each_batch`: a function called at every batch with the batch as a dataset, on
//! which actions run: it counts and branches, joins with a dataset loaded for this batch, sees
//! the batch time, and an error it returns stops the job naming the batch. Golden results with
//! 1 and 4 workers.

use freshet::testing::run_operation;
use freshet::{current_batch_time, BatchTime, DStream, Dataset, Error};
use std::path::PathBuf;
use std::sync::Arc;

#[test]
fn counts_and_branches_on_each_batch() {
    for workers in [1, 4] {
        let out = run_operation(
            vec![vec![1, 2], vec![], vec![3, 4, 5, 6]],
            workers,
            |s: DStream<u64>| {
                s.transform_each_batch(|_, batch: Dataset<u64>| {
                    let n = batch.count()?;
                    Ok(if n >= 3 {
                        batch.map(move |x| x * 100 + n)
                    } else {
                        Dataset::parallelize(vec![n], 1)
                    })
                })
            },
        )
        .unwrap();
        assert_eq!(
            out.sorted(),
            vec![
                vec![2],
                vec![0],
                vec![104, 204, 304, 404, 504, 604][2..].to_vec()
            ],
            "with {workers} workers"
        );
    }
}

#[test]
fn joins_each_batch_with_a_dataset_loaded_for_it() {
    // The reference table of batch t is in prices-<t>.txt: it changes from batch to batch.
    let dir = tempfile::tempdir().unwrap();
    for (t, table) in [(100, "apple 3\npear 5\n"), (200, "apple 4\npear 6\n")] {
        std::fs::write(dir.path().join(format!("prices-{t}.txt")), table).unwrap();
    }
    let dir: Arc<PathBuf> = Arc::new(dir.keep());
    for workers in [1, 4] {
        let dir = Arc::clone(&dir);
        let out = run_operation(
            vec![
                vec!["apple".to_string(), "pear".into(), "apple".into()],
                vec!["pear".into(), "kiwi".into()],
            ],
            workers,
            move |orders: DStream<String>| {
                orders.transform_each_batch(move |time: BatchTime, batch| {
                    let prices = Dataset::text_file(dir.join(format!("prices-{}.txt", time.0)))?
                        .map(|line: String| {
                            let (name, price) = line.split_once(' ').unwrap();
                            (name.to_string(), price.parse::<u64>().unwrap())
                        });
                    Ok(batch
                        .map(|name: String| (name, ()))
                        .join(&prices)
                        .map(|(name, ((), price))| (name, price)))
                })
            },
        )
        .unwrap();
        assert_eq!(
            out.sorted(),
            vec![
                vec![
                    ("apple".to_string(), 3),
                    ("apple".to_string(), 3),
                    ("pear".to_string(), 5)
                ],
                vec![("pear".to_string(), 6)],
            ],
            "with {workers} workers"
        );
    }
    std::fs::remove_dir_all(&*dir).unwrap();
}

#[test]
fn the_function_sees_its_batch_time() {
    let out = run_operation(vec![vec![1u8], vec![2], vec![3]], 2, |s: DStream<u8>| {
        s.transform_each_batch(|time, _batch| {
            assert_eq!(current_batch_time(), Some(time));
            Ok(Dataset::parallelize(vec![time.0], 1))
        })
    })
    .unwrap();
    assert_eq!(out.sorted(), vec![vec![100], vec![200], vec![300]]);
}

#[test]
fn an_error_stops_the_job_naming_the_batch() {
    let err = run_operation(vec![vec![1u8], vec![2]], 2, |s: DStream<u8>| {
        s.transform_each_batch(|time, batch| {
            if time == BatchTime(200) {
                Dataset::text_file("/no/such/reference/table")?;
            }
            Ok(batch)
        })
    })
    .unwrap_err();
    match &err {
        Error::Operator { operator, .. } => {
            assert!(
                operator.contains("transform_each_batch (batch 200 ms)"),
                "{err}"
            )
        }
        other => panic!("expected an operator error, got {other:?}"),
    }
    assert!(
        err.to_string().contains("/no/such/reference/table"),
        "{err}"
    );
}
