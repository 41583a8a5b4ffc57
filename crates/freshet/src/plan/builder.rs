//! The per-worker state used while a plan is installed into a timely dataflow.

use super::memo::Memo;
use super::TStream;
use crate::data::Data;
use crate::metrics::{local, NodeKind};
use crate::run::Shared;
use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Probe;
use timely::dataflow::{InputHandle, ProbeHandle, Scope};

/// Identifies a streaming source registered with a context.
pub(crate) type SourceId = u64;

/// What the driver hands one worker for one source and one batch: records, file names, offset
/// ranges... each source knows its own type.
pub(crate) type Split = Box<dyn Any + Send>;

/// Facts about the worker and the run that operators need while they run.
pub(crate) struct WorkerEnv {
    /// This worker's index.
    pub index: usize,
    /// The number of workers.
    pub peers: usize,
    /// The first batch time of this run (after a recovery: the first replayed batch).
    pub first_time: u64,
    /// The first batch time of the pipeline's first run, kept across recoveries from
    /// checkpoints (processing-time windows align on it); `first_time` unless set.
    pub origin: u64,
    /// The batch interval in milliseconds (1 for batch jobs).
    pub interval: u64,
    /// The latest batch time fed into this worker's inputs.
    last_fed: Cell<Option<u64>>,
    /// State shared by every worker and the driver.
    pub shared: Arc<Shared>,
    /// Operator state restored from a checkpoint, if the run recovers from one.
    pub restored: Option<Arc<crate::durability::RestoredState>>,
    /// The snapshot functions of the stateful operators installed so far, in order.
    states: std::cell::RefCell<Vec<SnapshotFn>>,
    /// The names of the plan nodes being installed, innermost last.
    installing: std::cell::RefCell<Vec<String>>,
}

impl WorkerEnv {
    pub fn new(
        index: usize,
        peers: usize,
        first_time: u64,
        interval: u64,
        shared: Arc<Shared>,
    ) -> Self {
        WorkerEnv {
            index,
            peers,
            first_time,
            origin: first_time,
            interval: interval.max(1),
            last_fed: Cell::new(None),
            shared,
            restored: None,
            states: std::cell::RefCell::new(Vec::new()),
            installing: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// `error`, as raised by the operator being installed.
    pub fn operator_error(&self, error: crate::error::Error) -> crate::error::Error {
        crate::error::Error::Operator {
            operator: self.operator_name(),
            error: Box::new(error),
        }
    }

    /// The name of the operator being installed, for errors it raises later, while it runs
    /// (when [`operator_error`](Self::operator_error) no longer knows it).
    pub fn operator_name(&self) -> String {
        self.installing
            .borrow()
            .last()
            .cloned()
            .unwrap_or_else(|| "operator".into())
    }

    /// Registers the state of a stateful operator for checkpoints: `snapshot` serializes this
    /// worker's part of it. Returns the serialized parts to restore it from (one per worker of
    /// the run that wrote the checkpoint; empty on a fresh start). State slots are numbered in
    /// installation order, which is the same whenever the same pipeline code is installed.
    pub fn register_state(&self, snapshot: SnapshotFn) -> Vec<Vec<u8>> {
        let mut states = self.states.borrow_mut();
        let slot = states.len();
        states.push(snapshot);
        self.restored
            .as_ref()
            .map(|r| r.slot(slot))
            .unwrap_or_default()
    }

    /// The plan node being installed (0: none).
    pub fn current_node(&self) -> u64 {
        crate::metrics::local::installing()
    }

    /// The latest batch time fed into this worker's inputs.
    pub fn last_fed(&self) -> Option<u64> {
        self.last_fed.get()
    }

    /// Records that batch `t` has been fed.
    pub fn set_last_fed(&self, t: u64) {
        self.last_fed
            .set(Some(self.last_fed.get().map_or(t, |l| l.max(t))));
    }
}

/// One input of a worker's dataflow, fed by the worker loop at every batch.
pub(crate) trait WorkerInput {
    /// The streaming source this input belongs to, or `None` for a static dataset (which is fed
    /// its whole partition at every batch).
    fn source(&self) -> Option<SourceId>;
    /// Takes batch `time`, with this worker's split of the batch if the source planned one; its
    /// records are read and sent by [`pump`](Self::pump).
    fn feed(&mut self, time: u64, split: Option<Split>, env: &WorkerEnv);
    /// Sends at most `max` records of the batch into the dataflow, reading the next part of the
    /// split when the records read so far are sent (so a large split is never in memory
    /// whole). Returns how many it sent and whether some remain.
    fn pump(&mut self, max: usize, env: &WorkerEnv) -> (u64, bool);
    /// Promises that no more records come before `time`.
    fn advance_to(&mut self, time: u64);
    /// Closes the input: no more records come.
    fn close(&mut self);
}

type Handle<T> = InputHandle<u64, CapacityContainerBuilder<Vec<T>>>;

/// Moves an input that is still open forward to `time`, if it is behind.
fn advance<T: Data>(handle: &mut Option<Handle<T>>, time: u64) {
    if let Some(h) = handle.as_mut() {
        if *h.time() < time {
            h.advance_to(time);
        }
    }
}

/// Reads the next part of a split of a streaming source into records; returns whether the
/// split has more parts.
pub(crate) type ReadSplit<T> =
    Arc<dyn Fn(&mut Split, &mut Vec<T>, &WorkerEnv) -> bool + Send + Sync>;

/// Produces this worker's partition of a static dataset: `(worker, peers) -> records`.
pub(crate) type MakePartition<T> = Arc<dyn Fn(usize, usize, &WorkerEnv) -> Vec<T> + Send + Sync>;

/// Produces this worker's partition of a static dataset as parts read one at a time:
/// `(worker, peers) -> parts`.
pub(crate) type MakeParts<T> =
    Arc<dyn Fn(usize, usize, &WorkerEnv) -> Box<dyn Iterator<Item = Vec<T>>> + Send + Sync>;

struct SourceInput<T: Data> {
    id: SourceId,
    /// Its plan node (reading is charged to it as busy time), and the batch being read.
    node: u64,
    time: u64,
    handle: Option<Handle<T>>,
    read: ReadSplit<T>,
    /// The part of this batch's split not read yet.
    unread: Option<Split>,
    pending: Pending<T>,
}

/// Records fed but not yet sent into the dataflow.
///
/// Sending a worker's whole split as one container would make every operator materialise the
/// whole batch (hundreds of MB of fresh memory for a large split); sending it in chunks, with a
/// dataflow step between chunks, lets each chunk flow through the pipeline while it is in cache.
struct Pending<T> {
    records: std::collections::VecDeque<T>,
}

impl<T> Pending<T> {
    fn new() -> Self {
        Pending {
            records: std::collections::VecDeque::new(),
        }
    }

    fn hold(&mut self, records: Vec<T>) {
        if self.records.is_empty() {
            self.records = records.into();
        } else {
            self.records.extend(records);
        }
    }

    /// Sends up to `max` records through `handle`; returns how many, and whether some remain.
    fn pump(&mut self, handle: Option<&mut Handle<T>>, max: usize) -> (u64, bool)
    where
        T: Data,
    {
        if self.records.is_empty() {
            return (0, false);
        }
        let Some(handle) = handle else {
            self.records.clear();
            return (0, false);
        };
        let n = max.max(1).min(self.records.len());
        let mut chunk: Vec<T> = self.records.drain(..n).collect();
        handle.send_batch(&mut chunk);
        if self.records.is_empty() {
            // Give the (possibly large) allocation back.
            self.records = std::collections::VecDeque::new();
            (n as u64, false)
        } else {
            (n as u64, true)
        }
    }
}

impl<T: Data> WorkerInput for SourceInput<T> {
    fn source(&self) -> Option<SourceId> {
        Some(self.id)
    }

    fn feed(&mut self, time: u64, split: Option<Split>, _env: &WorkerEnv) {
        let (Some(handle), Some(split)) = (self.handle.as_mut(), split) else {
            return;
        };
        handle.advance_to(time);
        self.time = time;
        self.unread = Some(split);
    }

    fn pump(&mut self, max: usize, env: &WorkerEnv) -> (u64, bool) {
        if self.pending.records.is_empty() {
            if let Some(split) = self.unread.as_mut() {
                let mut records = Vec::new();
                let mut timer = local::OpTimer::start(self.node);
                timer.batch(self.time);
                let more = (self.read)(split, &mut records, env);
                drop(timer);
                if !more {
                    self.unread = None;
                }
                self.pending.hold(records);
            }
        }
        let (sent, more) = self.pending.pump(self.handle.as_mut(), max);
        (sent, more || self.unread.is_some())
    }

    fn advance_to(&mut self, time: u64) {
        advance(&mut self.handle, time);
    }

    fn close(&mut self) {
        self.handle = None;
    }
}

struct StaticInput<T: Data> {
    handle: Option<Handle<T>>,
    make: MakePartition<T>,
    cache: Option<Vec<T>>,
    reuse: bool,
    pending: Pending<T>,
}

impl<T: Data> WorkerInput for StaticInput<T> {
    fn source(&self) -> Option<SourceId> {
        None
    }

    fn feed(&mut self, time: u64, _split: Option<Split>, env: &WorkerEnv) {
        let Some(handle) = self.handle.as_mut() else {
            return;
        };
        handle.advance_to(time);
        if self.cache.is_none() {
            self.cache = Some((self.make)(env.index, env.peers, env));
        }
        let data = if self.reuse {
            self.cache.clone().unwrap_or_default()
        } else {
            self.cache.take().unwrap_or_default()
        };
        self.pending.hold(data);
    }

    fn pump(&mut self, max: usize, _env: &WorkerEnv) -> (u64, bool) {
        self.pending.pump(self.handle.as_mut(), max)
    }

    fn advance_to(&mut self, time: u64) {
        advance(&mut self.handle, time);
    }

    fn close(&mut self) {
        self.handle = None;
    }
}

/// A static dataset of a batch job read part by part as the dataflow takes it, so that no more
/// than a part and what is in flight is in memory at once.
struct PartsInput<T: Data> {
    handle: Option<Handle<T>>,
    make: MakeParts<T>,
    /// The parts not read yet.
    parts: Option<Box<dyn Iterator<Item = Vec<T>>>>,
    pending: Pending<T>,
}

impl<T: Data> WorkerInput for PartsInput<T> {
    fn source(&self) -> Option<SourceId> {
        None
    }

    fn feed(&mut self, time: u64, _split: Option<Split>, env: &WorkerEnv) {
        let Some(handle) = self.handle.as_mut() else {
            return;
        };
        handle.advance_to(time);
        self.parts = Some((self.make)(env.index, env.peers, env));
    }

    fn pump(&mut self, max: usize, _env: &WorkerEnv) -> (u64, bool) {
        while self.pending.records.is_empty() {
            match self.parts.as_mut().and_then(Iterator::next) {
                Some(part) => self.pending.hold(part),
                None => {
                    self.parts = None;
                    break;
                }
            }
        }
        let (sent, more) = self.pending.pump(self.handle.as_mut(), max);
        (sent, more || self.parts.is_some())
    }

    fn advance_to(&mut self, time: u64) {
        advance(&mut self.handle, time);
    }

    fn close(&mut self) {
        self.handle = None;
    }
}

/// Installs plans into one worker's dataflow.
pub(crate) struct Builder<'s> {
    /// The timely scope being built.
    pub scope: Scope<'s, u64>,
    /// Facts about this worker.
    pub env: Rc<WorkerEnv>,
    /// Whether static datasets are fed at every batch (a stream) or once (a batch job).
    streaming: bool,
    memo: Memo<'s>,
    inputs: Vec<Box<dyn WorkerInput>>,
    probe: ProbeHandle<u64>,
    nodes: Vec<u64>,
}

/// Serializes one operator's state on this worker for a checkpoint.
pub(crate) type SnapshotFn = Rc<dyn Fn() -> Vec<u8>>;

/// What a worker installed: its inputs, the probe that tells when batches are complete, and
/// the snapshot functions of its stateful operators (in installation order).
pub(crate) struct Installed {
    pub inputs: Vec<Box<dyn WorkerInput>>,
    pub probe: ProbeHandle<u64>,
    pub states: Vec<SnapshotFn>,
}

impl<'s> Builder<'s> {
    /// A builder for `scope`.
    pub fn new(scope: Scope<'s, u64>, env: Rc<WorkerEnv>, streaming: bool) -> Self {
        Builder {
            scope,
            env,
            streaming,
            memo: Memo::new(),
            inputs: Vec::new(),
            probe: ProbeHandle::new(),
            nodes: Vec::new(),
        }
    }

    pub(super) fn memo(&mut self) -> &mut Memo<'s> {
        &mut self.memo
    }

    /// Starts installing plan node `id`: the operators built until [`end_node`](Self::end_node)
    /// belong to it. Worker 0 records the node in the pipeline graph.
    pub fn begin_node(&mut self, id: u64, name: &str, label: Option<String>, kind: NodeKind) {
        if self.env.index == 0 {
            self.env.shared.metrics.add_node(id, name, label, kind);
        }
        self.nodes.push(id);
        self.env.installing.borrow_mut().push(name.to_string());
        local::set_installing(id);
    }

    /// Ends the node begun last.
    pub fn end_node(&mut self) {
        self.nodes.pop();
        self.env.installing.borrow_mut().pop();
        local::set_installing(self.current_node());
    }

    /// The node being installed (0: none).
    pub fn current_node(&self) -> u64 {
        self.nodes.last().copied().unwrap_or(0)
    }

    /// Records that records flow from node `from` to node `to` (worker 0 only).
    pub fn add_edge(&mut self, from: u64, to: u64) {
        if self.env.index == 0 {
            self.env.shared.metrics.add_edge(from, to);
        }
    }

    /// Installs the output operation `id` named `name` with `install`.
    pub fn output(&mut self, id: u64, name: &str, install: impl FnOnce(&mut Self)) {
        self.begin_node(id, name, None, NodeKind::Output);
        install(self);
        self.end_node();
    }

    /// A new input fed by streaming source `id`, whose splits `read` turns into records.
    pub fn source_input<T: Data>(&mut self, id: SourceId, read: ReadSplit<T>) -> TStream<'s, T> {
        let mut handle: Handle<T> = InputHandle::new();
        let stream = handle.to_stream(self.scope);
        let node = self.current_node();
        self.inputs.push(Box::new(SourceInput {
            id,
            node,
            time: 0,
            handle: Some(handle),
            read,
            unread: None,
            pending: Pending::new(),
        }));
        stream
    }

    /// A new input that carries this worker's partition of a static dataset at every batch.
    pub fn static_input<T: Data>(&mut self, make: MakePartition<T>) -> TStream<'s, T> {
        let mut handle: Handle<T> = InputHandle::new();
        let stream = handle.to_stream(self.scope);
        self.inputs.push(Box::new(StaticInput {
            handle: Some(handle),
            make,
            cache: None,
            reuse: self.streaming,
            pending: Pending::new(),
        }));
        stream
    }

    /// A new input that carries this worker's partition of a static dataset, produced in
    /// parts: a batch job reads one part at a time as the dataflow takes them; a stream, which
    /// feeds the whole partition at every batch, reads them all once and keeps them.
    pub fn parts_input<T: Data>(&mut self, make: MakeParts<T>) -> TStream<'s, T> {
        if self.streaming {
            return self.static_input(Arc::new(move |worker, peers, env| {
                make(worker, peers, env).flatten().collect()
            }));
        }
        let mut handle: Handle<T> = InputHandle::new();
        let stream = handle.to_stream(self.scope);
        self.inputs.push(Box::new(PartsInput {
            handle: Some(handle),
            make,
            parts: None,
            pending: Pending::new(),
        }));
        stream
    }

    /// Marks `stream` as an output whose progress decides when a batch is complete.
    pub fn probe<T: Data>(&mut self, stream: TStream<'s, T>) {
        stream.probe_with(&self.probe);
    }

    /// What was installed.
    pub fn finish(self) -> Installed {
        Installed {
            inputs: self.inputs,
            probe: self.probe,
            states: self.env.states.take(),
        }
    }
}
