//! A windowed stream has batches only where a window ends (Spark's windowed DStreams generate
//! RDDs only at slide times): `foreach_batch`, sinks, text files and `transform_each_batch`
//! are not called at the other batch times; operators after the window keep its cadence; a
//! union with a stream that has every batch has every batch.

use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::testing::run_operation;
use freshet::{BatchTime, DStream, Dataset, SinkError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn times<T: Clone>(out: &freshet::testing::OperationOutput<T>) -> Vec<u64> {
    out.batches().iter().map(|(t, _)| t.0).collect()
}

#[test]
fn outputs_of_a_windowed_stream_run_where_windows_end() {
    for workers in [1, 4] {
        let out = run_operation(
            vec![vec![1], vec![2], vec![3], vec![4], vec![5]],
            workers,
            |s: DStream<i32>| s.window(ms(200), ms(200)).map(|x| x * 10),
        )
        .unwrap();
        assert_eq!(times(&out), vec![200, 400], "{workers} workers");
        assert_eq!(out.sorted(), vec![vec![10, 20], vec![30, 40]]);
    }
}

#[test]
fn a_union_with_a_stream_of_every_batch_has_every_batch() {
    let out = run_operation(vec![vec![1], vec![2], vec![3]], 2, |s: DStream<i32>| {
        s.window(ms(200), ms(200)).union(&s.map(|x| x + 100))
    })
    .unwrap();
    assert_eq!(times(&out), vec![100, 200, 300]);
    assert_eq!(out.sorted(), vec![vec![101], vec![1, 2, 102], vec![103]]);
}

#[test]
fn transform_each_batch_runs_where_windows_end() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let out = run_operation(vec![vec![1], vec![2], vec![3], vec![4]], 2, move |s| {
        s.window(ms(200), ms(200))
            .transform_each_batch(move |t: BatchTime, batch: Dataset<i32>| {
                seen.lock().unwrap().push(t.0);
                Ok(Dataset::parallelize(vec![batch.count()?], 1))
            })
    })
    .unwrap();
    assert_eq!(*calls.lock().unwrap(), vec![200, 400]);
    assert_eq!(out.sorted(), vec![vec![2], vec![2]]);
}

/// Records the batch times each writer commits.
#[derive(Clone, Default)]
struct Commits(Arc<Mutex<Vec<u64>>>);

impl Sink<i32> for Commits {
    type Writer = Commits;
    fn open(&self, _ctx: &SinkContext) -> Result<Commits, SinkError> {
        Ok(self.clone())
    }
    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

impl SinkWriter<i32> for Commits {
    fn write(&mut self, _time: BatchTime, _records: &[i32]) -> Result<(), SinkError> {
        Ok(())
    }
    fn commit(&mut self, time: BatchTime) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(time.0);
        Ok(())
    }
}

#[test]
fn sinks_and_text_files_are_written_where_windows_end() {
    let commits = Commits::default();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("out").display().to_string();
    let sink = commits.clone();
    run_operation(vec![vec![1], vec![2], vec![3], vec![4]], 1, move |s| {
        let w = s.window(ms(200), ms(200));
        w.sink(sink);
        w.save_as_text_files(prefix, None);
        w
    })
    .unwrap();
    assert_eq!(*commits.0.lock().unwrap(), vec![200, 400]);
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, vec!["out-200", "out-400"]);
}
