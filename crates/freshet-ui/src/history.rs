//! The history server's view: a run read back from its event log (see `event_log.rs`), shown
//! by the same page and API as a running job.
//!
//! A line that cannot be read in the middle of a log is damage: it is counted, logged and
//! reported in the status (`history.damaged_lines`), and every other line is kept. An
//! incomplete last line is what a killed job leaves; it is dropped without a warning.

use crate::event_log::part_path;
use crate::view::View;
use freshet::StreamingContext;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The batches of a recorded run held in memory (the newest are kept).
const KEPT_BATCHES: usize = 10_000;

/// Why a recorded run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The directory could not be listed or a part could not be read.
    #[error("cannot read the event log {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory holds no run.
    #[error("{0} holds no event log (files named run-<ms>.<part>.jsonl)")]
    NoRuns(PathBuf),
    /// The run asked for is not in the directory.
    #[error("{dir} has no run named {run}; it has: {runs}")]
    NoSuchRun {
        /// The directory.
        dir: PathBuf,
        /// The run asked for.
        run: String,
        /// The runs it has.
        runs: String,
    },
    /// No part of the run holds a readable snapshot.
    #[error("the event log of {0} holds no readable snapshot")]
    NoSnapshot(String),
}

/// The runs of the event log in `dir`, oldest first, each with its parts in order.
pub fn runs(dir: &Path) -> Result<Vec<(String, Vec<u32>)>, HistoryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| HistoryError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut runs: BTreeMap<(u64, String), Vec<u32>> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        let Some((run, part)) = stem.rsplit_once('.') else {
            continue;
        };
        let (Some(ms), Ok(part)) = (
            run.strip_prefix("run-").and_then(|r| r.parse::<u64>().ok()),
            part.parse::<u32>(),
        ) else {
            continue;
        };
        runs.entry((ms, run.to_string())).or_default().push(part);
    }
    Ok(runs
        .into_iter()
        .map(|((_, run), mut parts)| {
            parts.sort_unstable();
            (run, parts)
        })
        .collect())
}

/// A run read back from its event log.
pub(crate) struct Recorded {
    run: String,
    snapshot: Value,
    batches: BTreeMap<u64, Value>,
    ended: &'static str,
    error: Option<String>,
    started_ms: Option<u64>,
    ended_ms: Option<u64>,
    damaged_lines: u64,
}

/// Reads run `run` (the newest when `None`) of the event log in `dir`.
pub(crate) fn load(dir: &Path, run: Option<&str>) -> Result<Recorded, HistoryError> {
    let all = runs(dir)?;
    let names = || {
        all.iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (name, parts) = match run {
        None => all
            .last()
            .ok_or_else(|| HistoryError::NoRuns(dir.to_path_buf()))?,
        Some(r) => {
            all.iter()
                .find(|(name, _)| name == r)
                .ok_or_else(|| HistoryError::NoSuchRun {
                    dir: dir.to_path_buf(),
                    run: r.to_string(),
                    runs: names(),
                })?
        }
    };
    let mut rec = Recorded {
        run: name.clone(),
        snapshot: Value::Null,
        batches: BTreeMap::new(),
        ended: "crashed",
        error: None,
        started_ms: None,
        ended_ms: None,
        damaged_lines: 0,
    };
    for (i, part) in parts.iter().enumerate() {
        let path = part_path(dir, name, *part);
        let text = std::fs::read(&path).map_err(|source| HistoryError::Io {
            path: path.clone(),
            source,
        })?;
        let last_part = i + 1 == parts.len();
        rec.read_part(&path, &String::from_utf8_lossy(&text), last_part);
    }
    if rec.snapshot.is_null() {
        return Err(HistoryError::NoSnapshot(name.clone()));
    }
    Ok(rec)
}

impl Recorded {
    fn read_part(&mut self, path: &Path, text: &str, last_part: bool) {
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let torn_tail = last_part && !complete && n + 1 == lines.len();
            match serde_json::from_str::<Value>(line) {
                Ok(v) => self.apply(v),
                Err(_) if torn_tail => {}
                Err(e) => {
                    self.damaged_lines += 1;
                    tracing::warn!(
                        "line {} of {} is damaged and skipped: {e}",
                        n + 1,
                        path.display()
                    );
                }
            }
        }
    }

    fn apply(&mut self, v: Value) {
        let at = v["at_ms"].as_u64();
        match v["event"].as_str() {
            Some("start") if self.started_ms.is_none() && v["part"].as_u64() == Some(1) => {
                self.started_ms = at;
            }
            Some("snapshot") => {
                self.snapshot = v["snapshot"].clone();
                self.ended_ms = at;
            }
            Some("batch") => {
                if let Some(t) = v["batch"]["time"].as_u64() {
                    self.batches.insert(t, v["batch"].clone());
                    if self.batches.len() > KEPT_BATCHES {
                        self.batches.pop_first();
                    }
                }
                self.ended_ms = at.or(self.ended_ms);
            }
            Some("stopped") => {
                self.error = v["error"].as_str().map(String::from);
                self.ended = if self.error.is_some() {
                    "failed"
                } else {
                    "stopped"
                };
                self.ended_ms = at;
            }
            _ => {}
        }
    }

    fn part(&self, key: &str) -> Value {
        self.snapshot.get(key).cloned().unwrap_or(Value::Null)
    }
}

impl View for Recorded {
    fn context(&self) -> Option<&StreamingContext> {
        None
    }

    fn status(&self) -> Value {
        let mut s = self.snapshot.clone();
        if let Some(map) = s.as_object_mut() {
            for key in ["active", "graph", "sources", "outputs", "health"] {
                map.remove(key);
            }
        }
        s["running"] = json!(false);
        s["active_batches"] = json!(0);
        s["backlog"] = json!({ "batches": 0, "oldest": null, "falling_behind": false });
        if let Some(last) = self.batches.keys().next_back() {
            let completed = s["batches_completed"].as_u64().unwrap_or(0);
            let recorded = self.batches.len() as u64;
            s["batches_completed"] = json!(completed.max(recorded));
            s["last_batch_time"] = json!(last);
        }
        s["history"] = json!({
            "run": self.run,
            "ended": self.ended,
            "error": self.error,
            "started_at_ms": self.started_ms,
            "ended_at_ms": self.ended_ms,
            "damaged_lines": self.damaged_lines,
        });
        s
    }

    fn batches(&self) -> Vec<Value> {
        self.batches
            .values()
            .map(|b| {
                let mut b = b.clone();
                if let Some(map) = b.as_object_mut() {
                    for key in ["operators", "sources", "workers"] {
                        map.remove(key);
                    }
                }
                b
            })
            .collect()
    }

    fn batch_detail(&self, time: u64) -> Option<Value> {
        self.batches.get(&time).cloned()
    }

    fn active(&self) -> Value {
        json!([])
    }

    fn graph(&self) -> Value {
        self.part("graph")
    }

    fn sources(&self) -> Value {
        self.part("sources")
    }

    fn outputs(&self) -> Vec<Value> {
        self.part("outputs").as_array().cloned().unwrap_or_default()
    }

    fn health(&self) -> Value {
        let mut health = self.part("health");
        // A run recorded before processes were recorded ran in one process.
        if let Some(map) = health.as_object_mut() {
            map.entry("cluster")
                .or_insert_with(crate::json::no_cluster_json);
        }
        health
    }

    fn cluster(&self) -> Value {
        match self.part("health").get("cluster") {
            Some(c) if c.is_object() => c.clone(),
            _ => crate::json::no_cluster_json(),
        }
    }
}
