//! `freshet history DIR`: the web UI of a finished or crashed job, from its event log.

use crate::demo::UiArgs;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// Options of `freshet history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The event log's directory (`--event-log`), or the job's checkpoint directory (whose
    /// `events` folder holds it by default).
    dir: PathBuf,
    /// The run to show (`run-<start ms>`, as `--list` prints them); default: the newest.
    #[arg(long)]
    run: Option<String>,
    /// Print the runs the directory holds and exit.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    ui: UiArgs,
}

/// The directory that holds the runs: `dir`, or its `events` folder.
fn log_dir(dir: &Path) -> PathBuf {
    let events = dir.join(crate::job::EVENTS_FOLDER);
    let has_runs = |d: &Path| freshet_ui::recorded_runs(d).is_ok_and(|r| !r.is_empty());
    if !has_runs(dir) && has_runs(&events) {
        events
    } else {
        dir.to_path_buf()
    }
}

/// Runs `freshet history`.
pub fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let dir = log_dir(&args.dir);
    if args.list {
        let runs = freshet_ui::recorded_runs(&dir)
            .with_context(|| format!("cannot list the runs in {}", dir.display()))?;
        for (run, parts) in runs {
            println!("{run} ({} part(s))", parts.len());
        }
        return Ok(());
    }
    let Some(config) = args.ui.config()? else {
        anyhow::bail!("freshet history serves the UI: --ui-addr cannot be off");
    };
    let ui = freshet_ui::UiServer::start_history(&dir, args.run.as_deref(), config)
        .context("cannot serve the recorded run")?;
    println!("UI of the recorded run at {}; Ctrl-C stops", ui.url());
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("cannot handle Ctrl-C")?;
    let _ = rx.recv();
    ui.shutdown();
    Ok(())
}
