//! The webhook: a local HTTP server receives the alerts a job posts when it falls behind (a
//! slow output on a manual clock) and catches up, when a receiver keeps failing and then runs
//! cleanly, and when the job stops on an error.

use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::source::{Backoff, ReceiverOptions};
use freshet::{BatchTime, ManualClock, SourceError, StreamingConfig, StreamingContext};
use freshet_ui::{Webhook, WebhookConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A local HTTP server that hands over the JSON body of every POST.
struct Hook {
    url: String,
    alerts: mpsc::Receiver<Value>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let (tx, alerts) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut length = 0;
                let mut line = String::new();
                let mut first = true;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if first {
                        assert!(line.starts_with("POST /alerts "), "{line}");
                        first = false;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    break;
                }
            }
        });
        Hook { url, alerts }
    }

    /// The next alert; fails after a generous wait.
    fn next(&self) -> Value {
        self.alerts.recv_timeout(WAIT).expect("no alert was posted")
    }

    fn config(&self) -> WebhookConfig {
        WebhookConfig {
            check_every: Duration::from_millis(10),
            quiet: Duration::from_millis(200),
            ..WebhookConfig::new(self.url.clone())
        }
    }
}

fn context() -> (StreamingContext, ManualClock) {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(1)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    (ctx, clock)
}

#[test]
fn falling_behind_fires_and_catching_up_resolves_it() {
    let hook = Hook::start();
    let (ctx, clock) = context();
    // The output of batch 100 waits until the test lets it go.
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate = Mutex::new(gate_rx);
    ctx.queue_stream(vec![vec![1u64]; 10])
        .foreach_batch(move |t, _| {
            if t == BatchTime(100) {
                gate.lock().unwrap().recv().unwrap();
            }
        });
    let webhook = Webhook::start(&ctx, hook.config()).unwrap();
    ctx.start().unwrap();
    clock.advance(Duration::from_millis(100));
    // Three more batches come due while batch 100 is stuck.
    clock.advance(Duration::from_millis(300));
    let firing = hook.next();
    assert_eq!(firing["alert"], "falling_behind");
    assert_eq!(firing["state"], "firing");
    assert!(firing["text"].as_str().unwrap().contains("falling behind"));
    assert!(firing["details"]["backlog_batches"].as_u64().unwrap() >= 2);
    gate_tx.send(()).unwrap();
    ctx.await_batch(BatchTime(400), WAIT).unwrap();
    let resolved = hook.next();
    assert_eq!(
        (resolved["alert"].as_str(), resolved["state"].as_str()),
        (Some("falling_behind"), Some("resolved"))
    );
    ctx.stop(true).unwrap();
    webhook.join();
}

/// Fails `failures` times with a retryable error, then stores a record and waits for the stop;
/// or, with `fatal`, fails for good once the test opens the gate.
struct Flaky {
    failures: u32,
    fatal: Option<mpsc::Receiver<()>>,
}

impl Receiver for Flaky {
    type Item = u64;

    fn name(&self) -> String {
        "flaky".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> Result<(), SourceError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(SourceError::external("connection refused"));
        }
        if let Some(gate) = self.fatal.take() {
            let _ = gate.recv();
            return Err(SourceError::user("no such queue"));
        }
        ctx.store(1);
        while !ctx.is_stopped() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

fn options() -> ReceiverOptions {
    ReceiverOptions::new().backoff(Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(2),
    })
}

#[test]
fn a_receiver_that_keeps_failing_fires_then_resolves_when_it_runs_cleanly() {
    let hook = Hook::start();
    let (ctx, _clock) = context();
    ctx.receiver_stream_with(
        Flaky {
            failures: 3,
            fatal: None,
        },
        options(),
    )
    .uid("orders")
    .foreach_batch(|_, _| {});
    let webhook = Webhook::start(&ctx, hook.config()).unwrap();
    ctx.start().unwrap();
    let firing = hook.next();
    assert_eq!(
        (firing["alert"].as_str(), firing["state"].as_str()),
        (Some("receiver_failing"), Some("firing"))
    );
    assert!(firing["subject"].as_str().unwrap().starts_with("orders"));
    assert_eq!(firing["details"]["errors"], 3);
    assert!(firing["text"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    let resolved = hook.next();
    assert_eq!(
        (resolved["alert"].as_str(), resolved["state"].as_str()),
        (Some("receiver_failing"), Some("resolved"))
    );
    ctx.stop(true).unwrap();
    webhook.join();
}

#[test]
fn a_job_that_stops_on_an_error_fires_once_and_bad_settings_are_refused() {
    let hook = Hook::start();
    let (ctx, _clock) = context();
    let (open, gate) = mpsc::channel();
    ctx.receiver_stream_with(
        Flaky {
            failures: 0,
            fatal: Some(gate),
        },
        options(),
    )
    .uid("orders")
    .foreach_batch(|_, _| {});
    let webhook = Webhook::start(&ctx, hook.config()).unwrap();
    ctx.start().unwrap();
    open.send(()).unwrap();
    assert!(ctx.await_termination().is_err());
    webhook.join();
    let failed = hook.next();
    assert_eq!(failed["alert"], "job_failed");
    assert!(failed["text"].as_str().unwrap().contains("no such queue"));
    assert!(hook.alerts.try_recv().is_err(), "one alert only");

    let (ctx, _clock) = context();
    let err = Webhook::start(&ctx, WebhookConfig::new("ftp://example")).unwrap_err();
    assert!(err.to_string().contains("http:// or https://"), "{err}");
    let err = Webhook::start(
        &ctx,
        WebhookConfig {
            receiver_failures: 0,
            ..WebhookConfig::new(hook.url.clone())
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("receiver_failures = 0"), "{err}");
}
