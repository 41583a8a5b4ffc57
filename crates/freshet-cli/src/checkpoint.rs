//! `freshet checkpoint inspect DIR`: what a checkpoint directory holds.

use clap::Subcommand;
use freshet_durable::{describe, BatchLog};
use std::path::{Path, PathBuf};

/// Subcommands of `freshet checkpoint`.
#[derive(Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Prints the checkpoints in DIR (a context's checkpoint directory, its `checkpoints`
    /// folder, or one checkpoint): batch time, fingerprint, source positions, per-worker state
    /// parts and whether each verifies; then the batches logged after them.
    Inspect {
        /// The directory.
        dir: PathBuf,
    },
}

/// Runs a `freshet checkpoint` subcommand.
pub fn run(cmd: CheckpointCommand) -> anyhow::Result<()> {
    match cmd {
        CheckpointCommand::Inspect { dir } => inspect(&dir),
    }
}

fn inspect(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        anyhow::bail!("{} does not exist", dir.display());
    }
    let checkpoints = if dir.join("checkpoints").is_dir() {
        dir.join("checkpoints")
    } else {
        dir.to_path_buf()
    };
    let found = describe(&checkpoints)?;
    if found.is_empty() {
        println!("no checkpoint in {}", checkpoints.display());
    }
    for c in &found {
        println!("{c}");
    }
    let batches = dir.join("batches");
    if batches.is_dir() {
        let log = BatchLog::open(&batches)?;
        let entries: Vec<_> = log.entries_from(0).collect();
        let pending: Vec<u64> = entries
            .iter()
            .filter(|e| !e.completed)
            .map(|e| e.time)
            .collect();
        println!(
            "batch log {}: {} batches logged since the oldest kept checkpoint{}",
            batches.display(),
            entries.len(),
            match (entries.first(), entries.last()) {
                (Some(a), Some(b)) => format!(" ({} .. {} ms)", a.time, b.time),
                _ => String::new(),
            }
        );
        if pending.is_empty() {
            println!("  every logged batch completed");
        } else {
            println!("  logged but not completed (replayed on recovery): {pending:?}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspecting_a_missing_directory_is_an_error() {
        let err = inspect(Path::new("/nonexistent/freshet-checkpoint")).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
