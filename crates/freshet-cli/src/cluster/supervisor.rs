//! The supervisor's loop: start the cluster, watch its processes, restart all of them when one
//! fails, and stop them when the supervisor is asked to stop.

use super::group::{describe, Group, POLL};
use super::layout::Layout;
use super::signals::Signals;
use anyhow::bail;
use std::ffi::OsString;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How long the processes of a failed cluster get between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// What the supervisor runs and how it restarts it.
#[derive(Debug)]
pub struct Plan {
    /// The program and its arguments.
    pub program: Vec<OsString>,
    /// The addresses of the cluster.
    pub layout: Layout,
    /// How many times the cluster may be restarted after a failure.
    pub max_restarts: u32,
    /// The pause between the end of a failed cluster and its restart.
    pub restart_delay: Duration,
}

/// How one start of the cluster ended.
enum End {
    /// Every process exited with status 0.
    Succeeded,
    /// A process failed (the first by index, if several); the others may still run.
    Failed(usize, ExitStatus),
    /// The supervisor was asked to stop, and every process has ended; the first that failed,
    /// if one did.
    Stopped(Option<(usize, ExitStatus)>),
}

/// Runs the cluster until every process of one start has exited with status 0 (`Ok`), it failed
/// more often than `plan.max_restarts` allows, or the supervisor is stopped by a signal (`Ok`
/// when every process then exited with status 0).
pub fn supervise(plan: &Plan) -> anyhow::Result<()> {
    let signals = Signals::install()?;
    let mut forwarded = 0;
    let n = plan.layout.processes();
    let mut attempt = 0;
    loop {
        let mut group = Group::start(&plan.program, &plan.layout, attempt)?;
        let (index, status) = match watch(&mut group, &signals, &mut forwarded)? {
            End::Succeeded | End::Stopped(None) => return Ok(()),
            End::Stopped(Some((index, status))) => {
                bail!("stopped by a signal; process {index} {}", describe(status))
            }
            End::Failed(index, status) => (index, status),
        };
        if attempt >= plan.max_restarts {
            group.terminate(GRACE)?;
            bail!(
                "process {index} {}; giving up after {attempt} restart(s) (--max-restarts {})",
                describe(status),
                plan.max_restarts
            );
        }
        attempt += 1;
        eprintln!(
            "freshet cluster: process {index} {}; restarting all {n} processes (restart {attempt} of {})",
            describe(status),
            plan.max_restarts
        );
        group.terminate(GRACE)?;
        drop(group);
        if !pause(plan.restart_delay, &signals, forwarded) {
            bail!(
                "stopped by a signal before restart {attempt}, after process {index} {}",
                describe(status)
            );
        }
    }
}

/// Polls the processes of `group` until all exited with status 0, one failed, or (after a
/// signal) all have ended. Forwards each signal not yet forwarded (`forwarded` counts them) as
/// SIGTERM to the processes still running.
fn watch(group: &mut Group, signals: &Signals, forwarded: &mut usize) -> anyhow::Result<End> {
    loop {
        group.reap()?;
        let received = signals.received();
        if received > *forwarded {
            *forwarded = received;
            let asked = group.ask_to_stop();
            if asked > 0 {
                eprintln!("freshet cluster: stopping; SIGTERM sent to {asked} process(es)");
            }
        }
        if *forwarded > 0 {
            if !group.running() {
                return Ok(End::Stopped(group.first_failure()));
            }
        } else if let Some((index, status)) = group.first_failure() {
            return Ok(End::Failed(index, status));
        } else if !group.running() {
            return Ok(End::Succeeded);
        }
        std::thread::sleep(POLL);
    }
}

/// Waits `delay`; `false` when a signal beyond the `forwarded` ones cuts it short.
fn pause(delay: Duration, signals: &Signals, forwarded: usize) -> bool {
    let end = Instant::now() + delay;
    loop {
        if signals.received() > forwarded {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep(POLL.min(end - now));
    }
}
