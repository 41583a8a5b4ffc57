//! Remembered batches: Spark's `StreamingContext.remember(duration)` and
//! `DStream.slice(fromTime, toTime)`.
//!
//! A Freshet stream keeps no batch once every operator has finished it. To read past batches, ask
//! for them before `start()`: [`DStream::remembered`] registers an output operation that gathers
//! every batch of the stream on worker 0 and keeps it for the stream's *remember duration*, and
//! returns a [`RememberedBatches`] handle whose [`slice`](RememberedBatches::slice) returns the
//! kept batches with times in `[from, to]`. [`DStream::slice`] does the same through the stream.
//! Only remembered streams pay: the other streams keep nothing. A windowed stream has batches
//! only where a window ends (as Spark's windowed DStreams have RDDs only then), so it
//! remembers those only.
//!
//! The remember duration is Spark's: at least one slide of the stream (one batch interval, or a
//! window's slide for a windowed stream and the streams made from it), at least
//! [`StreamingContext::remember`]'s duration, and, for every processing-time window computed
//! from the stream (directly or through other operators), the remember duration of the windowed
//! stream plus the window's length. A batch at time `b` is dropped when batch
//! `t >= b + duration` arrives, so after batch `t` the kept batches are those in
//! `(t - duration, t]`.
//!
//! Kept batches live in memory only: they are not checkpointed, so after a restart from a
//! checkpoint a remembered stream holds the batches run since the restart (the replayed ones
//! included). Spark's rule that checkpointed streams remember twice their checkpoint interval
//! has no counterpart: Freshet's checkpoints do not read old batches.

use crate::context::StreamingContext;
use crate::data::Data;
use crate::dstream::DStream;
use crate::error::{Error, Result};
use crate::metrics::PipelineGraph;
use crate::ops;
use crate::pipeline::RememberRegistry;
use crate::plan::{next_id, Builder};
use crate::run::Phase;
use crate::time::{millis, BatchTime};
use crate::window::MAX_WINDOW_BATCHES;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The batches a remembered stream keeps (on worker 0).
struct Kept<T> {
    batches: Mutex<VecDeque<(BatchTime, Vec<T>)>>,
    /// How long batches are kept, in milliseconds; fixed at the first batch, when the whole
    /// pipeline is known.
    keep_ms: OnceLock<u64>,
}

impl<T> Kept<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(BatchTime, Vec<T>)>> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps batch `time` and forgets the batches `keep` or more milliseconds older.
    fn add(&self, time: BatchTime, records: Vec<T>, keep: u64) {
        let mut batches = self.lock();
        batches.push_back((time, records));
        while batches
            .front()
            .is_some_and(|(t, _)| t.0.saturating_add(keep) <= time.0)
        {
            batches.pop_front();
        }
    }
}

/// The batches of a stream kept for [`slice`](Self::slice): made by
/// [`DStream::remembered`]. Cloning the handle shares the batches.
pub struct RememberedBatches<T> {
    kept: Arc<Kept<T>>,
}

impl<T> Clone for RememberedBatches<T> {
    fn clone(&self) -> Self {
        RememberedBatches {
            kept: Arc::clone(&self.kept),
        }
    }
}

impl<T: Clone> RememberedBatches<T> {
    /// The remembered batches with times in `[from, to]`, oldest first, each with its records
    /// in the order `foreach_batch` sees them (Spark's `slice(fromTime, toTime)`). Batches
    /// older than the remember duration have been forgotten and are not returned; empty
    /// batches are returned (as Spark's empty RDDs). `from` after `to` is an error.
    ///
    /// While the context runs, a batch is here once the output has received it: inside an
    /// output operation of batch `t` (`foreach_batch`), the batches before `t` are here (with
    /// the default one batch in flight), batch `t` itself may not be yet.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{BatchTime, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// ctx.remember(Duration::from_millis(20))?;
    /// let kept = ctx.queue_stream(vec![vec![1], vec![2], vec![3]]).remembered();
    /// ctx.run_available_now()?;
    /// // The last 20 ms of batches: the last two.
    /// let batches = kept.slice(BatchTime(0), BatchTime(u64::MAX))?;
    /// let records: Vec<Vec<i32>> = batches.into_iter().map(|(_time, records)| records).collect();
    /// assert_eq!(records, vec![vec![2], vec![3]]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn slice(&self, from: BatchTime, to: BatchTime) -> Result<Vec<(BatchTime, Vec<T>)>> {
        check_range(from, to)?;
        Ok(self
            .kept
            .lock()
            .iter()
            .filter(|(t, _)| from <= *t && *t <= to)
            .cloned()
            .collect())
    }

    /// How long batches are kept: `None` until the first batch, when it is computed from the
    /// whole pipeline (see the [module docs](crate::remember)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)))?;
    /// let clicks = ctx.queue_stream(vec![vec![1], vec![2]]);
    /// let kept = clicks.remembered();
    /// // A window of 30 ms sliding by 10 ms over the stream: it remembers 30 + 10 ms.
    /// let _counts = clicks.window_every_batch(ms(30)).count().collect_batches();
    /// assert_eq!(kept.remember_duration(), None);
    /// ctx.run_available_now()?;
    /// assert_eq!(kept.remember_duration(), Some(ms(40)));
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn remember_duration(&self) -> Option<Duration> {
        self.kept.keep_ms.get().map(|ms| Duration::from_millis(*ms))
    }
}

fn check_range(from: BatchTime, to: BatchTime) -> Result<()> {
    if from > to {
        return Err(Error::Plan(format!(
            "slice(from = {from}, to = {to}): `from` must not be after `to` (slice returns the batches with from <= time <= to)"
        )));
    }
    Ok(())
}

impl StreamingContext {
    /// Makes every remembered stream keep its batches for at least `duration` (Spark's
    /// `ssc.remember`), so that [`slice`](RememberedBatches::slice) can read that far back.
    /// Only the streams made [`remembered`](DStream::remembered) keep batches; see the
    /// [module docs](crate::remember) for their full remember duration.
    ///
    /// `duration` must be a whole number of milliseconds from 1 ms to 1,000,000 batch
    /// intervals ([`MAX_WINDOW_BATCHES`]); call it before `start()`. A second call replaces
    /// the first (Spark refuses it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
    /// ctx.remember(Duration::from_secs(60))?;
    /// assert!(ctx.remember(Duration::ZERO).is_err());
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn remember(&self, duration: Duration) -> Result<()> {
        if self.inner.status.lock().phase != Phase::Created {
            return Err(Error::Plan(
                "remember() must be called before start()".into(),
            ));
        }
        let i = millis(self.batch_interval()).max(1);
        let max = i.saturating_mul(MAX_WINDOW_BATCHES);
        let ms = millis(duration);
        if ms == 0 || !duration.subsec_nanos().is_multiple_of(1_000_000) || ms > max {
            return Err(Error::Plan(format!(
                "the remember duration ({duration:?}) must be a whole number of milliseconds from 1ms to {:?} ({MAX_WINDOW_BATCHES} batch intervals)",
                Duration::from_millis(max)
            )));
        }
        *self
            .inner
            .pipeline
            .remember
            .context_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(ms);
        Ok(())
    }
}

impl<T: Data> DStream<T> {
    /// Keeps the batches of this stream for its remember duration and returns the handle that
    /// reads them (what Spark's `slice` needs; see the [module docs](crate::remember)). Call it
    /// before `start()`. It registers an output operation (kind `remember`) that gathers every
    /// batch on worker 0, so the batches cost memory there for the remember duration; calling
    /// it again on the same stream returns the same handle.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{BatchTime, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
    /// ctx.remember(Duration::from_secs(1))?;
    /// let lines = ctx.queue_stream(vec![vec!["a".to_string()], vec!["b".to_string()]]);
    /// let kept = lines.remembered();
    /// ctx.run_available_now()?;
    /// let all = kept.slice(BatchTime(0), BatchTime(u64::MAX))?;
    /// assert_eq!(all.len(), 2);
    /// assert_eq!(all[1].1, vec!["b".to_string()]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn remembered(&self) -> RememberedBatches<T> {
        let node = self.plan.id();
        let registry = Arc::clone(&self.ctx.remember);
        let mut all = registry.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = all
            .get(&node)
            .and_then(|k| Arc::clone(k).downcast::<Kept<T>>().ok())
        {
            return RememberedBatches { kept };
        }
        let kept = Arc::new(Kept {
            batches: Mutex::new(VecDeque::new()),
            keep_ms: OnceLock::new(),
        });
        all.insert(node, Arc::clone(&kept) as Arc<dyn Any + Send + Sync>);
        drop(all);
        let interval = millis(self.ctx.config.batch_interval()).max(1);
        // A windowed stream has batches (and remembers them) only where a window ends.
        let every = self.plan.lineage().slide;
        let plan = self.plan.consumer();
        let store = Arc::clone(&kept);
        let output = next_id();
        self.ctx
            .add_output(output, "remember", false, move |resolved| {
                Arc::new(move |b: &mut Builder<'_>| {
                    b.output(output, "remember", |b| {
                        let s = plan.stream(b);
                        let store = Arc::clone(&store);
                        let registry = Arc::clone(&registry);
                        let shared = b.env.shared.clone();
                        let done = ops::output::gather_each(
                            s,
                            &b.env,
                            "remember",
                            Some(Arc::clone(&resolved)),
                            every,
                            move |t, records| {
                                let keep = *store.keep_ms.get_or_init(|| {
                                    let graph = shared.metrics.graph();
                                    remember_ms(&registry, &graph, node, every, interval)
                                });
                                store.add(BatchTime(t), records, keep);
                            },
                        );
                        b.probe(done);
                    });
                })
            });
        RememberedBatches { kept }
    }

    /// The batches of this stream with times in `[from, to]` that it remembers (Spark's
    /// `slice(fromTime, toTime)`): [`RememberedBatches::slice`] of the handle
    /// [`remembered`](Self::remembered) returned, which must have been called on this stream
    /// before `start()` (otherwise this is an error that says so).
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::{BatchTime, StreamingConfig, StreamingContext};
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
    /// ctx.remember(Duration::from_secs(1))?;
    /// let numbers = ctx.queue_stream(vec![vec![1, 2], vec![3]]);
    /// numbers.remembered();
    /// ctx.run_available_now()?;
    /// let records: usize = numbers
    ///     .slice(BatchTime(0), BatchTime(u64::MAX))?
    ///     .iter()
    ///     .map(|(_, b)| b.len())
    ///     .sum();
    /// assert_eq!(records, 3);
    /// assert!(numbers.map(|x| x * 2).slice(BatchTime(0), BatchTime(1)).is_err());
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn slice(&self, from: BatchTime, to: BatchTime) -> Result<Vec<(BatchTime, Vec<T>)>> {
        check_range(from, to)?;
        let kept = self
            .ctx
            .remember
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.plan.id())
            .and_then(|k| Arc::clone(k).downcast::<Kept<T>>().ok());
        match kept {
            Some(kept) => RememberedBatches { kept }.slice(from, to),
            None => Err(Error::Plan(
                "slice() reads the batches a stream remembers: call remembered() on this stream before start()".into(),
            )),
        }
    }
}

/// The remember duration of plan node `node`, whose batches come every `slide` ms (0: every
/// batch), in milliseconds (Spark's rules, see the module docs), read off the pipeline graph.
fn remember_ms(
    registry: &RememberRegistry,
    graph: &PipelineGraph,
    node: u64,
    slide: u64,
    interval: u64,
) -> u64 {
    let context = registry
        .context_ms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or(0);
    let windows = registry
        .windows
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut spans = Spans {
        interval,
        context,
        windows,
        children: HashMap::new(),
        parents: HashMap::new(),
        slides: HashMap::new(),
        remember: HashMap::new(),
    };
    for e in &graph.edges {
        spans.children.entry(e.from).or_default().push(e.to);
        spans.parents.entry(e.to).or_default().push(e.from);
    }
    let slide = slide.max(spans.slide(node));
    spans.slides.insert(node, slide);
    spans.remember(node)
}

/// The slide and remember duration of the nodes of a pipeline graph, in milliseconds.
struct Spans {
    interval: u64,
    context: u64,
    /// Window nodes: (length, slide).
    windows: HashMap<u64, (u64, u64)>,
    children: HashMap<u64, Vec<u64>>,
    parents: HashMap<u64, Vec<u64>>,
    slides: HashMap<u64, u64>,
    remember: HashMap<u64, u64>,
}

impl Spans {
    /// A window's slide; otherwise the largest slide of the node's inputs (a source: the batch
    /// interval).
    fn slide(&mut self, node: u64) -> u64 {
        if let Some(&s) = self.slides.get(&node) {
            return s;
        }
        self.slides.insert(node, self.interval); // a guard, should the graph have a cycle
        let s = match self.windows.get(&node) {
            Some(&(_, slide)) => slide,
            None => {
                let parents = self.parents.get(&node).cloned().unwrap_or_default();
                parents
                    .into_iter()
                    .map(|p| self.slide(p))
                    .max()
                    .unwrap_or(self.interval)
            }
        };
        self.slides.insert(node, s);
        s
    }

    /// Spark's `rememberDuration`: at least the slide and the context's duration, and for
    /// every consumer, its remember duration (plus its length if it is a window).
    fn remember(&mut self, node: u64) -> u64 {
        if let Some(&r) = self.remember.get(&node) {
            return r;
        }
        let base = self.slide(node).max(self.context);
        self.remember.insert(node, base); // a guard, should the graph have a cycle
        let children = self.children.get(&node).cloned().unwrap_or_default();
        let mut r = base;
        for c in children {
            let len = self.windows.get(&c).map_or(0, |w| w.0);
            r = r.max(self.remember(c).saturating_add(len));
        }
        self.remember.insert(node, r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::GraphEdge;

    fn graph(edges: &[(u64, u64)]) -> PipelineGraph {
        PipelineGraph {
            nodes: Vec::new(),
            edges: edges
                .iter()
                .map(|&(from, to)| GraphEdge { from, to })
                .collect(),
        }
    }

    #[test]
    fn spark_rules() {
        let registry = RememberRegistry::default();
        // 1 → 2 (map) → 3 (window 300 / 200) → 4 (window 1000 / 400) → 5 (output)
        //   ↘ 6 (output)
        let g = graph(&[(1, 2), (2, 3), (3, 4), (4, 5), (1, 6)]);
        assert_eq!(remember_ms(&registry, &g, 1, 0, 100), 100);
        registry.windows.lock().unwrap().insert(3, (300, 200));
        registry.windows.lock().unwrap().insert(4, (1000, 400));
        // Node 4 remembers its slide, 400; node 3 that plus 1000 (and at least its slide);
        // nodes 2 and 1 that plus 300.
        assert_eq!(remember_ms(&registry, &g, 4, 0, 100), 400);
        assert_eq!(remember_ms(&registry, &g, 3, 0, 100), 1400);
        assert_eq!(remember_ms(&registry, &g, 1, 0, 100), 1700);
        assert_eq!(remember_ms(&registry, &g, 6, 0, 100), 100);
        *registry.context_ms.lock().unwrap() = Some(5000);
        assert_eq!(remember_ms(&registry, &g, 6, 0, 100), 5000);
        assert_eq!(remember_ms(&registry, &g, 1, 0, 100), 6300);
    }

    #[test]
    fn kept_batches_are_those_within_the_duration() {
        let kept = Kept {
            batches: Mutex::new(VecDeque::new()),
            keep_ms: OnceLock::new(),
        };
        for t in 1..=5 {
            kept.add(BatchTime(t * 100), vec![t], 300);
        }
        let times: Vec<u64> = kept.lock().iter().map(|(t, _)| t.0).collect();
        assert_eq!(times, vec![300, 400, 500]);
        assert!(check_range(BatchTime(2), BatchTime(1)).is_err());
        assert!(check_range(BatchTime(1), BatchTime(1)).is_ok());
    }
}
