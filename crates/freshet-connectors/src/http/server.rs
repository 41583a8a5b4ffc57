//! The HTTP side: the axum router, its handlers, and the queue of requests waiting to be
//! stored by the receiver thread.

use super::decode::{decode_body, BadRecord, BodyFormat, HttpDecoder};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use freshet::source::BadRecordPolicy;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// A job waits in the queue.
const QUEUED: u8 = 0;
/// The receiver thread took the job: it will be answered.
const STORING: u8 = 1;
/// The handler gave up waiting (429) before the job was taken: it must not be stored.
const ABANDONED: u8 = 2;

/// A request's records, waiting for the receiver thread to store them.
pub(crate) struct Job<T> {
    pub items: Vec<T>,
    /// Records reported under the bad-record policy once the items are stored.
    pub bad: Vec<BadRecord>,
    state: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<usize, String>>,
}

impl<T> Job<T> {
    /// Claims the job for storing; `false` when its sender left or its handler gave up.
    pub fn claim(&self) -> bool {
        !self.reply.is_closed()
            && self
                .state
                .compare_exchange(QUEUED, STORING, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// Answers the handler: `Ok(records stored)` or why nothing was stored.
    pub fn answer(self, result: Result<usize, String>) {
        let _ = self.reply.send(result);
    }
}

/// What the handlers share.
pub(crate) struct Shared<D: HttpDecoder> {
    pub decoder: Arc<D>,
    pub jobs: SyncSender<Job<D::Item>>,
    /// `Authorization` must equal this (`Bearer <token>`), when set.
    pub authorization: Option<String>,
    pub permits: Arc<Semaphore>,
    pub policy: BadRecordPolicy,
    pub max_queue_wait: Duration,
    /// `Retry-After`, in whole seconds.
    pub retry_after_secs: u64,
}

/// The router: `POST <path>` and `GET /healthz`; everything else is 404.
pub(crate) fn router<D: HttpDecoder>(
    shared: Arc<Shared<D>>,
    path: &str,
    max_body_bytes: usize,
) -> Router {
    Router::new()
        .route(path, post(ingest::<D>))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            guard::<D>,
        ))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// An error answer: `{"error": why}`.
fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": why.into() }))).into_response()
}

/// A 429 with `Retry-After`.
fn busy(retry_after_secs: u64, why: &str) -> Response {
    let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, why);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Before the body is read: the token, then a permit of the concurrency limit.
async fn guard<D: HttpDecoder>(
    State(shared): State<Arc<Shared<D>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &shared.authorization {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !same(given, expected.as_bytes()) {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer <token>)",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let Ok(_permit) = Arc::clone(&shared.permits).try_acquire_owned() else {
        return busy(
            shared.retry_after_secs,
            "too many requests at once (max_concurrent_requests)",
        );
    };
    next.run(request).await
}

/// `POST <path>`: decodes the records, queues them and answers once they are stored.
async fn ingest<D: HttpDecoder>(
    State(shared): State<Arc<Shared<D>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than max_body_bytes",
            )
        }
        Err(rejection) => return refuse(rejection.status(), rejection.body_text()),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"));
    let Some(format) = BodyFormat::of(content_type) else {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-ndjson, text/plain or application/json",
        );
    };
    let decoded = match decode_body(shared.decoder.as_ref(), format, &body) {
        Ok(decoded) => decoded,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    drop(body);
    if shared.policy == BadRecordPolicy::Fail {
        if let Some(first) = decoded.bad.first() {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "{} bad records, nothing stored; the first: {}",
                    decoded.bad.len(),
                    first.what
                ),
            );
        }
    }
    let skipped = decoded.bad.len();
    let state = Arc::new(AtomicU8::new(QUEUED));
    let (reply, mut answer) = oneshot::channel();
    let job = Job {
        items: decoded.items,
        bad: decoded.bad,
        state: Arc::clone(&state),
        reply,
    };
    match shared.jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return busy(
                shared.retry_after_secs,
                "the ingest queue is full (queue_capacity)",
            )
        }
        Err(TrySendError::Disconnected(_)) => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "the receiver is stopping")
        }
    }
    let result = match tokio::time::timeout(shared.max_queue_wait, &mut answer).await {
        Ok(result) => result,
        Err(_) => {
            if state
                .compare_exchange(QUEUED, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return busy(
                    shared.retry_after_secs,
                    "the records waited longer than max_queue_wait to be stored",
                );
            }
            // Being stored now: the answer follows.
            answer.await
        }
    };
    match result {
        Ok(Ok(accepted)) => (
            StatusCode::OK,
            Json(serde_json::json!({ "accepted": accepted, "skipped": skipped })),
        )
            .into_response(),
        Ok(Err(why)) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the records could not be stored, retry: {why}"),
        ),
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "the receiver is stopping"),
    }
}
