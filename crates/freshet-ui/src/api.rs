//! The JSON API under `/api/v1/`: what the server's view (a running context, or a recorded
//! run) holds, as JSON. The shapes are in `json.rs` and `docs/monitoring.md`.

use crate::server::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `GET /api/v1/status`
pub(crate) async fn status(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.status())
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
    let mut recent = s.view.batches();
    if let Some(after) = after {
        recent.retain(|b| b["time"].as_u64().is_some_and(|t| t > after));
    }
    let skip = recent.len().saturating_sub(limit);
    recent.drain(..skip);
    Json(Value::Array(recent)).into_response()
}

/// `GET /api/v1/batches/active`
pub(crate) async fn active_batches(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.active())
}

/// `GET /api/v1/batches/{time}`: one completed batch with its operators' figures.
pub(crate) async fn batch_detail(State(s): State<AppState>, Path(time): Path<String>) -> Response {
    let Ok(t) = time.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{time:?} is not a batch time"),
        );
    };
    match s.view.batch_detail(t) {
        Some(d) => Json(d).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("batch {t} is not among the recent completed batches"),
        ),
    }
}

/// `GET /api/v1/graph`
pub(crate) async fn graph(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.graph())
}

/// `GET /api/v1/sources`
pub(crate) async fn sources(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.sources())
}

/// `GET /api/v1/outputs`
pub(crate) async fn outputs(State(s): State<AppState>) -> Json<Value> {
    Json(Value::Array(s.view.outputs()))
}

/// `GET /api/v1/outputs/{name}`
pub(crate) async fn output(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s
        .view
        .outputs()
        .into_iter()
        .find(|o| o["name"] == name.as_str())
    {
        Some(o) => Json(o).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no published output named {name:?} (yet)"),
        ),
    }
}

/// `GET /api/v1/health`: checkpoints (history and failures), incidents (receiver errors and
/// restarts, checkpoint failures, sink retries, the error that stopped the job), output
/// operations with their durations, event-time watermarks and late records, per-worker busy
/// time with its skew, and the processes (as `/api/v1/cluster`).
pub(crate) async fn health(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.health())
}

/// `GET /api/v1/cluster`: the processes of a job that runs on several (each one's address,
/// workers, connection and when it was last heard from); `{"processes": []}` for a job of one
/// process.
pub(crate) async fn cluster(State(s): State<AppState>) -> Json<Value> {
    Json(s.view.cluster())
}

/// Anything else.
pub(crate) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page or endpoint".into())
}
