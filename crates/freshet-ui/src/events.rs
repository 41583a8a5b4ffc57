//! Batch events for the page: a listener on the context feeds a broadcast channel, and each
//! `GET /api/v1/events` turns it into server-sent events.
//!
//! Event names: `batch_submitted`, `batch_started`, `batch_completed`, `output_completed`,
//! `receiver`, `stopped`, plus `snapshot` (status, active batches, graph, sources, outputs)
//! when the stream opens and every second after, and `lagged` when a slow client missed
//! events (it should then reload `/api/v1/batches`).

use crate::json;
use crate::prom::Histograms;
use crate::server::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use freshet::{BatchInfo, BatchTime, Error, OutputOperationInfo, ReceiverEvent, StreamingListener};
use futures_util::stream::{self, Stream};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// How often an open event stream receives a snapshot.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// A listener event, as sent to the page.
#[derive(Clone, Debug)]
pub(crate) enum UiEvent {
    Submitted(BatchTime),
    Started(BatchTime),
    Completed(BatchInfo),
    Output(OutputOperationInfo),
    Receiver(String, ReceiverEvent),
    Stopped(Option<String>),
}

/// Forwards the context's events to the page and observes batch figures into the Prometheus
/// histograms. Sending costs next to nothing when no page is open.
pub(crate) struct UiListener {
    events: broadcast::Sender<UiEvent>,
    histograms: Arc<Histograms>,
}

impl UiListener {
    pub fn new(events: broadcast::Sender<UiEvent>, histograms: Arc<Histograms>) -> Self {
        UiListener { events, histograms }
    }

    fn send(&self, e: UiEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(e);
        }
    }
}

impl StreamingListener for UiListener {
    fn on_batch_submitted(&self, time: BatchTime) {
        self.send(UiEvent::Submitted(time));
    }
    fn on_batch_started(&self, time: BatchTime) {
        self.send(UiEvent::Started(time));
    }
    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {
        self.send(UiEvent::Output(info.clone()));
    }
    fn on_receiver_event(&self, receiver: &str, event: &ReceiverEvent) {
        self.send(UiEvent::Receiver(receiver.to_string(), event.clone()));
    }
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.histograms.observe(info);
        self.send(UiEvent::Completed(info.clone()));
    }
    fn on_stopped(&self, error: Option<&Error>) {
        self.send(UiEvent::Stopped(error.map(|e| e.to_string())));
    }
}

fn event_json(e: &UiEvent, interval: Duration) -> (&'static str, Value) {
    match e {
        UiEvent::Submitted(t) => ("batch_submitted", json!({ "time": t.0 })),
        UiEvent::Started(t) => ("batch_started", json!({ "time": t.0 })),
        UiEvent::Completed(b) => ("batch_completed", json::batch_json(b, interval)),
        UiEvent::Output(o) => (
            "output_completed",
            json!({
                "name": o.name,
                "id": o.id,
                "time": o.time.0,
                "duration_ms": json::ms(o.duration),
            }),
        ),
        UiEvent::Receiver(name, ev) => {
            let (state, error) = match ev {
                ReceiverEvent::Started => ("started", None),
                ReceiverEvent::Error(e) => ("error", Some(e.clone())),
                ReceiverEvent::Stopped => ("stopped", None),
            };
            (
                "receiver",
                json!({ "receiver": name, "event": state, "error": error }),
            )
        }
        UiEvent::Stopped(error) => ("stopped", json!({ "error": error })),
    }
}

struct Feed {
    state: AppState,
    rx: broadcast::Receiver<UiEvent>,
    tick: tokio::time::Interval,
}

/// `GET /api/v1/events`: server-sent events until the client leaves or the UI shuts down.
pub(crate) async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        rx: state.events.subscribe(),
        state,
        tick,
    };
    let events = stream::unfold(feed, |mut f| async move {
        let interval = f
            .state
            .view
            .context()
            .map_or(Duration::ZERO, |c| c.batch_interval());
        let mut shutdown = f.state.shutdown.clone();
        let event = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return None,
            r = f.rx.recv() => match r {
                Ok(e) => {
                    let (name, data) = event_json(&e, interval);
                    Event::default().event(name).data(data.to_string())
                }
                Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
                Err(RecvError::Closed) => return None,
            },
            _ = f.tick.tick() => {
                Event::default().event("snapshot").data(f.state.view.snapshot().to_string())
            }
        };
        Some((Ok(event), f))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
