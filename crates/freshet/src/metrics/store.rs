//! The figures of one run, shared by the workers, the driver and readers.

use super::health_log::HealthLog;
use super::StateSize;
use super::{
    GraphEdge, GraphNode, NodeKind, OperatorFigures, PipelineGraph, PublishedOutput, ReceiverState,
    SourceStatus,
};
use crate::time::BatchTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How many batches of per-operator figures are kept.
const KEPT_BATCHES: usize = 1000;
/// How many batches the source rate is computed over.
const RATE_BATCHES: usize = 10;

#[derive(Default)]
struct Figures {
    records: u64,
    busy_ns: u64,
}

struct NodeEntry {
    name: String,
    kind: NodeKind,
    records_total: u64,
}

struct SourceEntry {
    name: String,
    receiver: bool,
    records_total: u64,
    recent: VecDeque<(u64, u64)>,
    state: ReceiverState,
    last_error: Option<String>,
    errors: u64,
    restarts: u64,
    lag: Option<u64>,
    partition_lag: Vec<(String, u64)>,
    rate_limit: Option<f64>,
}

#[derive(Default)]
struct Inner {
    nodes: BTreeMap<u64, NodeEntry>,
    edges: BTreeSet<GraphEdge>,
    per_batch: BTreeMap<u64, BTreeMap<u64, Figures>>,
    /// Per batch, the nanoseconds each worker's operators ran.
    worker_busy: BTreeMap<u64, Vec<u64>>,
    /// Per worker, the nanoseconds its operators ran since the start.
    worker_busy_total: Vec<u64>,
    /// The names users gave nodes.
    labels: BTreeMap<u64, String>,
    last_completed: Option<u64>,
    sources: BTreeMap<u64, SourceEntry>,
    outputs: BTreeMap<String, PublishedOutput>,
    /// Keys held per (stateful operator node, worker).
    state: BTreeMap<(u64, usize), u64>,
}

/// The figures of one run.
#[derive(Default)]
pub(crate) struct MetricsStore {
    inner: Mutex<Inner>,
    /// Checkpoints, incidents, output durations and watermarks.
    pub health: HealthLog,
    /// In a process other than the driver: where the workers' figures are also sent, so the
    /// driver shows the whole job.
    forward: Mutex<Option<crossbeam_channel::Sender<FigureUpdate>>>,
}

/// A figure a worker added, as sent on to the driver of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum FigureUpdate {
    /// A worker's operator figures: `(node, time, records, busy ns)`.
    Operators {
        worker: usize,
        entries: Vec<(u64, u64, u64, u64)>,
    },
    /// Records a source fed into a batch.
    SourceRecords {
        source: u64,
        time: u64,
        records: u64,
    },
    /// A worker's keyed state size.
    StateSize { node: u64, worker: usize, keys: u64 },
}

impl MetricsStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the workers' figures to `to` too (`None`: stops sending).
    pub fn forward_to(&self, to: Option<crossbeam_channel::Sender<FigureUpdate>>) {
        *self.forward.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }

    fn send_on(&self, message: impl FnOnce() -> FigureUpdate) {
        if let Some(tx) = &*self.forward.lock().unwrap_or_else(|p| p.into_inner()) {
            let _ = tx.send(message());
        }
    }

    /// Records a node of the pipeline graph, with the name the user gave it, if any.
    pub fn add_node(&self, id: u64, name: &str, label: Option<String>, kind: NodeKind) {
        let mut inner = self.lock();
        inner.nodes.entry(id).or_insert_with(|| NodeEntry {
            name: name.to_string(),
            kind,
            records_total: 0,
        });
        if let Some(label) = label {
            inner.labels.entry(id).or_insert(label);
        }
    }

    /// Names node `id` (an output's id or publish name, set when the run starts).
    pub fn set_label(&self, id: u64, label: String) {
        self.lock().labels.insert(id, label);
    }

    /// A node's display name: its operator name, with the user's label if there is one.
    pub fn display_name(&self, id: u64) -> String {
        let inner = self.lock();
        let name = inner.nodes.get(&id).map_or("", |n| n.name.as_str());
        match inner.labels.get(&id) {
            Some(label) => format!("{name} \"{label}\""),
            None => name.to_string(),
        }
    }

    /// Records an edge of the pipeline graph.
    pub fn add_edge(&self, from: u64, to: u64) {
        if from != 0 && to != 0 && from != to {
            self.lock().edges.insert(GraphEdge { from, to });
        }
    }

    /// Records a source.
    pub fn add_source(&self, id: u64, name: &str, receiver: bool) {
        self.lock()
            .sources
            .entry(id)
            .or_insert_with(|| SourceEntry {
                name: name.to_string(),
                receiver,
                records_total: 0,
                recent: VecDeque::new(),
                state: if receiver {
                    ReceiverState::Running
                } else {
                    ReceiverState::NotAReceiver
                },
                last_error: None,
                errors: 0,
                restarts: 0,
                lag: None,
                partition_lag: Vec::new(),
                rate_limit: None,
            });
    }

    /// Adds what another process of a cluster forwarded.
    pub fn apply(&self, update: FigureUpdate) {
        match update {
            FigureUpdate::Operators { worker, entries } => {
                self.add_operator_figures(worker, &entries)
            }
            FigureUpdate::SourceRecords {
                source,
                time,
                records,
            } => self.add_source_records(source, time, records),
            FigureUpdate::StateSize { node, worker, keys } => {
                self.set_state_size(node, worker, keys)
            }
        }
    }

    /// Adds worker `worker`'s operator figures: `(node, time, records, busy ns)`.
    pub fn add_operator_figures(&self, worker: usize, entries: &[(u64, u64, u64, u64)]) {
        self.send_on(|| FigureUpdate::Operators {
            worker,
            entries: entries.to_vec(),
        });
        // The worker's busy time per batch, summed before the lock is taken (a flush holds
        // entries of one or two batches).
        let mut busy: Vec<(u64, u64)> = Vec::with_capacity(2);
        for &(_, time, _, ns) in entries.iter().filter(|e| e.3 > 0) {
            match busy.iter_mut().find(|(t, _)| *t == time) {
                Some((_, sum)) => *sum = sum.saturating_add(ns),
                None => busy.push((time, ns)),
            }
        }
        let mut inner = self.lock();
        for &(node, time, records, busy_ns) in entries {
            if inner.last_completed.is_some_and(|c| time <= c)
                && !inner.per_batch.contains_key(&time)
            {
                continue;
            }
            let f = inner
                .per_batch
                .entry(time)
                .or_default()
                .entry(node)
                .or_default();
            f.records += records;
            f.busy_ns = f.busy_ns.saturating_add(busy_ns);
            if records > 0 {
                if let Some(n) = inner.nodes.get_mut(&node) {
                    n.records_total += records;
                }
            }
        }
        if inner.worker_busy_total.len() <= worker {
            inner.worker_busy_total.resize(worker + 1, 0);
        }
        for (time, ns) in busy {
            let per_worker = inner.worker_busy.entry(time).or_default();
            if per_worker.len() <= worker {
                per_worker.resize(worker + 1, 0);
            }
            per_worker[worker] = per_worker[worker].saturating_add(ns);
            let total = &mut inner.worker_busy_total[worker];
            *total = total.saturating_add(ns);
        }
    }

    /// Counts the records a source fed into batch `time`.
    pub fn add_source_records(&self, source: u64, time: u64, records: u64) {
        self.send_on(|| FigureUpdate::SourceRecords {
            source,
            time,
            records,
        });
        let mut inner = self.lock();
        if let Some(s) = inner.sources.get_mut(&source) {
            s.records_total += records;
            match s.recent.back_mut() {
                Some((t, n)) if *t == time => *n += records,
                _ => {
                    s.recent.push_back((time, records));
                    // Kept as long as the batch list, so a batch's detail has its sources.
                    if s.recent.len() > KEPT_BATCHES {
                        s.recent.pop_front();
                    }
                }
            }
        }
    }

    /// Sets a receiver's state and last error, counting errors and restarts (a receiver that
    /// runs again after a failure); returns whether this was a restart.
    pub fn set_receiver_state(
        &self,
        source: u64,
        state: ReceiverState,
        error: Option<String>,
    ) -> bool {
        let mut inner = self.lock();
        let Some(s) = inner.sources.get_mut(&source) else {
            return false;
        };
        let restart = state == ReceiverState::Running && s.state == ReceiverState::Restarting;
        if restart {
            s.restarts += 1;
        }
        s.state = state;
        if error.is_some() {
            s.errors += 1;
            s.last_error = error;
        }
        restart
    }

    /// Sets how far a source is behind its input, in total and per partition.
    pub fn set_lag(&self, source: u64, lag: Option<u64>, partitions: Vec<(String, u64)>) {
        if let Some(s) = self.lock().sources.get_mut(&source) {
            s.lag = lag;
            s.partition_lag = partitions;
        }
    }

    /// Sets the rate a source admits now (records/s; `None`: no limit).
    pub fn set_rate_limit(&self, source: u64, limit: Option<f64>) {
        if let Some(s) = self.lock().sources.get_mut(&source) {
            s.rate_limit = limit;
        }
    }

    /// The records source `source` fed into batch `time`, if the store still has that batch.
    pub fn records_of(&self, source: u64, time: u64) -> Option<u64> {
        let inner = self.lock();
        let s = inner.sources.get(&source)?;
        s.recent.iter().find(|(t, _)| *t == time).map(|(_, n)| *n)
    }

    /// Sets how many keys `worker`'s part of stateful operator `node` holds.
    pub fn set_state_size(&self, node: u64, worker: usize, keys: u64) {
        self.send_on(|| FigureUpdate::StateSize { node, worker, keys });
        if node != 0 {
            self.lock().state.insert((node, worker), keys);
        }
    }

    /// The keys each stateful operator holds, summed over the workers.
    pub fn state_sizes(&self) -> Vec<StateSize> {
        let inner = self.lock();
        let mut sums: BTreeMap<u64, u64> = BTreeMap::new();
        for ((node, _), keys) in &inner.state {
            *sums.entry(*node).or_default() += keys;
        }
        sums.into_iter()
            .map(|(node, keys)| StateSize {
                node,
                name: inner
                    .nodes
                    .get(&node)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                keys,
            })
            .collect()
    }

    /// Stores the latest batch of an output.
    pub fn publish(&self, output: PublishedOutput) {
        self.lock().outputs.insert(output.name.clone(), output);
    }

    /// Notes that batch `time` completed and forgets figures of old batches.
    pub fn batch_completed(&self, time: u64) {
        let mut inner = self.lock();
        inner.last_completed = Some(inner.last_completed.map_or(time, |c| c.max(time)));
        while inner.per_batch.len() > KEPT_BATCHES {
            inner.per_batch.pop_first();
        }
        while inner.worker_busy.len() > KEPT_BATCHES {
            inner.worker_busy.pop_first();
        }
    }

    /// The time each worker's operators ran for batch `time`.
    pub fn worker_busy(&self, time: u64) -> Vec<Duration> {
        self.lock()
            .worker_busy
            .get(&time)
            .map(|w| w.iter().map(|ns| Duration::from_nanos(*ns)).collect())
            .unwrap_or_default()
    }

    /// The time each worker's operators ran since the start.
    pub fn worker_busy_total(&self) -> Vec<Duration> {
        self.lock()
            .worker_busy_total
            .iter()
            .map(|ns| Duration::from_nanos(*ns))
            .collect()
    }

    /// The pipeline graph with record counts.
    pub fn graph(&self) -> PipelineGraph {
        let inner = self.lock();
        let last = inner.last_completed.and_then(|t| inner.per_batch.get(&t));
        let mut nodes: Vec<GraphNode> = inner
            .nodes
            .iter()
            .map(|(id, n)| GraphNode {
                id: *id,
                name: n.name.clone(),
                label: inner.labels.get(id).cloned(),
                kind: n.kind,
                records_total: n.records_total,
                records_last_batch: last.and_then(|b| b.get(id)).map_or(0, |f| f.records),
            })
            .collect();
        nodes.sort_by_key(|n| (n.kind, n.id));
        PipelineGraph {
            nodes,
            edges: inner.edges.iter().copied().collect(),
        }
    }

    /// Each operator's figures for batch `time`, in pipeline order.
    pub fn operators(&self, time: u64) -> Vec<OperatorFigures> {
        let inner = self.lock();
        let Some(batch) = inner.per_batch.get(&time) else {
            return Vec::new();
        };
        let out = |id: &u64| batch.get(id).map_or(0, |f| f.records);
        inner
            .nodes
            .iter()
            .map(|(id, n)| {
                let f = batch.get(id);
                OperatorFigures {
                    node: *id,
                    name: n.name.clone(),
                    records_in: inner
                        .edges
                        .iter()
                        .filter(|e| e.to == *id)
                        .map(|e| out(&e.from))
                        .sum(),
                    records_out: out(id),
                    busy: Duration::from_nanos(f.map_or(0, |f| f.busy_ns)),
                }
            })
            .collect()
    }

    /// The records each source fed into batch `time`.
    pub fn source_records(&self, time: u64) -> Vec<(String, u64)> {
        self.lock()
            .sources
            .values()
            .map(|s| {
                let n = s
                    .recent
                    .iter()
                    .find(|(t, _)| *t == time)
                    .map_or(0, |(_, n)| *n);
                (s.name.clone(), n)
            })
            .collect()
    }

    /// The figures of every source.
    pub fn sources(&self, interval: Duration) -> Vec<SourceStatus> {
        self.lock()
            .sources
            .iter()
            .map(|(id, s)| {
                let window = s.recent.len().min(RATE_BATCHES);
                let recent: u64 = s.recent.iter().rev().take(window).map(|(_, n)| n).sum();
                let span = interval.as_secs_f64() * window.max(1) as f64;
                SourceStatus {
                    id: *id,
                    name: s.name.clone(),
                    records_total: s.records_total,
                    last_batch_records: s.recent.back().map_or(0, |(_, n)| *n),
                    rate_per_sec: if span > 0.0 {
                        recent as f64 / span
                    } else {
                        0.0
                    },
                    lag: s.lag,
                    partition_lag: s.partition_lag.clone(),
                    rate_limit: s.rate_limit,
                    state: if s.receiver {
                        s.state.clone()
                    } else {
                        ReceiverState::NotAReceiver
                    },
                    last_error: s.last_error.clone(),
                    errors: s.errors,
                    restarts: s.restarts,
                }
            })
            .collect()
    }

    /// The latest batch of every published output.
    pub fn outputs(&self) -> Vec<PublishedOutput> {
        self.lock().outputs.values().cloned().collect()
    }
}

impl PublishedOutput {
    /// A published batch of `records`, keeping the first `keep` formatted.
    pub(crate) fn of<T: std::fmt::Debug>(
        name: &str,
        time: u64,
        records: &[T],
        keep: usize,
    ) -> Self {
        PublishedOutput {
            name: name.to_string(),
            time: BatchTime(time),
            records: records
                .iter()
                .take(keep)
                .map(|r| format!("{r:?}"))
                .collect(),
            total: records.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_per_partition_is_kept_next_to_the_total() {
        let store = MetricsStore::default();
        store.add_source(7, "kafka-0", false);
        store.add_source(8, "queue_stream-1", false);
        let status = store.sources(Duration::from_millis(100));
        assert!(status.iter().all(|s| s.partition_lag.is_empty()));
        store.set_lag(
            7,
            Some(8),
            vec![("t/0".to_string(), 7), ("t/1".to_string(), 1)],
        );
        store.set_lag(8, Some(2), Vec::new());
        store.set_lag(9, Some(1), vec![("x/0".to_string(), 1)]);
        let status = store.sources(Duration::from_millis(100));
        assert_eq!(status.len(), 2);
        assert_eq!(status[0].lag, Some(8));
        assert_eq!(
            status[0].partition_lag,
            vec![("t/0".to_string(), 7), ("t/1".to_string(), 1)]
        );
        assert_eq!(status[1].lag, Some(2));
        assert!(status[1].partition_lag.is_empty());
        store.set_lag(7, Some(0), vec![("t/0".to_string(), 0)]);
        let status = store.sources(Duration::from_millis(100));
        assert_eq!(status[0].partition_lag, vec![("t/0".to_string(), 0)]);
    }
}
