//! The logical plan: what the public API builds and the runtime installs into every worker.
//!
//! A [`Plan<T>`] is one node of a directed acyclic graph of operators producing records of type
//! `T`. It holds a closure that installs the node (after its inputs) into a timely dataflow
//! scope. Plans are `Send + Sync` and shared: every worker thread installs the same plan into its
//! own copy of the dataflow, and a node consumed by several others is installed once per worker
//! (the [`Builder`] remembers what it installed).

mod builder;
mod count;
mod fuse;
mod memo;

pub(crate) use builder::{Builder, ReadSplit, SourceId, Split, WorkerEnv};
pub(crate) use fuse::{ChainInput, Head, Step, StepFn};

use crate::data::Data;
use crate::metrics::local::{self, OpTimer};
use crate::metrics::NodeKind;
use crate::time::with_batch_time;
use fuse::{AttachFn, Then};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;

/// A timely stream of Freshet records, timestamped with batch times in milliseconds.
pub(crate) type TStream<'s, T> = timely::dataflow::Stream<'s, u64, Vec<T>>;

static NEXT_NODE: AtomicU64 = AtomicU64::new(1);

/// A fresh id for a plan node or a source.
pub(crate) fn next_id() -> u64 {
    NEXT_NODE.fetch_add(1, Ordering::Relaxed)
}

/// Where a plan's records come from, as far as actions need to know.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lineage {
    /// The plan reads a live stream (it is a batch of a `DStream` inside `transform`), so it has
    /// no meaning outside the streaming context: batch actions on it are refused.
    pub streaming: bool,
    /// The number of partitions a batch job over this plan uses (at least 1).
    pub partitions: usize,
    /// How often the stream has batches, in milliseconds: a windowed stream has one at every
    /// slide (where a window ends), as Spark's windowed DStreams generate RDDs only then; 0:
    /// at every batch. Output operations are not called at the other batch times.
    pub slide: u64,
}

impl Lineage {
    /// The lineage of a node with inputs `a` and `b`: batches when either input has one.
    pub fn merge(&self, other: &Lineage) -> Lineage {
        Lineage {
            streaming: self.streaming || other.streaming,
            partitions: self.partitions.max(other.partitions),
            slide: match (self.slide, other.slide) {
                (0, _) | (_, 0) => 0,
                (a, b) if a == b => a,
                // Both fire at their common multiples, but each also alone: every batch.
                _ => 0,
            },
        }
    }
}

/// Installs one output operation (and everything upstream of it) into a worker's dataflow.
pub(crate) type InstallOutput = Arc<dyn for<'s> Fn(&mut Builder<'s>) + Send + Sync>;

type InstallFn<T> = dyn for<'s> Fn(&mut Builder<'s>) -> TStream<'s, T> + Send + Sync;

struct Node<T> {
    id: u64,
    name: String,
    kind: NodeKind,
    /// The name the user gave the node, shown in the pipeline graph.
    label: Mutex<Option<String>>,
    lineage: Lineage,
    install: Box<InstallFn<T>>,
    /// For a narrow step (`map`, `filter`, ...): how to fuse it, with the steps before it, into
    /// the operator that consumes it.
    chain: Option<Arc<AttachFn<T>>>,
    /// How many plan nodes and outputs read this node (a chain is fused only into a single one).
    consumers: AtomicUsize,
}

/// One node of the logical plan, producing records of type `T`.
pub(crate) struct Plan<T> {
    node: Arc<Node<T>>,
}

impl<T> Clone for Plan<T> {
    fn clone(&self) -> Self {
        Plan {
            node: Arc::clone(&self.node),
        }
    }
}

impl<T: Data> Plan<T> {
    /// A new source node (a stream source or a static dataset) installed by `install`.
    pub fn new<F>(name: impl Into<String>, lineage: Lineage, install: F) -> Self
    where
        F: for<'s> Fn(&mut Builder<'s>) -> TStream<'s, T> + Send + Sync + 'static,
    {
        Self::with_kind(name, NodeKind::Source, lineage, install)
    }

    /// A new node of `kind` installed by `install`.
    fn with_kind<F>(name: impl Into<String>, kind: NodeKind, lineage: Lineage, install: F) -> Self
    where
        F: for<'s> Fn(&mut Builder<'s>) -> TStream<'s, T> + Send + Sync + 'static,
    {
        Plan {
            node: Arc::new(Node {
                id: next_id(),
                name: name.into(),
                kind,
                label: Mutex::new(None),
                lineage,
                install: Box::new(install),
                chain: None,
                consumers: AtomicUsize::new(0),
            }),
        }
    }

    /// This plan, as read by one more consumer (a plan node or an output): every consumer
    /// holds its input through this, so that a narrow chain knows whether it may be fused.
    pub fn consumer(&self) -> Self {
        self.node.consumers.fetch_add(1, Ordering::Relaxed);
        self.clone()
    }

    /// A narrow node: `step` applied to every record of this node's stream. It is fused into
    /// the operator that consumes it (see [`fuse`](self::fuse)), or installed as one operator
    /// running the whole chain when it cannot be.
    pub fn narrow<U: Data>(&self, name: &str, step: Step<T, U>) -> Plan<U> {
        let parent = self.consumer();
        let id = next_id();
        let chain: Arc<AttachFn<U>> = Arc::new(move |b, op| {
            let inner = parent.attach(b, op);
            Box::new(Then::new(inner, &step, id))
        });
        let attach = Arc::clone(&chain);
        let op_name = name.to_string();
        Plan {
            node: Arc::new(Node {
                id,
                name: name.into(),
                kind: NodeKind::Operator,
                label: Mutex::new(None),
                lineage: self.lineage().clone(),
                install: Box::new(move |b: &mut Builder<'_>| materialize(b, &op_name, &*attach)),
                chain: Some(chain),
                consumers: AtomicUsize::new(0),
            }),
        }
    }

    /// Adds this node's records as an input of the operator `op` being built: through the
    /// fused chain of narrow steps ending here when this node is one read by nothing else and
    /// not installed yet, else from the node's stream.
    pub fn attach<'s>(
        &self,
        b: &mut Builder<'s>,
        op: &mut OperatorBuilder<'s, u64>,
    ) -> Box<dyn ChainInput<T>> {
        match &self.node.chain {
            Some(chain)
                if self.node.consumers.load(Ordering::Relaxed) <= 1
                    && b.memo().get::<T>(self.node.id).is_none() =>
            {
                let consumer = b.current_node();
                b.begin_node(self.node.id, &self.node.name, self.label(), self.node.kind);
                let input = chain(b, op);
                b.end_node();
                b.add_edge(self.node.id, consumer);
                input
            }
            _ => {
                let stream = self.stream(b);
                Box::new(Head::new(op.new_input(stream, Pipeline)))
            }
        }
    }

    /// A node that transforms this node's stream with `f`.
    pub fn derive<U: Data, F>(&self, name: &str, f: F) -> Plan<U>
    where
        F: for<'s> Fn(TStream<'s, T>, &mut Builder<'s>) -> TStream<'s, U> + Send + Sync + 'static,
    {
        self.derive_with(name, self.lineage().clone(), f)
    }

    /// Like [`derive`](Self::derive), for a node whose lineage differs from this node's (a
    /// `repartition` changes the number of partitions).
    pub fn derive_with<U: Data, F>(&self, name: &str, lineage: Lineage, f: F) -> Plan<U>
    where
        F: for<'s> Fn(TStream<'s, T>, &mut Builder<'s>) -> TStream<'s, U> + Send + Sync + 'static,
    {
        let parent = self.consumer();
        Plan::with_kind(
            name,
            NodeKind::Operator,
            lineage,
            move |b: &mut Builder<'_>| {
                let input = parent.stream(b);
                f(input, b)
            },
        )
    }

    /// Like [`derive`](Self::derive), for an operator that reads this node through
    /// [`attach`](Self::attach), so that a narrow chain ending here runs inside it.
    pub fn derive_fused<U: Data, F>(&self, name: &str, f: F) -> Plan<U>
    where
        F: for<'s> Fn(&Plan<T>, &mut Builder<'s>) -> TStream<'s, U> + Send + Sync + 'static,
    {
        self.derive_fused_with(name, self.lineage().clone(), f)
    }

    /// [`derive_fused`](Self::derive_fused) for a node whose lineage differs from this one's.
    pub fn derive_fused_with<U: Data, F>(&self, name: &str, lineage: Lineage, f: F) -> Plan<U>
    where
        F: for<'s> Fn(&Plan<T>, &mut Builder<'s>) -> TStream<'s, U> + Send + Sync + 'static,
    {
        let parent = self.consumer();
        Plan::with_kind(
            name,
            NodeKind::Operator,
            lineage,
            move |b: &mut Builder<'_>| f(&parent, b),
        )
    }

    /// Like [`derive`](Self::derive), for a windowed node that has batches every `slide` ms.
    pub fn derive_windowed<U: Data, F>(&self, name: &str, slide: u64, f: F) -> Plan<U>
    where
        F: for<'s> Fn(TStream<'s, T>, &mut Builder<'s>) -> TStream<'s, U> + Send + Sync + 'static,
    {
        let lineage = Lineage {
            slide,
            ..self.lineage().clone()
        };
        self.derive_with(name, lineage, f)
    }

    /// A node that combines this node's stream and `other`'s with `f`.
    pub fn derive2<U: Data, V: Data, F>(&self, other: &Plan<U>, name: &str, f: F) -> Plan<V>
    where
        F: for<'s> Fn(TStream<'s, T>, TStream<'s, U>, &mut Builder<'s>) -> TStream<'s, V>
            + Send
            + Sync
            + 'static,
    {
        let left = self.consumer();
        let right = other.consumer();
        let lineage = self.lineage().merge(other.lineage());
        Plan::with_kind(
            name,
            NodeKind::Operator,
            lineage,
            move |b: &mut Builder<'_>| {
                let l = left.stream(b);
                let r = right.stream(b);
                f(l, r, b)
            },
        )
    }

    /// A node that combines the streams of `plans` (at least one) with `f`, which receives
    /// them in the order of `plans`.
    pub fn derive_many<U: Data, F>(plans: &[Plan<T>], name: &str, f: F) -> Plan<U>
    where
        F: for<'s> Fn(Vec<TStream<'s, T>>, &mut Builder<'s>) -> TStream<'s, U>
            + Send
            + Sync
            + 'static,
    {
        let parents: Vec<Plan<T>> = plans.iter().map(Plan::consumer).collect();
        let lineage = parents
            .iter()
            .skip(1)
            .fold(parents[0].lineage().clone(), |acc, p| {
                acc.merge(p.lineage())
            });
        Plan::with_kind(
            name,
            NodeKind::Operator,
            lineage,
            move |b: &mut Builder<'_>| {
                let inputs = parents.iter().map(|p| p.stream(b)).collect();
                f(inputs, b)
            },
        )
    }

    /// The node's id (the one the pipeline graph and the metrics use).
    pub fn id(&self) -> u64 {
        self.node.id
    }

    /// The node's stream in the worker that `b` builds, installing the node on first use.
    pub fn stream<'s>(&self, b: &mut Builder<'s>) -> TStream<'s, T> {
        let consumer = b.current_node();
        let s = match b.memo().get::<T>(self.node.id) {
            Some(s) => s,
            None => {
                b.begin_node(self.node.id, &self.node.name, self.label(), self.node.kind);
                let s = (self.node.install)(b);
                // A fused chain counts its records itself.
                let s = if self.node.chain.is_some() {
                    s
                } else {
                    count::count_records(s, self.node.id)
                };
                b.end_node();
                b.memo().insert(self.node.id, s.clone());
                s
            }
        };
        b.add_edge(self.node.id, consumer);
        s
    }

    /// What the node reads from.
    pub fn lineage(&self) -> &Lineage {
        &self.node.lineage
    }

    /// The node's operator name.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// Gives the node a name to show in the pipeline graph.
    pub fn set_label(&self, label: String) {
        *self.node.label.lock().unwrap_or_else(|p| p.into_inner()) = Some(label);
    }

    /// The name the user gave the node, if any.
    pub fn label(&self) -> Option<String> {
        self.node
            .label
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Installs a chain of narrow steps as one operator whose output is the chain's records.
fn materialize<'s, T: Data>(
    b: &mut Builder<'s>,
    name: &str,
    attach: &AttachFn<T>,
) -> TStream<'s, T> {
    let mut op = OperatorBuilder::new(name.to_owned(), b.scope);
    let mut input = attach(b, &mut op);
    let (output, stream) = op.new_output::<Vec<T>>();
    let mut output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<T>>>::from(output);
    let node = local::installing();
    op.build(move |_capabilities| {
        let mut buf: Vec<T> = Vec::new();
        move |_frontiers| {
            let mut output = output.activate();
            let mut timer = OpTimer::start(node);
            input.for_each(&mut |cap, records| {
                let Some(&t) = cap.least() else { return };
                timer.batch(t);
                with_batch_time(t, || records(&mut |x| buf.push(x)));
                if !buf.is_empty() {
                    output.session(&cap).give_container(&mut buf);
                }
            });
        }
    });
    stream
}
