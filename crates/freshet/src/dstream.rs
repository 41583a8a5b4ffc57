//! `DStream<T>`: a discretized stream, the endless sequence of batches of a streaming pipeline.
//!
//! Every transformation applies to every batch independently (windowed and stateful operators
//! excepted): `stream.map(f)` is the stream whose batch `t` is `f` applied to batch `t`.
//! Output operations (`foreach_batch`, `print`, `save_as_text_files`) run once per batch, in
//! batch-time order; a batch is complete when every output operation has finished it.

use crate::collection::collection_ops;
use crate::data::{Data, Key};
use crate::dataset::Dataset;
use crate::metrics::PublishedOutput;
use crate::ops;
use crate::pipeline::{Output, Pipeline};
use crate::plan::{next_id, Builder, InstallOutput, Plan, SourceId};
use crate::sink::{Guarantee, Sink};
use crate::time::BatchTime;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A stream of batches of records of type `T`.
pub struct DStream<T> {
    pub(crate) plan: Plan<T>,
    pub(crate) ctx: Arc<Pipeline>,
    /// The source this stream comes straight from, if it does.
    pub(crate) source: Option<SourceId>,
}

impl<T> Clone for DStream<T> {
    fn clone(&self) -> Self {
        DStream {
            plan: self.plan.clone(),
            ctx: Arc::clone(&self.ctx),
            source: self.source,
        }
    }
}

collection_ops!(DStream);

impl<T: Data> DStream<T> {
    pub(crate) fn wrap<U: Data>(&self, plan: Plan<U>) -> DStream<U> {
        DStream {
            plan,
            ctx: Arc::clone(&self.ctx),
            source: None,
        }
    }

    /// Sets the stable id of the source this stream comes from (1 to 128 of
    /// `A-Z a-z 0-9 - _ .`): checkpoints and the batch log key the source's offsets by it, so a
    /// source keeps its offsets when sources are added before it or its address changes. By
    /// default it is the source's kind and ordinal among its kind (`text_file_stream-0`).
    ///
    /// Call it on the stream a source constructor returned; on any other stream `start()`
    /// fails and says so.
    pub fn uid(self, id: impl Into<String>) -> Self {
        match self.source {
            Some(source) => {
                let id = id.into();
                if self.plan.label().is_none() {
                    self.plan.set_label(id.clone());
                }
                self.ctx.set_source_uid(source, id)
            }
            None => self.ctx.problem(format!(
                "uid(\"{}\") names a source, but its stream is not one: call it on the stream a source constructor returned",
                id.into()
            )),
        }
        self
    }

    /// Names this stream's operator in the pipeline graph of the web UI and in its metrics
    /// (`map "parse clicks"`). The name is for people only: it does not identify the operator
    /// in checkpoints (that is [`uid`](Self::uid)'s job, for sources and outputs).
    pub fn name(self, name: impl Into<String>) -> Self {
        self.plan.set_label(name.into());
        self
    }

    /// Registers the output operation `install` of kind `kind` and returns its handle.
    fn output(
        &self,
        kind: &'static str,
        at_least_once: bool,
        install: impl FnOnce(u64, Arc<std::sync::OnceLock<String>>) -> InstallOutput,
    ) -> Output {
        let node = next_id();
        self.ctx
            .add_output(node, kind, at_least_once, |id| install(node, id));
        Output {
            pipeline: Arc::clone(&self.ctx),
            node,
        }
    }

    /// Writes every batch to `sink`: each worker opens its own writer and writes its partition
    /// of each batch, empty ones included, then commits it (see [`crate::sink`]).
    pub fn sink<S: Sink<T>>(&self, sink: S) -> Output {
        let at_least_once = sink.guarantee() == Guarantee::AtLeastOnce;
        let sink = Arc::new(sink);
        let plan = self.plan.consumer();
        let every = self.plan.lineage().slide;
        self.output("sink", at_least_once, move |node, output| {
            Arc::new(move |b: &mut Builder<'_>| {
                b.output(node, "sink", |b| {
                    let s = plan.stream(b);
                    let done = ops::sink::write_to_sink(
                        s,
                        &b.env,
                        Arc::clone(&sink),
                        Arc::clone(&output),
                        every,
                    );
                    b.probe(done);
                });
            })
        })
    }

    /// The number of records of each batch: one record per batch, `0` for an empty batch.
    pub fn count(&self) -> DStream<u64> {
        self.wrap(
            self.plan
                .derive("count", |s, b| ops::aggregate::count(s, &b.env)),
        )
    }

    /// Folds each non-empty batch into one record with `f` (associative and commutative).
    pub fn reduce<F>(&self, f: F) -> DStream<T>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let f: Arc<dyn Fn(T, T) -> T + Send + Sync> = Arc::new(f);
        self.wrap(self.plan.derive("reduce", move |s, b| {
            ops::aggregate::reduce(s, &b.env, f.clone())
        }))
    }

    /// Applies a batch function to every batch: `f` receives the batch as a [`Dataset`] and
    /// returns a `Dataset`, which becomes the output's batch.
    ///
    /// `f` is called once, when the pipeline is built, on a dataset that stands for "the current
    /// batch"; the plan it returns runs on every batch. So `f` may combine the batch with static
    /// datasets (a join with a reference table) and use every transformation, but cannot call
    /// actions such as `collect` on it. The batch time is available inside the operators'
    /// closures through [`current_batch_time`](crate::current_batch_time).
    pub fn transform<U, F>(&self, f: F) -> DStream<U>
    where
        U: Data,
        F: FnOnce(Dataset<T>) -> Dataset<U>,
    {
        let out = f(Dataset::from_plan(self.plan.clone()));
        self.wrap(out.plan)
    }

    /// Like [`transform`](Self::transform), with two streams whose batches of the same time are
    /// passed together.
    pub fn transform_with<U, V, F>(&self, other: &DStream<U>, f: F) -> DStream<V>
    where
        U: Data,
        V: Data,
        F: FnOnce(Dataset<T>, Dataset<U>) -> Dataset<V>,
    {
        let out = f(
            Dataset::from_plan(self.plan.clone()),
            Dataset::from_plan(other.plan.clone()),
        );
        self.wrap(out.plan)
    }

    /// Runs `f(time, records)` for every batch, in batch-time order, empty batches included.
    ///
    /// The batch is gathered on one worker (records of worker 0 first, then worker 1's, ...),
    /// so this suits results of moderate size: dashboards, alerts, small sinks.
    pub fn foreach_batch<F>(&self, f: F) -> Output
    where
        F: Fn(BatchTime, Vec<T>) + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let plan = self.plan.consumer();
        let every = self.plan.lineage().slide;
        self.output("foreach_batch", false, move |id, output| {
            Arc::new(move |b: &mut Builder<'_>| {
                b.output(id, "foreach_batch", |b| {
                    let s = plan.stream(b);
                    let f = f.clone();
                    let done = ops::output::gather_each(
                        s,
                        &b.env,
                        "foreach_batch",
                        Some(Arc::clone(&output)),
                        every,
                        move |t, records| f(BatchTime(t), records),
                    );
                    b.probe(done);
                });
            })
        })
    }

    /// Prints the first `n` records of every batch to standard output, under a header with the
    /// batch time (as Spark's `print`).
    pub fn print(&self, n: usize) -> Output
    where
        T: Debug,
    {
        let plan = self.plan.consumer();
        let every = self.plan.lineage().slide;
        self.output("print", false, move |id, output| {
            Arc::new(move |b: &mut Builder<'_>| {
                b.output(id, "print", |b| {
                    let s = plan.stream(b);
                    let first = ops::output::take_local(s, &b.env, n + 1);
                    let shared = b.env.shared.clone();
                    let done = ops::output::gather_each(
                        first,
                        &b.env,
                        "print",
                        Some(Arc::clone(&output)),
                        every,
                        move |t, records| {
                            print!("{}", ops::output::format_print(t, &records, n));
                            shared.metrics.publish(PublishedOutput::of(
                                "print",
                                t,
                                &records[..records.len().min(n)],
                                n,
                            ));
                        },
                    );
                    b.probe(done);
                });
            })
        })
    }

    /// Publishes the first `keep` records of every batch (formatted with `Debug`) under `name`,
    /// for the web UI's live results panel and
    /// [`StreamingContext::published_outputs`](crate::StreamingContext::published_outputs).
    pub fn publish(&self, name: impl Into<String>, keep: usize) -> Output
    where
        T: Debug,
    {
        let name: String = name.into();
        let plan = self.plan.consumer();
        let label = name.clone();
        let every = self.plan.lineage().slide;
        let output = self.output("publish", false, move |id, output| {
            Arc::new(move |b: &mut Builder<'_>| {
                let name = name.clone();
                b.output(id, "publish", |b| {
                    let s = plan.stream(b);
                    let shared = b.env.shared.clone();
                    let done = ops::output::gather_each(
                        s,
                        &b.env,
                        "publish",
                        Some(Arc::clone(&output)),
                        every,
                        move |t, records| {
                            shared
                                .metrics
                                .publish(PublishedOutput::of(&name, t, &records, keep));
                        },
                    );
                    b.probe(done);
                });
            })
        });
        self.ctx.set_output_label(output.node, label);
        output
    }

    /// Writes every batch as text files, one line per record: directory
    /// `<prefix>-<batch time in ms>[.<suffix>]` with one `part-NNNNN` file per worker.
    pub fn save_as_text_files(&self, prefix: impl Into<String>, suffix: Option<&str>) -> Output
    where
        T: std::fmt::Display,
    {
        let prefix = prefix.into();
        let suffix = suffix.map(str::to_string);
        let dir: ops::output::BatchDir = Arc::new(move |t| {
            PathBuf::from(match &suffix {
                Some(s) => format!("{prefix}-{t}.{s}"),
                None => format!("{prefix}-{t}"),
            })
        });
        let plan = self.plan.consumer();
        let every = self.plan.lineage().slide;
        self.output("save_as_text_files", false, move |id, _| {
            Arc::new(move |b: &mut Builder<'_>| {
                b.output(id, "save_as_text_files", |b| {
                    let s = plan.stream(b);
                    let done = ops::output::save_as_text(s, &b.env, dir.clone(), every);
                    b.probe(done);
                });
            })
        })
    }

    /// Keeps every batch in memory and returns a handle to read them: the output operation
    /// that tests use.
    pub fn collect_batches(&self) -> CollectedBatches<T> {
        let collected = CollectedBatches {
            batches: Arc::new(Mutex::new(Vec::new())),
        };
        let sink = collected.clone();
        let _ = self.foreach_batch(move |t, records| sink.lock().push((t, records)));
        collected
    }
}

impl<T: Key> DStream<T> {
    /// The number of occurrences of each distinct record of each batch.
    pub fn count_by_value(&self) -> DStream<(T, u64)> {
        self.map(|x| (x, 1u64)).reduce_by_key(|a, b| a + b)
    }
}

type BatchList<T> = Arc<Mutex<Vec<(BatchTime, Vec<T>)>>>;

/// The batches a [`DStream::collect_batches`] output has received so far.
pub struct CollectedBatches<T> {
    batches: BatchList<T>,
}

impl<T> Clone for CollectedBatches<T> {
    fn clone(&self) -> Self {
        CollectedBatches {
            batches: Arc::clone(&self.batches),
        }
    }
}

impl<T: Clone> CollectedBatches<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(BatchTime, Vec<T>)>> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every batch received so far, in batch-time order.
    pub fn batches(&self) -> Vec<(BatchTime, Vec<T>)> {
        self.lock().clone()
    }

    /// The records of every batch received so far, each batch sorted (for order-insensitive
    /// comparisons).
    pub fn sorted_batches(&self) -> Vec<Vec<T>>
    where
        T: Ord,
    {
        self.lock()
            .iter()
            .map(|(_, r)| {
                let mut r = r.clone();
                r.sort();
                r
            })
            .collect()
    }

    /// The records of batch `time`, if it has been received.
    pub fn batch(&self, time: BatchTime) -> Option<Vec<T>> {
        self.lock()
            .iter()
            .find(|(t, _)| *t == time)
            .map(|(_, r)| r.clone())
    }

    /// The number of batches received so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no batch has been received yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}
