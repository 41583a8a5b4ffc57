//! `Dataset<T>`: a finite, partitioned collection (the RDD's role), for batch jobs and for the
//! batches of a stream inside [`DStream::transform`](crate::DStream::transform).
//!
//! Transformations are lazy: they build a plan. Actions (`collect`, `count`, `take`, `reduce`,
//! `save_as_text_files`) run the plan as a batch job with one worker thread per partition (at
//! most 256), and return its result.
//!
//! A dataset is split into partitions; partition `p` is processed by worker `p % workers`.
//! `glom` and `map_partitions` see one partition per worker.

use crate::collection::collection_ops;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::ops;
use crate::plan::{Builder, Lineage, Plan};
use crate::runtime::batch_job::run_batch_job;
use crate::source::file_stream::{ranges, read_range};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The most worker threads a batch job uses.
pub const MAX_BATCH_WORKERS: usize = 256;

/// A finite, partitioned collection of records of type `T`.
pub struct Dataset<T> {
    pub(crate) plan: Plan<T>,
}

impl<T> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset {
            plan: self.plan.clone(),
        }
    }
}

collection_ops!(Dataset);

impl<T: Data> Dataset<T> {
    pub(crate) fn from_plan(plan: Plan<T>) -> Self {
        Dataset { plan }
    }

    pub(crate) fn wrap<U: Data>(&self, plan: Plan<U>) -> Dataset<U> {
        Dataset { plan }
    }

    /// A dataset of `records`, cut into `partitions` contiguous slices (at least one).
    ///
    /// ```
    /// use freshet::Dataset;
    /// let ds = Dataset::parallelize(vec![1, 2, 3, 4], 2);
    /// assert_eq!(ds.map(|x| x * 10).collect()?, vec![10, 20, 30, 40]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn parallelize(records: Vec<T>, partitions: usize) -> Dataset<T> {
        let partitions = partitions.max(1);
        let n = records.len();
        let mut slices: Vec<Vec<T>> = Vec::with_capacity(partitions);
        let mut rest = records;
        for p in (0..partitions).rev() {
            slices.push(rest.split_off(n * p / partitions));
        }
        slices.reverse();
        let slices = Arc::new(slices);
        let lineage = Lineage {
            streaming: false,
            partitions,
            slide: 0,
        };
        Dataset::from_plan(Plan::new(
            "parallelize",
            lineage,
            move |b: &mut Builder<'_>| {
                let slices = Arc::clone(&slices);
                b.static_input(Arc::new(move |worker, peers, _env| {
                    let mut mine = Vec::new();
                    for (p, slice) in slices.iter().enumerate() {
                        if p % peers == worker {
                            mine.extend(slice.iter().cloned());
                        }
                    }
                    mine
                }))
            },
        ))
    }

    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        self.plan.lineage().partitions.max(1)
    }

    fn workers(&self) -> Result<usize> {
        if self.plan.lineage().streaming {
            return Err(Error::Plan(format!(
                "`{}` is part of a stream's batch (inside `transform`): it has no value outside the running stream, so actions such as collect or count cannot run on it; use the stream's output operations instead",
                self.plan.name()
            )));
        }
        Ok(self.partitions().min(MAX_BATCH_WORKERS))
    }

    /// All records, partition 0 first.
    pub fn collect(&self) -> Result<Vec<T>> {
        let workers = self.workers()?;
        let result: Arc<Mutex<Vec<T>>> = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&result);
        let plan = self.plan.consumer();
        run_batch_job(
            workers,
            Arc::new(move |b: &mut Builder<'_>| {
                let s = plan.stream(b);
                let sink = Arc::clone(&sink);
                let done =
                    ops::output::gather_each(s, &b.env, "collect", None, 0, move |_t, records| {
                        *sink.lock().unwrap_or_else(|p| p.into_inner()) = records;
                    });
                b.probe(done);
            }),
        )?;
        let records = std::mem::take(&mut *result.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(records)
    }

    /// The number of records.
    pub fn count(&self) -> Result<u64> {
        let counted = Dataset::from_plan(
            self.plan
                .derive("count", |s, b| ops::aggregate::count(s, &b.env)),
        );
        Ok({
            self.workers()?;
            counted.collect()?
        }
        .into_iter()
        .sum())
    }

    /// The first `n` records (partition 0 first).
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        let first = Dataset::from_plan(
            self.plan
                .derive("take", move |s, b| ops::output::take_local(s, &b.env, n)),
        );
        let mut records = {
            self.workers()?;
            first.collect()?
        };
        records.truncate(n);
        Ok(records)
    }

    /// All records folded with `f` (associative and commutative); `None` if there are none.
    pub fn reduce<F>(&self, f: F) -> Result<Option<T>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let f: Arc<dyn Fn(T, T) -> T + Send + Sync> = Arc::new(f);
        let reduced = Dataset::from_plan(self.plan.derive("reduce", move |s, b| {
            ops::aggregate::reduce(s, &b.env, f.clone())
        }));
        Ok({
            self.workers()?;
            reduced.collect()?
        }
        .pop())
    }

    /// Writes the records as text, one line each, to `dir/part-NNNNN` (one file per worker),
    /// then an empty `dir/_SUCCESS`.
    pub fn save_as_text_files(&self, dir: impl AsRef<Path>) -> Result<()>
    where
        T: std::fmt::Display,
    {
        let workers = self.workers()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let plan = self.plan.consumer();
        let target = dir.clone();
        let batch_dir: ops::output::BatchDir = Arc::new(move |_t| target.clone());
        run_batch_job(
            workers,
            Arc::new(move |b: &mut Builder<'_>| {
                let s = plan.stream(b);
                let done = ops::output::save_as_text(s, &b.env, batch_dir.clone(), 0);
                b.probe(done);
            }),
        )?;
        let success = dir.join("_SUCCESS");
        std::fs::write(&success, b"").map_err(|e| Error::io(&success, e))
    }
}

impl<T: crate::data::Key> Dataset<T> {
    /// The number of occurrences of each distinct record, as a dataset of `(record, count)`.
    pub fn count_by_value(&self) -> Dataset<(T, u64)> {
        self.map(|x| (x, 1u64)).reduce_by_key(|a, b| a + b)
    }
}

impl Dataset<String> {
    /// The lines of the text files at `path`: a file, a directory (its files, hidden ones
    /// excepted), or a glob pattern (`logs/*.log`), in as many partitions as the machine has
    /// cores (at most one per file). See [`text_file_with`](Self::text_file_with).
    ///
    /// A batch job reads each file in byte ranges of a few MiB, one at a time as the pipeline
    /// takes them, so its memory does not grow with the size of the files.
    pub fn text_file(path: impl AsRef<Path>) -> Result<Dataset<String>> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::text_file_in(path.as_ref(), cores)
    }

    /// The lines of the text files at `path` in `partitions` partitions (1 ..= 256; at most one
    /// per file), as Spark's `textFile(path, minPartitions)`. The files, sorted by name, are
    /// cut into contiguous runs, one per partition, so `collect` returns the lines in file
    /// order whatever the partition count.
    ///
    /// Fails if nothing matches or `partitions` is out of range. A file that cannot be read when
    /// the job runs fails the job.
    pub fn text_file_with(path: impl AsRef<Path>, partitions: usize) -> Result<Dataset<String>> {
        if !(1..=MAX_BATCH_WORKERS).contains(&partitions) {
            return Err(Error::Plan(format!(
                "text_file_with's partitions must be between 1 and {MAX_BATCH_WORKERS}, not {partitions}"
            )));
        }
        Self::text_file_in(path.as_ref(), partitions)
    }

    fn text_file_in(path: &Path, partitions: usize) -> Result<Dataset<String>> {
        let files = resolve_files(path)?;
        let partitions = partitions.clamp(1, files.len().max(1));
        // Partition p reads files [p * n / parts, (p + 1) * n / parts).
        let n = files.len();
        let runs: Vec<Vec<PathBuf>> = (0..partitions)
            .map(|p| files[p * n / partitions..(p + 1) * n / partitions].to_vec())
            .collect();
        let files = Arc::new(runs);
        let lineage = Lineage {
            streaming: false,
            partitions,
            slide: 0,
        };
        Ok(Dataset::from_plan(Plan::new(
            "text_file",
            lineage,
            move |b: &mut Builder<'_>| {
                let files = Arc::clone(&files);
                b.parts_input(Arc::new(move |worker, peers, env| {
                    let mine: Vec<PathBuf> = files
                        .iter()
                        .enumerate()
                        .filter(|(p, _)| p % peers == worker)
                        .flat_map(|(_, run)| run.iter().cloned())
                        .collect();
                    let shared = Arc::clone(&env.shared);
                    // Each file in byte ranges of a few MiB, read when the dataflow takes them.
                    Box::new(mine.into_iter().flat_map(ranges).map(move |range| {
                        let mut lines = Vec::new();
                        let path = range.path().to_path_buf();
                        let read = read_range(&range, &mut lines, &mut |what, _raw| {
                            shared.skip("text_file", &format!("{}: {what}", path.display()))
                        });
                        if let Err(e) = read {
                            shared.fail(Error::io(&path, e));
                        }
                        lines
                    }))
                }))
            },
        )))
    }
}

/// The files a path, directory or glob pattern names, sorted.
pub(crate) fn resolve_files(path: &Path) -> Result<Vec<PathBuf>> {
    let text = path.to_string_lossy().to_string();
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            let p = entry.path();
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
            if p.is_file() && !hidden {
                files.push(p);
            }
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        let paths = glob::glob(&text).map_err(|e| Error::Pattern {
            pattern: text.clone(),
            message: e.to_string(),
        })?;
        for p in paths {
            let p = p.map_err(|e| {
                Error::io(e.path().to_path_buf(), std::io::Error::other(e.to_string()))
            })?;
            if p.is_file() {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no file matches this path"),
        ));
    }
    files.sort();
    Ok(files)
}
