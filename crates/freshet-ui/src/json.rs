//! The JSON shapes of the API, the event stream and the event log, built from the context's
//! snapshots.
//!
//! Times are batch times in milliseconds of the context's clock; durations are milliseconds
//! (fractional); wall-clock instants are milliseconds since the Unix epoch. The shapes are
//! documented in `docs/monitoring.md`.

use freshet::cluster::ClusterStatus;
use freshet::metrics::{
    ActiveBatch, BatchDetail, CheckpointHistory, EventTimeStatus, GraphNode, Incident,
    OutputStatus, PipelineGraph, PublishedOutput, ReceiverState, SourceStatus,
};
use freshet::{BatchInfo, StreamingContext};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A completed batch, with its input rate (records per second of batch interval).
pub(crate) fn batch_json(b: &BatchInfo, interval: Duration) -> Value {
    let secs = interval.as_secs_f64();
    json!({
        "time": b.time.0,
        "records": b.records,
        "input_rate": if secs > 0.0 { b.records as f64 / secs } else { 0.0 },
        "scheduling_delay_ms": ms(b.scheduling_delay),
        "processing_time_ms": ms(b.processing_time),
        "total_delay_ms": ms(b.total_delay),
    })
}

pub(crate) fn status_json(ctx: &StreamingContext) -> Value {
    let config = ctx.config();
    let active = ctx.active_batches();
    json!({
        "running": ctx.is_running(),
        "batch_interval_ms": ms(config.batch_interval()),
        "workers": config.worker_count(),
        "max_in_flight_batches": config.max_in_flight(),
        "first_batch_time": ctx.first_batch_time().map(|t| t.0),
        "batches_completed": ctx.batches_completed(),
        "active_batches": active.len(),
                "skipped_records": ctx.skipped_records(),
        "lost_records": ctx.lost_records(),
        "backlog": backlog_json(&ctx.backlog()),
        "disk_full_waits": ctx.disk_full_waits(),
        "state": ctx.state_sizes().iter().map(|s| json!({
            "node": s.node,
            "operator": s.name,
            "keys": s.keys,
        })).collect::<Vec<_>>(),
        "state_keys": ctx.state_sizes().iter().map(|s| s.keys).sum::<u64>(),
        "checkpoints_written": ctx.checkpoints_written().1,
        "last_checkpoint": ctx.checkpoints_written().0.map(|c| json!({
            "id": c.id,
            "time": c.time.0,
            "duration_ms": ms(c.duration),
            "bytes": c.bytes,
        })),
    })
}

pub(crate) fn active_json(a: &ActiveBatch) -> Value {
    json!({
        "time": a.time.0,
        "processing": a.processing,
        "elapsed_ms": ms(a.elapsed),
    })
}

pub(crate) fn detail_json(d: &BatchDetail, interval: Duration) -> Value {
    let mut v = batch_json(&d.info, interval);
    v["operators"] = d
        .operators
        .iter()
        .map(|o| {
            json!({
                "node": o.node,
                "name": o.name,
                                "records_in": o.records_in,
                "records_out": o.records_out,
                "busy_ms": ms(o.busy),
            })
        })
        .collect();
    v["sources"] = d
        .sources
        .iter()
        .map(|(name, records)| json!({ "name": name, "records": records }))
        .collect();
    v["workers"] = d.workers.iter().map(|w| json!(ms(*w))).collect();
    v
}

pub(crate) fn node_json(n: &GraphNode) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
        "label": n.label,
        "kind": n.kind.as_str(),
        "records_total": n.records_total,
        "records_last_batch": n.records_last_batch,
    })
}

pub(crate) fn graph_json(g: &PipelineGraph) -> Value {
    json!({
        "nodes": g.nodes.iter().map(node_json).collect::<Vec<_>>(),
        "edges": g.edges.iter().map(|e| json!({ "from": e.from, "to": e.to })).collect::<Vec<_>>(),
    })
}

/// A receiver state as a lower-case word.
pub(crate) fn state_str(s: &ReceiverState) -> &'static str {
    match s {
        ReceiverState::NotAReceiver => "not_a_receiver",
        ReceiverState::Running => "running",
        ReceiverState::Restarting => "restarting",
        ReceiverState::Stopped => "stopped",
    }
}

pub(crate) fn source_json(s: &SourceStatus) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "records_total": s.records_total,
        "last_batch_records": s.last_batch_records,
        "rate_per_sec": s.rate_per_sec,
        "lag": s.lag,
        "rate_limit": s.rate_limit,
        "partition_lag": s
            .partition_lag
            .iter()
            .map(|(partition, lag)| json!({ "partition": partition, "lag": lag }))
            .collect::<Vec<_>>(),
        "state": state_str(&s.state),
        "last_error": s.last_error,
        "errors": s.errors,
        "restarts": s.restarts,
    })
}

pub(crate) fn output_json(o: &PublishedOutput) -> Value {
    json!({
        "name": o.name,
        "time": o.time.0,
        "total": o.total,
        "records": o.records,
    })
}

/// How far the job is behind its clock.
pub(crate) fn backlog_json(b: &freshet::Backlog) -> Value {
    json!({
        "batches": b.batches,
        "oldest": b.oldest.map(|t| t.0),
        "falling_behind": b.falling_behind,
    })
}

/// A wall-clock instant in milliseconds since the Unix epoch.
pub(crate) fn wall_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn checkpoints_json(h: &CheckpointHistory) -> Value {
    json!({
        "written": h.written,
        "failed": h.failed,
        "consecutive_failures": h.consecutive_failures,
        "recent": h.recent.iter().map(|c| json!({
            "id": c.id,
            "time": c.time.0,
            "duration_ms": ms(c.duration),
            "bytes": c.bytes,
        })).collect::<Vec<_>>(),
        "failures": h.failures.iter().map(|f| json!({
            "time": f.time.0,
            "error": f.error,
            "at_ms": wall_ms(f.at),
        })).collect::<Vec<_>>(),
    })
}

fn incident_json(i: &Incident) -> Value {
    json!({
        "at_ms": wall_ms(i.at),
        "kind": i.kind.as_str(),
        "subject": i.subject,
        "message": i.message,
    })
}

fn output_status_json(o: &OutputStatus) -> Value {
    json!({
        "id": o.id,
        "kind": o.kind,
        "batches": o.batches,
        "last_batch": o.last_batch.map(|t| t.0),
        "last_duration_ms": ms(o.last_duration),
        "max_duration_ms": ms(o.max_duration),
        "total_duration_ms": ms(o.total_duration),
    })
}

fn event_time_json(e: &EventTimeStatus) -> Value {
    json!({
        "node": e.node,
        "name": e.name,
        "watermark": e.watermark,
        "batch": e.batch.map(|t| t.0),
        "late_records": e.late_records,
    })
}

/// Per-worker busy time since the start, and the skew: the busiest worker's time over the
/// mean (1 when the load is even).
fn workers_json(busy: &[Duration]) -> Value {
    let total: f64 = busy.iter().map(|d| d.as_secs_f64()).sum();
    let max = busy.iter().map(|d| d.as_secs_f64()).fold(0.0, f64::max);
    let skew = if total > 0.0 {
        max * busy.len() as f64 / total
    } else {
        1.0
    };
    json!({
        "busy_ms": busy.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "skew": skew,
    })
}

/// The processes of a job that runs on several: `{this_process, processes: [...]}`; a job of
/// one process (or one not started yet) has `{processes: []}`.
pub(crate) fn cluster_json(status: Option<&ClusterStatus>) -> Value {
    let Some(c) = status else {
        return no_cluster_json();
    };
    json!({
        "this_process": c.this_process,
        "processes": c.processes.iter().map(|p| json!({
            "process": p.process,
            "address": p.address,
            "first_worker": p.first_worker,
            "workers": p.workers,
            "connected": p.connected,
            "last_heard_ms": p.last_heard_ms,
            "late": p.late,
            "error": p.error,
        })).collect::<Vec<_>>(),
    })
}

/// The cluster of a job of one process (and of a recorded run from before processes were
/// recorded).
pub(crate) fn no_cluster_json() -> Value {
    json!({ "processes": [] })
}

/// What an operator looks at when something is wrong: checkpoints, incidents, output
/// operations, event-time progress, per-worker load and, in a cluster, the processes.
pub(crate) fn health_json(ctx: &StreamingContext) -> Value {
    json!({
        "checkpoints": checkpoints_json(&ctx.checkpoint_history()),
        "incidents": ctx.incidents().iter().map(incident_json).collect::<Vec<_>>(),
        "outputs": ctx.outputs_status().iter().map(output_status_json).collect::<Vec<_>>(),
        "event_time": ctx.event_time_status().iter().map(event_time_json).collect::<Vec<_>>(),
        "workers": workers_json(&ctx.worker_busy()),
        "cluster": cluster_json(ctx.cluster_status().as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_lists_its_processes_and_one_process_none() {
        assert_eq!(cluster_json(None), json!({ "processes": [] }));
        let status = ClusterStatus {
            this_process: 0,
            processes: vec![
                freshet::cluster::ProcessStatus {
                    process: 0,
                    address: "10.0.0.1:2101".into(),
                    first_worker: 0,
                    workers: 2,
                    connected: true,
                    last_heard_ms: None,
                    late: false,
                    error: None,
                },
                freshet::cluster::ProcessStatus {
                    process: 1,
                    address: "10.0.0.2:2101".into(),
                    first_worker: 2,
                    workers: 2,
                    connected: false,
                    last_heard_ms: Some(4_200),
                    late: false,
                    error: Some("connection reset".into()),
                },
            ],
        };
        assert_eq!(
            cluster_json(Some(&status)),
            json!({
                "this_process": 0,
                "processes": [
                    {
                        "process": 0, "address": "10.0.0.1:2101", "first_worker": 0,
                        "workers": 2, "connected": true, "last_heard_ms": null,
                        "late": false, "error": null,
                    },
                    {
                        "process": 1, "address": "10.0.0.2:2101", "first_worker": 2,
                        "workers": 2, "connected": false, "last_heard_ms": 4200,
                        "late": false, "error": "connection reset",
                    },
                ],
            })
        );
    }

    #[test]
    fn a_source_shows_its_lag_per_partition() {
        let mut s = SourceStatus {
            id: 3,
            name: "clicks".into(),
            records_total: 6,
            last_batch_records: 6,
            rate_per_sec: 60.0,
            lag: Some(8),
            partition_lag: vec![("t/0".into(), 7), ("t/1".into(), 1)],
            rate_limit: Some(250.0),
            state: ReceiverState::NotAReceiver,
            last_error: None,
            errors: 0,
            restarts: 0,
        };
        let v = source_json(&s);
        assert_eq!(v["lag"], json!(8));
        assert_eq!(
            v["partition_lag"],
            json!([{ "partition": "t/0", "lag": 7 }, { "partition": "t/1", "lag": 1 }])
        );
        s.lag = None;
        s.partition_lag.clear();
        let v = source_json(&s);
        assert_eq!(v["lag"], Value::Null);
        assert_eq!(v["partition_lag"], json!([]));
    }
}
