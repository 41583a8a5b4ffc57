//! The event log: what a job did, written as it runs, for `freshet history` to show after the
//! job has finished or crashed (as Spark's event log feeds its history server).
//!
//! # Layout
//!
//! One run writes `<dir>/<run>.<part>.jsonl`, where `<run>` is `run-<start, ms since the Unix
//! epoch>` and `<part>` counts from `00001`. Each line is one JSON object with an `event` and
//! the wall-clock `at_ms`:
//!
//! - `start` (`run`, `format`, `version`): the first line of every part;
//! - `batch` (`batch`: the batch's detail, as `GET /api/v1/batches/{time}` answers): one per
//!   completed batch, written when the next batch completes (so that every worker's figures
//!   are in) or when the job stops;
//! - `snapshot` (`snapshot`: status, graph, sources, outputs and health, as the page's event
//!   stream sends them): at the start of every part, every [`EventLogConfig::snapshot_every`],
//!   after a receiver error or a checkpoint failure, and when the job stops;
//! - `stopped` (`error`): the last line of a job that stopped; a log without it is of a job
//!   that crashed or was killed.
//!
//! A part that reaches [`EventLogConfig::max_file_bytes`] is closed and the next one begun;
//! the oldest parts beyond [`EventLogConfig::max_files`] are deleted. Lines are flushed as
//! they are written, so a killed job's log ends at its last complete line.

use crate::view::{LiveView, View};
use freshet::{BatchInfo, BatchTime, Error, ReceiverEvent, StreamingContext, StreamingListener};
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The format of the event log's lines (the `format` of each `start` line).
pub const EVENT_LOG_FORMAT: u64 = 1;

const MAX_FILE_BYTES_RANGE: RangeInclusive<u64> = 64 * 1024..=1024 * 1024 * 1024;
const MAX_FILES_RANGE: RangeInclusive<usize> = 1..=10_000;
const SNAPSHOT_EVERY_RANGE: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(3600);

/// Where and how a job's event log is written.
#[derive(Clone, Debug)]
pub struct EventLogConfig {
    /// The directory (created if missing). Several runs may share it.
    pub dir: PathBuf,
    /// The size at which a part is closed and the next begun: 64 KiB to 1 GiB, 64 MiB by
    /// default.
    pub max_file_bytes: u64,
    /// How many parts of one run are kept (the oldest are deleted): 1 to 10,000, 16 by
    /// default.
    pub max_files: usize,
    /// How often a snapshot of the job's figures is written: 1 s to 1 h, 5 s by default.
    pub snapshot_every: Duration,
}

impl EventLogConfig {
    /// Writes to `dir` with the default limits.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EventLogConfig {
            dir: dir.into(),
            max_file_bytes: 64 * 1024 * 1024,
            max_files: 16,
            snapshot_every: Duration::from_secs(5),
        }
    }

    fn validate(&self) -> Result<(), EventLogError> {
        let out = |setting, value: String, allowed| {
            Err(EventLogError::OutOfRange {
                setting,
                value,
                allowed,
            })
        };
        if !MAX_FILE_BYTES_RANGE.contains(&self.max_file_bytes) {
            return out(
                "max_file_bytes",
                self.max_file_bytes.to_string(),
                "64 KiB to 1 GiB",
            );
        }
        if !MAX_FILES_RANGE.contains(&self.max_files) {
            return out("max_files", self.max_files.to_string(), "1 to 10000");
        }
        if !SNAPSHOT_EVERY_RANGE.contains(&self.snapshot_every) {
            return out(
                "snapshot_every",
                format!("{:?}", self.snapshot_every),
                "1s to 3600s",
            );
        }
        Ok(())
    }
}

/// Why the event log could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// A setting of [`EventLogConfig`] is outside its range.
    #[error("the event log setting {setting} = {value} is out of range (allowed: {allowed})")]
    OutOfRange {
        /// The setting's name, as the field of [`EventLogConfig`].
        setting: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// The directory or the first file could not be created.
    #[error("cannot write the event log in {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running job's event log (see the [module docs](self)). It writes from the context's
/// listener thread and stops by itself when the job stops.
#[derive(Debug)]
pub struct EventLog {
    run: String,
    dir: PathBuf,
}

impl EventLog {
    /// Starts writing the event log of `ctx` (call it before `ctx.start()` to see every
    /// batch).
    pub fn start(
        ctx: &StreamingContext,
        config: EventLogConfig,
    ) -> Result<EventLog, EventLogError> {
        config.validate()?;
        let io = |source| EventLogError::Io {
            dir: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(io)?;
        let mut started = crate::json::wall_ms(SystemTime::now());
        let run = loop {
            let run = format!("run-{started}");
            if !part_path(&config.dir, &run, 1).exists() {
                break run;
            }
            started += 1;
        };
        let view = LiveView { ctx: ctx.clone() };
        let writer = Writer::open(&config, &run, 1).map_err(io)?;
        let listener = Arc::new(EventLogListener {
            config: config.clone(),
            inner: Mutex::new(ListenerState {
                view: Some(view),
                writer: Some(writer),
                pending: None,
                last_snapshot: None,
            }),
        });
        listener.with(|st, l| l.begin_part(st));
        ctx.add_listener(listener);
        Ok(EventLog {
            run,
            dir: config.dir,
        })
    }

    /// The run's name (`run-<start ms>`), which `freshet history --run` takes.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The path of part `part` of run `run`.
pub(crate) fn part_path(dir: &Path, run: &str, part: u32) -> PathBuf {
    dir.join(format!("{run}.{part:05}.jsonl"))
}

struct Writer {
    out: BufWriter<File>,
    run: String,
    part: u32,
    bytes: u64,
}

impl Writer {
    fn open(config: &EventLogConfig, run: &str, part: u32) -> std::io::Result<Writer> {
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(part_path(&config.dir, run, part))?;
        Ok(Writer {
            out: BufWriter::new(file),
            run: run.to_string(),
            part,
            bytes: 0,
        })
    }

    fn line(&mut self, v: &Value) -> std::io::Result<()> {
        let mut text = v.to_string();
        text.push('\n');
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        self.bytes += text.len() as u64;
        Ok(())
    }
}

struct ListenerState {
    /// The job's figures. Dropped when the job stops, so that the context, which holds this
    /// listener, is not kept alive by it.
    view: Option<LiveView>,
    /// `None` once writing failed (logged once) or the job stopped.
    writer: Option<Writer>,
    /// The completed batch whose detail is written with the next completion.
    pending: Option<BatchTime>,
    last_snapshot: Option<Instant>,
}

struct EventLogListener {
    config: EventLogConfig,
    inner: Mutex<ListenerState>,
}

fn event(name: &str) -> Value {
    json!({ "event": name, "at_ms": crate::json::wall_ms(SystemTime::now()) })
}

impl EventLogListener {
    fn with(&self, f: impl FnOnce(&mut ListenerState, &Self) -> std::io::Result<()>) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if st.writer.is_none() {
            return;
        }
        if let Err(e) = f(&mut st, self) {
            tracing::warn!(
                "the event log in {} cannot be written, and is no longer: {e}",
                self.config.dir.display()
            );
            st.writer = None;
            st.view = None;
        }
    }

    fn write(&self, st: &mut ListenerState, v: &Value) -> std::io::Result<()> {
        let Some(w) = st.writer.as_mut() else {
            return Ok(());
        };
        w.line(v)?;
        if w.bytes >= self.config.max_file_bytes {
            self.next_part(st)?;
        }
        Ok(())
    }

    /// Closes the current part and begins the next, deleting the oldest beyond the limit.
    fn next_part(&self, st: &mut ListenerState) -> std::io::Result<()> {
        let Some(old) = st.writer.take() else {
            return Ok(());
        };
        let part = old.part + 1;
        let run = old.run.clone();
        old.out
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        st.writer = Some(Writer::open(&self.config, &run, part)?);
        let keep = u32::try_from(self.config.max_files).unwrap_or(u32::MAX);
        if part > keep {
            let gone = part_path(&self.config.dir, &run, part - keep);
            if let Err(e) = std::fs::remove_file(&gone) {
                tracing::warn!(
                    "cannot delete the old event log part {}: {e}",
                    gone.display()
                );
            }
        }
        self.begin_part(st)
    }

    fn begin_part(&self, st: &mut ListenerState) -> std::io::Result<()> {
        let Some(w) = st.writer.as_ref() else {
            return Ok(());
        };
        let mut start = event("start");
        start["run"] = json!(w.run);
        start["part"] = json!(w.part);
        start["format"] = json!(EVENT_LOG_FORMAT);
        start["version"] = json!(env!("CARGO_PKG_VERSION"));
        self.write(st, &start)?;
        self.snapshot(st)
    }

    fn snapshot(&self, st: &mut ListenerState) -> std::io::Result<()> {
        let Some(view) = st.view.as_ref() else {
            return Ok(());
        };
        let mut v = event("snapshot");
        v["snapshot"] = view.snapshot();
        st.last_snapshot = Some(Instant::now());
        self.write(st, &v)
    }

    fn flush_pending(&self, st: &mut ListenerState) -> std::io::Result<()> {
        let detail = match (st.pending.take(), st.view.as_ref()) {
            (Some(t), Some(view)) => view.batch_detail(t.0),
            _ => None,
        };
        {
            if let Some(detail) = detail {
                let mut v = event("batch");
                v["batch"] = detail;
                self.write(st, &v)?;
            }
        }
        Ok(())
    }
}

impl StreamingListener for EventLogListener {
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.with(|st, l| {
            l.flush_pending(st)?;
            st.pending = Some(info.time);
            if st
                .last_snapshot
                .is_none_or(|t| t.elapsed() >= l.config.snapshot_every)
            {
                l.snapshot(st)?;
            }
            Ok(())
        });
    }

    fn on_receiver_event(&self, _receiver: &str, event: &ReceiverEvent) {
        if let ReceiverEvent::Error(_) = event {
            self.with(|st, l| l.snapshot(st));
        }
    }

    fn on_checkpoint_failed(&self, _time: BatchTime, _error: &str) {
        self.with(|st, l| l.snapshot(st));
    }

    fn on_stopped(&self, error: Option<&Error>) {
        self.with(|st, l| {
            l.flush_pending(st)?;
            l.snapshot(st)?;
            let mut v = event("stopped");
            v["error"] = json!(error.map(|e| e.to_string()));
            l.write(st, &v)?;
            st.view = None;
            if let Some(w) = st.writer.take() {
                w.out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
            Ok(())
        });
    }
}
