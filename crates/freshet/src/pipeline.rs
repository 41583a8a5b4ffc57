//! What a pipeline is built of before it runs: its sources and its output operations, each
//! with a stable id. The public builders (`StreamingContext`, `DStream`) add to it; the runtime
//! takes it whole when the context starts.

use crate::config::StreamingConfig;
use crate::error::{Error, Result};
use crate::plan::{InstallOutput, SourceId};
use crate::source::planner::SourcePlanner;
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

/// A registered source.
pub(crate) struct SourceEntry {
    pub planner: Box<dyn SourcePlanner>,
    /// The id the user set, if any.
    pub uid: Option<String>,
}

/// A registered output operation.
pub(crate) struct OutputEntry {
    /// Its node in the plan.
    pub node: u64,
    /// What kind of output it is (`sink`, `print`, ...).
    pub kind: &'static str,
    /// The id the user set, if any.
    pub uid: Option<String>,
    /// The name shown in the pipeline graph (a `publish` name), if any.
    pub label: Option<String>,
    /// The id it runs under, set when the run starts (the install closure reads it).
    pub resolved: Arc<OnceLock<String>>,
    pub install: InstallOutput,
    /// Whether rewriting a replayed batch duplicates output (an at-least-once sink).
    pub at_least_once: bool,
}

/// Sources and outputs with their resolved stable ids, ready to run.
pub(crate) struct Resolved {
    pub sources: Vec<(String, Box<dyn SourcePlanner>)>,
    pub outputs: Vec<OutputEntry>,
}

#[derive(Default)]
struct Registry {
    sources: Vec<SourceEntry>,
    outputs: Vec<OutputEntry>,
    /// Mistakes found while building, reported by `start()`.
    problems: Vec<String>,
    taken: bool,
}

/// What remembering batches for `slice` needs (`StreamingContext::remember`,
/// `DStream::remembered`; see the `remember` module). Held apart from the pipeline so that
/// output operations can keep it without keeping the pipeline.
#[derive(Default)]
pub(crate) struct RememberRegistry {
    /// The duration set by `StreamingContext::remember`, in milliseconds.
    pub context_ms: Mutex<Option<u64>>,
    /// The processing-time windows: plan node → (length, slide) in milliseconds.
    pub windows: Mutex<HashMap<u64, (u64, u64)>>,
    /// The remembered streams: plan node → its store of batches (an `Arc<Kept<T>>`).
    pub kept: Mutex<HashMap<u64, Arc<dyn Any + Send + Sync>>>,
}

/// The pipeline under construction.
pub(crate) struct Pipeline {
    pub config: StreamingConfig,
    /// Whether a graceful end runs one last batch in which open event-time windows are emitted.
    pub flush_at_end: AtomicBool,
    /// Remembered streams and what decides how long they remember.
    pub remember: Arc<RememberRegistry>,
    registry: Mutex<Registry>,
}

impl Pipeline {
    pub fn new(config: StreamingConfig) -> Self {
        Pipeline {
            config,
            flush_at_end: AtomicBool::new(false),
            remember: Arc::default(),
            registry: Mutex::new(Registry::default()),
        }
    }

    /// Records that plan node `node` is a processing-time window of `len` sliding by `slide`
    /// (milliseconds): the streams it reads remember `len` more of their batches for `slice`.
    pub fn note_window(&self, node: u64, len: u64, slide: u64) {
        self.remember
            .windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node, (len, slide));
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a source.
    pub fn add_source(&self, planner: Box<dyn SourcePlanner>) -> SourceId {
        let id = planner.id();
        let mut r = self.registry();
        if r.taken {
            r.problems
                .push("a source was added after the context started".into());
        }
        r.sources.push(SourceEntry { planner, uid: None });
        id
    }

    /// Registers an output operation; `install` receives the cell its id will be in.
    pub fn add_output(
        &self,
        node: u64,
        kind: &'static str,
        at_least_once: bool,
        install: impl FnOnce(Arc<OnceLock<String>>) -> InstallOutput,
    ) {
        let resolved = Arc::new(OnceLock::new());
        let install = install(Arc::clone(&resolved));
        let mut r = self.registry();
        if r.taken {
            r.problems
                .push("an output was added after the context started".into());
        }
        r.outputs.push(OutputEntry {
            node,
            kind,
            uid: None,
            label: None,
            resolved,
            install,
            at_least_once,
        });
    }

    /// Records a mistake made while building; `start()` reports it.
    pub fn problem(&self, message: String) {
        self.registry().problems.push(message);
    }

    /// Sets the stable id of source `id`.
    pub fn set_source_uid(&self, id: SourceId, uid: String) {
        let mut r = self.registry();
        match r.sources.iter_mut().find(|s| s.planner.id() == id) {
            Some(s) => s.uid = Some(uid),
            None => r.problems.push(format!(
                "uid(\"{uid}\") names a source, but its stream is not one: call it on the stream a source constructor returned"
            )),
        }
    }

    /// Sets the name the pipeline graph shows for the output at plan node `node`.
    pub fn set_output_label(&self, node: u64, label: String) {
        if let Some(o) = self.registry().outputs.iter_mut().find(|o| o.node == node) {
            o.label = Some(label);
        }
    }

    /// Sets the stable id of the output at plan node `node`.
    pub fn set_output_uid(&self, node: u64, uid: String) {
        if let Some(o) = self.registry().outputs.iter_mut().find(|o| o.node == node) {
            o.uid = Some(uid);
        }
    }

    /// Takes the sources and outputs to run, with their stable ids: the id set by the user, or
    /// the kind and its ordinal among its kind (`text_file_stream-0`). Fails on a mistake made
    /// while building, or two sources (or two outputs) with one id.
    pub fn take(&self) -> Result<Resolved> {
        let mut r = self.registry();
        if let Some(p) = r.problems.first() {
            return Err(Error::Plan(p.clone()));
        }
        r.taken = true;
        let mut ordinals: BTreeMap<String, usize> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut sources = Vec::new();
        for entry in std::mem::take(&mut r.sources) {
            let uid = entry.uid.clone().unwrap_or_else(|| {
                let kind = entry.planner.kind().to_string();
                let n = ordinals.entry(kind.clone()).or_default();
                *n += 1;
                format!("{kind}-{}", *n - 1)
            });
            check_uid("source", &uid, &mut seen)?;
            sources.push((uid, entry.planner));
        }
        let mut ordinals: BTreeMap<&str, usize> = BTreeMap::new();
        let mut seen = HashSet::new();
        let outputs = std::mem::take(&mut r.outputs);
        for o in &outputs {
            let uid = o.uid.clone().unwrap_or_else(|| {
                let n = ordinals.entry(o.kind).or_default();
                *n += 1;
                format!("{}-{}", o.kind, *n - 1)
            });
            check_uid("output", &uid, &mut seen)?;
            let _ = o.resolved.set(uid);
        }
        Ok(Resolved { sources, outputs })
    }
}

fn check_uid(what: &str, uid: &str, seen: &mut HashSet<String>) -> Result<()> {
    let valid = !uid.is_empty()
        && uid.len() <= 128
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(Error::Plan(format!(
            "the {what} id `{uid}` is not valid: use 1 to 128 ASCII letters, digits, `-`, `_` or `.`"
        )));
    }
    if !seen.insert(uid.to_string()) {
        return Err(Error::Plan(format!(
            "two {what}s have the id `{uid}`: give each its own with uid()"
        )));
    }
    Ok(())
}

/// An output operation of a pipeline, returned by `foreach_batch`, `print`, `sink`, ... so that
/// its stable id can be set.
pub struct Output {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) node: u64,
}

impl Output {
    /// Sets the output's stable id (1 to 128 of `A-Z a-z 0-9 - _ .`), which sinks use to key
    /// what they write (`(pipeline, output, batch time)`). By default it is the output's kind
    /// and ordinal (`sink-0`), which changes when outputs are added before it.
    pub fn uid(self, id: impl Into<String>) -> Self {
        self.pipeline.set_output_uid(self.node, id.into());
        self
    }
}
