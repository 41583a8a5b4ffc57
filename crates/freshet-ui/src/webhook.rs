//! A webhook the job itself calls when something goes wrong, for teams that want a message in
//! a chat channel or an incident tool without running Prometheus and Alertmanager.
//!
//! A background thread looks at the job's figures every [`WebhookConfig::check_every`] and
//! POSTs a JSON object to the URL when an alert starts firing and when it is resolved:
//!
//! ```json
//! {"alert": "falling_behind", "state": "firing", "subject": "job", "at_ms": 1765000000000,
//!  "text": "Freshet is falling behind: 12 batches due and not done ...", "details": {...}}
//! ```
//!
//! `text` is a one-line summary (what Slack, Mattermost and similar incoming webhooks show).
//! The alerts:
//!
//! - `falling_behind`: batches wait that could not even start (processing is slower than the
//!   batch interval); resolved when the backlog is gone;
//! - `receiver_failing` (one per source): its receiver failed
//!   [`WebhookConfig::receiver_failures`] times since it last ran cleanly; resolved after it
//!   has run for [`WebhookConfig::quiet`] without failing;
//! - `checkpoint_failing`: the last checkpoint failed; resolved when one is written;
//! - `job_failed`: the job stopped on an error (fires once).
//!
//! A call that fails is retried twice (after 1 s and 2 s), then logged and dropped: the job
//! never waits for the webhook.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use freshet::StreamingContext;

const CHECK_EVERY_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(600);
const RECEIVER_FAILURES_RANGE: RangeInclusive<u64> = 1..=1_000_000;
const QUIET_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(24 * 3600);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the webhook posts and when.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The URL (`http://` or `https://`) to POST alerts to.
    pub url: String,
    /// How often the job's figures are looked at: 10 ms to 10 min, 1 s by default.
    pub check_every: Duration,
    /// Failures of one receiver that make it `receiver_failing`: 1 to 1,000,000, 3 by default.
    pub receiver_failures: u64,
    /// How long a failing receiver must run without failing for the alert to be resolved:
    /// 10 ms to 24 h, 60 s by default.
    pub quiet: Duration,
}

impl WebhookConfig {
    /// Posts to `url` with the default settings.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            check_every: Duration::from_secs(1),
            receiver_failures: 3,
            quiet: Duration::from_secs(60),
        }
    }

    fn validate(&self) -> Result<(), WebhookError> {
        let out = |setting, value: String, allowed| {
            Err(WebhookError::OutOfRange {
                setting,
                value,
                allowed,
            })
        };
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(WebhookError::Url(self.url.clone()));
        }
        if !CHECK_EVERY_RANGE.contains(&self.check_every) {
            return out(
                "check_every",
                format!("{:?}", self.check_every),
                "10ms to 600s",
            );
        }
        if !RECEIVER_FAILURES_RANGE.contains(&self.receiver_failures) {
            return out(
                "receiver_failures",
                self.receiver_failures.to_string(),
                "1 to 1000000",
            );
        }
        if !QUIET_RANGE.contains(&self.quiet) {
            return out("quiet", format!("{:?}", self.quiet), "10ms to 86400s");
        }
        Ok(())
    }
}

/// Why the webhook could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an `http://` or `https://` URL.
    #[error("the webhook URL {0:?} must start with http:// or https://")]
    Url(String),
    /// A setting of [`WebhookConfig`] is outside its range.
    #[error("the webhook setting {setting} = {value} is out of range (allowed: {allowed})")]
    OutOfRange {
        /// The setting's name, as the field of [`WebhookConfig`].
        setting: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// The webhook's threads could not be started.
    #[error("cannot start the webhook thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The webhook of a running job (see the [module docs](self)). It stops by itself once the job
/// has stopped and its last alerts are sent; dropping it stops it at once.
#[derive(Debug)]
pub struct Webhook {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Starts watching `ctx` and posting its alerts to `config.url`.
    pub fn start(ctx: &StreamingContext, config: WebhookConfig) -> Result<Webhook, WebhookError> {
        config.validate()?;
        let (stop, stopped) = mpsc::channel();
        let (posts, queue) = mpsc::channel::<Value>();
        let url = config.url.clone();
        let sender = std::thread::Builder::new()
            .name("freshet-webhook-post".into())
            .spawn(move || {
                for alert in queue {
                    post(&url, &alert);
                }
            })
            .map_err(WebhookError::Thread)?;
        let ctx = ctx.clone();
        let thread = std::thread::Builder::new()
            .name("freshet-webhook".into())
            .spawn(move || {
                let mut watch = Watch::new(config);
                loop {
                    let ended = stopped.recv_timeout(watch.config.check_every);
                    let running = ctx.is_running() || ctx.first_batch_time().is_none();
                    for alert in watch.check(&ctx) {
                        let _ = posts.send(alert);
                    }
                    if !matches!(ended, Err(mpsc::RecvTimeoutError::Timeout)) || !running {
                        break;
                    }
                }
                drop(posts);
                let _ = sender.join();
            })
            .map_err(WebhookError::Thread)?;
        Ok(Webhook {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Waits until the job has stopped and the webhook has sent its last alerts.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// POSTs `alert` to `url`, trying three times.
fn post(url: &str, alert: &Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    let body = alert.to_string();
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(u64::from(attempt)));
        }
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
        {
            Ok(_) => return,
            Err(e) => tracing::warn!(
                "the webhook call for {} failed (attempt {} of 3): {e}",
                alert["alert"],
                attempt + 1
            ),
        }
    }
}

#[derive(Default)]
struct ReceiverWatch {
    /// Failures counted at the last clean run (or the start).
    errors_at_clean: u64,
    /// Failures seen last time, and since when they have not grown.
    errors: u64,
    unchanged_since: Option<Instant>,
    firing: bool,
}

/// What the webhook knows of the alerts it has sent.
struct Watch {
    config: WebhookConfig,
    falling_behind: bool,
    checkpoint_failing: bool,
    job_failed: bool,
    receivers: HashMap<u64, ReceiverWatch>,
}

fn alert(name: &str, firing: bool, subject: &str, text: String, details: Value) -> Value {
    let at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    json!({
        "alert": name,
        "state": if firing { "firing" } else { "resolved" },
        "subject": subject,
        "at_ms": at,
        "text": text,
        "details": details,
    })
}

impl Watch {
    fn new(config: WebhookConfig) -> Self {
        Watch {
            config,
            falling_behind: false,
            checkpoint_failing: false,
            job_failed: false,
            receivers: HashMap::new(),
        }
    }

    /// The alerts that start firing or are resolved now.
    fn check(&mut self, ctx: &StreamingContext) -> Vec<Value> {
        let mut out = Vec::new();
        let backlog = ctx.backlog();
        if backlog.falling_behind != self.falling_behind {
            self.falling_behind = backlog.falling_behind;
            let text = if backlog.falling_behind {
                format!(
                    "Freshet is falling behind: {} batches due and not done, the oldest at {} ms; processing takes longer than the batch interval",
                    backlog.batches,
                    backlog.oldest.map_or(0, |t| t.0)
                )
            } else {
                "Freshet has caught up: no batch waits any more".to_string()
            };
            out.push(alert(
                "falling_behind",
                backlog.falling_behind,
                "job",
                text,
                json!({ "backlog_batches": backlog.batches, "oldest": backlog.oldest.map(|t| t.0) }),
            ));
        }
        let history = ctx.checkpoint_history();
        let failing = history.consecutive_failures > 0;
        if failing != self.checkpoint_failing {
            self.checkpoint_failing = failing;
            let last = history.failures.last();
            let text = if failing {
                format!(
                    "Freshet cannot write checkpoints: {} failed in a row; last error: {}",
                    history.consecutive_failures,
                    last.map_or("", |f| f.error.as_str())
                )
            } else {
                "Freshet writes checkpoints again".to_string()
            };
            out.push(alert(
                "checkpoint_failing",
                failing,
                "checkpoints",
                text,
                json!({ "consecutive_failures": history.consecutive_failures, "failed": history.failed }),
            ));
        }
        let now = Instant::now();
        for s in ctx.sources_status() {
            let w = self.receivers.entry(s.id).or_default();
            if s.errors != w.errors {
                w.errors = s.errors;
                w.unchanged_since = Some(now);
            }
            let quiet = w
                .unchanged_since
                .is_some_and(|t| now.duration_since(t) >= self.config.quiet);
            let failures = s.errors - w.errors_at_clean;
            if !w.firing && failures >= self.config.receiver_failures {
                w.firing = true;
                out.push(alert(
                    "receiver_failing",
                    true,
                    &s.name,
                    format!(
                        "Freshet source {} keeps failing: {failures} failures, {} restarts; last error: {}",
                        s.name,
                        s.restarts,
                        s.last_error.as_deref().unwrap_or("")
                    ),
                    json!({ "errors": s.errors, "restarts": s.restarts, "last_error": s.last_error }),
                ));
            } else if quiet {
                if w.firing {
                    w.firing = false;
                    out.push(alert(
                        "receiver_failing",
                        false,
                        &s.name,
                        format!("Freshet source {} runs without failing again", s.name),
                        json!({ "errors": s.errors, "restarts": s.restarts }),
                    ));
                }
                w.errors_at_clean = s.errors;
            }
        }
        if !self.job_failed {
            if let Some(i) = ctx
                .incidents()
                .iter()
                .rev()
                .find(|i| i.kind == freshet::metrics::IncidentKind::JobFailure)
            {
                self.job_failed = true;
                out.push(alert(
                    "job_failed",
                    true,
                    "job",
                    format!("Freshet stopped on an error: {}", i.message),
                    json!({ "error": i.message }),
                ));
            }
        }
        out
    }
}
