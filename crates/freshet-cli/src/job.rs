//! Options every streaming command shares besides the UI: the checkpoint directory, the event
//! log and the alert webhook.

use anyhow::Context;
use clap::Args;
use freshet::StreamingContext;
use freshet_ui::{EventLog, EventLogConfig, Webhook, WebhookConfig};
use std::path::PathBuf;

/// The folder of a checkpoint directory that holds the event log by default.
pub const EVENTS_FOLDER: &str = "events";

/// Checkpointing, the event log and the webhook of a streaming command.
#[derive(Args, Debug)]
pub struct JobArgs {
    /// A checkpoint directory: state and source positions are saved there every 10 batches,
    /// and a job started again on it resumes where it stopped (or crashed).
    #[arg(long, env = "FRESHET_CHECKPOINT", value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Where the event log goes (`freshet history` serves it after the job), or `off`.
    /// Default: the `events` folder of the checkpoint directory with --checkpoint, else off.
    #[arg(long, env = "FRESHET_EVENT_LOG", value_name = "DIR|off")]
    event_log: Option<String>,
    /// A URL (http:// or https://) the job POSTs a JSON alert to when it falls behind, a
    /// receiver keeps failing, checkpoints fail or it stops on an error, and when each is
    /// resolved.
    #[arg(long, env = "FRESHET_WEBHOOK", value_name = "URL")]
    webhook: Option<String>,
}

/// What [`JobArgs::attach`] started that outlives the job (the event log is the context's
/// listener and ends with it).
pub struct Attached {
    webhook: Option<Webhook>,
}

impl JobArgs {
    /// The event log's directory, if there is one.
    fn event_log_dir(&self) -> Option<PathBuf> {
        match self.event_log.as_deref() {
            Some(d) if d.eq_ignore_ascii_case("off") => None,
            Some(d) => Some(PathBuf::from(d)),
            None => self.checkpoint.as_ref().map(|c| c.join(EVENTS_FOLDER)),
        }
    }

    /// Attaches the checkpoint directory, the event log and the webhook to `ctx` (before it
    /// starts). In a cluster, the event log and the webhook belong to the driver (process 0).
    pub fn attach(&self, ctx: &StreamingContext) -> anyhow::Result<Attached> {
        if let Some(dir) = &self.checkpoint {
            ctx.checkpoint(dir)?;
        }
        if !ctx.is_driver() {
            return Ok(Attached { webhook: None });
        }
        if let Some(dir) = self.event_log_dir() {
            {
                let log = EventLog::start(ctx, EventLogConfig::new(&dir))
                    .context("cannot start the event log")?;
                println!(
                    "event log: {} (run {}; `freshet history {}` shows it)",
                    dir.display(),
                    log.run(),
                    dir.display()
                );
            }
        }
        let webhook = match &self.webhook {
            Some(url) => Some(
                Webhook::start(ctx, WebhookConfig::new(url.clone()))
                    .context("cannot start the webhook")?,
            ),
            None => None,
        };
        Ok(Attached { webhook })
    }
}

impl Attached {
    /// Waits until the webhook has sent the job's last alerts (call after the job stopped).
    pub fn finish(self) {
        if let Some(w) = self.webhook {
            w.join();
        }
    }
}
