//! `freshet checkpoint inspect DIR`: what a checkpoint directory holds.

use clap::Subcommand;
use freshet_durable::{describe, BatchLog, CheckpointStatus};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Subcommands of `freshet checkpoint`.
#[derive(Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Checks and prints what DIR holds (a context's checkpoint directory, its `checkpoints`
    /// folder, or one checkpoint): every checkpoint (batch time, fingerprint, source positions,
    /// per-worker state parts and whether each verifies), the batch log, and every receiver's
    /// write-ahead log. Read-only: nothing is repaired or removed, so it is safe on the
    /// directory of a running job. Exits with status 1 when anything is damaged.
    Inspect {
        /// The directory.
        dir: PathBuf,
    },
}

/// Runs a `freshet checkpoint` subcommand.
pub fn run(cmd: CheckpointCommand) -> anyhow::Result<()> {
    match cmd {
        CheckpointCommand::Inspect { dir } => {
            let damaged = inspect(&dir, &mut std::io::stdout())?;
            if damaged > 0 {
                anyhow::bail!(
                    "{damaged} damaged item(s) in {}: see above, and docs/durability.md for what to do",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

/// Prints what `dir` holds to `out`; returns how many damaged items it found.
pub fn inspect(dir: &Path, out: &mut dyn Write) -> anyhow::Result<usize> {
    if !dir.exists() {
        anyhow::bail!("{} does not exist", dir.display());
    }
    let mut damaged = 0;
    let checkpoints = if dir.join("checkpoints").is_dir() {
        dir.join("checkpoints")
    } else {
        dir.to_path_buf()
    };
    let found = describe(&checkpoints)?;
    if found.is_empty() {
        writeln!(out, "no checkpoint in {}", checkpoints.display())?;
    }
    for c in &found {
        writeln!(out, "{c}")?;
        if matches!(c.status, CheckpointStatus::Damaged(_)) {
            damaged += 1;
        }
    }
    let batches = dir.join("batches");
    if batches.is_dir() {
        let log = BatchLog::read(&batches)?;
        let pending: Vec<u64> = log
            .entries
            .values()
            .filter(|e| !e.completed)
            .map(|e| e.time)
            .collect();
        writeln!(
            out,
            "batch log {}: {} batches logged since the oldest kept checkpoint{}",
            batches.display(),
            log.entries.len(),
            match (log.entries.keys().next(), log.entries.keys().last()) {
                (Some(a), Some(b)) => format!(" ({a} .. {b} ms)"),
                _ => String::new(),
            }
        )?;
        if pending.is_empty() {
            writeln!(out, "  every logged batch completed")?;
        } else {
            writeln!(
                out,
                "  logged but not completed (replayed on recovery): {pending:?}"
            )?;
        }
        damaged += report_log_damage(out, &log.damage, log.torn_tail)?;
    }
    let receivers = dir.join("receivers");
    if receivers.is_dir() {
        let mut wals: Vec<PathBuf> = std::fs::read_dir(&receivers)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        wals.sort();
        for wal in wals {
            let check = freshet_durable::wal::check(&wal)?;
            writeln!(
                out,
                "write-ahead log {}: {} blocks{}",
                wal.display(),
                check.records,
                check
                    .offsets
                    .map(|(a, b)| format!(" ({a} .. {})", b.0.saturating_sub(1)))
                    .unwrap_or_default()
            )?;
            damaged += report_log_damage(out, &check.lost, check.torn_tail)?;
        }
    }
    if damaged == 0 {
        writeln!(out, "no damage found")?;
    }
    Ok(damaged)
}

/// Prints a log's lost records and torn tail; returns how many damaged stretches it has.
fn report_log_damage(
    out: &mut dyn Write,
    lost: &[freshet_durable::DurableError],
    torn_tail: bool,
) -> anyhow::Result<usize> {
    for e in lost {
        writeln!(out, "  DAMAGED: {e}")?;
    }
    if torn_tail {
        writeln!(
            out,
            "  torn tail: the last write was interrupted by a crash (never acknowledged); the next start cuts it off"
        )?;
    }
    Ok(lost.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspecting_a_missing_directory_is_an_error() {
        let err = inspect(
            Path::new("/nonexistent/freshet-checkpoint"),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
