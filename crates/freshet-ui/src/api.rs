//! The JSON API under `/api/v1/`: the context's snapshots as JSON.
//!
//! Times are batch times in milliseconds of the context's clock; durations are milliseconds
//! (fractional). The shapes are documented in `docs/monitoring.md`.

use crate::server::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use freshet::metrics::{
    ActiveBatch, BatchDetail, GraphNode, PipelineGraph, PublishedOutput, ReceiverState,
    SourceStatus,
};
use freshet::{BatchInfo, BatchTime, StreamingContext};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

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

fn status_json(ctx: &StreamingContext) -> Value {
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

fn active_json(a: &ActiveBatch) -> Value {
    json!({
        "time": a.time.0,
        "processing": a.processing,
        "elapsed_ms": ms(a.elapsed),
    })
}

fn detail_json(d: &BatchDetail, interval: Duration) -> Value {
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
    v
}

fn node_json(n: &GraphNode) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
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
        "state": state_str(&s.state),
        "last_error": s.last_error,
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

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `GET /api/v1/status`
pub(crate) async fn status(State(s): State<AppState>) -> Json<Value> {
    Json(status_json(&s.ctx))
}

/// `GET /api/v1/batches?limit=N&after=T`: completed batches, oldest first (the newest `N`
/// of those after batch time `T`).
pub(crate) async fn batches(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "limit must be a whole number".into(),
            )
        }
    };
    let after = match q.get("after").map(|a| a.parse::<u64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "after must be a batch time in milliseconds".into(),
            )
        }
    };
    let interval = s.ctx.batch_interval();
    let mut recent = s.ctx.recent_batches();
    if let Some(after) = after {
        recent.retain(|b| b.time.0 > after);
    }
    let skip = recent.len().saturating_sub(limit);
    let list: Vec<Value> = recent[skip..]
        .iter()
        .map(|b| batch_json(b, interval))
        .collect();
    Json(Value::Array(list)).into_response()
}

/// `GET /api/v1/batches/active`
pub(crate) async fn active_batches(State(s): State<AppState>) -> Json<Value> {
    Json(s.ctx.active_batches().iter().map(active_json).collect())
}

/// `GET /api/v1/batches/{time}`: one completed batch with its operators' figures.
pub(crate) async fn batch_detail(State(s): State<AppState>, Path(time): Path<String>) -> Response {
    let Ok(t) = time.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{time:?} is not a batch time"),
        );
    };
    match s.ctx.batch_detail(BatchTime(t)) {
        Some(d) => Json(detail_json(&d, s.ctx.batch_interval())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("batch {t} is not among the recent completed batches"),
        ),
    }
}

/// `GET /api/v1/graph`
pub(crate) async fn graph(State(s): State<AppState>) -> Json<Value> {
    Json(graph_json(&s.ctx.pipeline_graph()))
}

/// `GET /api/v1/sources`
pub(crate) async fn sources(State(s): State<AppState>) -> Json<Value> {
    Json(s.ctx.sources_status().iter().map(source_json).collect())
}

/// `GET /api/v1/outputs`
pub(crate) async fn outputs(State(s): State<AppState>) -> Json<Value> {
    Json(s.ctx.published_outputs().iter().map(output_json).collect())
}

/// `GET /api/v1/outputs/{name}`
pub(crate) async fn output(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.ctx.published_outputs().iter().find(|o| o.name == name) {
        Some(o) => Json(output_json(o)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no published output named {name:?} (yet)"),
        ),
    }
}

/// Anything else.
pub(crate) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page or endpoint".into())
}

/// How far the job is behind its clock.
pub(crate) fn backlog_json(b: &freshet::Backlog) -> Value {
    json!({
        "batches": b.batches,
        "oldest": b.oldest.map(|t| t.0),
        "falling_behind": b.falling_behind,
    })
}
