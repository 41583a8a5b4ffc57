//! The processes of one start of the cluster: started together, polled, and stopped together.

use super::layout::Layout;
use anyhow::Context;
use std::ffi::OsString;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How often the processes are polled.
pub const POLL: Duration = Duration::from_millis(20);

/// One process of the cluster and, once it has ended, how.
struct Member {
    child: Child,
    status: Option<ExitStatus>,
}

/// The processes of one start of the cluster. Those still running when it is dropped are
/// killed (SIGKILL), so that an error never leaves them behind.
pub struct Group {
    members: Vec<Member>,
}

/// How a process ended, as the supervisor's messages say it: "exited with status 1", "was
/// killed by signal 9".
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended ({status})")
}

impl Group {
    /// Starts `program` (with its arguments) once for every process of `layout`, each with its
    /// environment for start number `attempt`. The processes inherit standard input, output and
    /// error, and run in a process group of their own, so that a Ctrl-C at a terminal reaches
    /// the supervisor only (which forwards it).
    pub fn start(program: &[OsString], layout: &Layout, attempt: u32) -> anyhow::Result<Group> {
        let Some((name, args)) = program.split_first() else {
            anyhow::bail!("no program to run (give it after --)");
        };
        let mut group = Group {
            members: Vec::with_capacity(layout.processes()),
        };
        for index in 0..layout.processes() {
            let mut command = Command::new(name);
            command.args(args).envs(layout.env(index, attempt));
            #[cfg(unix)]
            {
                use std::os::unix::process::CommandExt;
                command.process_group(0);
            }
            // On an error, dropping `group` kills the processes already started.
            let child = command.spawn().with_context(|| {
                format!("cannot start process {index}: {}", name.to_string_lossy())
            })?;
            group.members.push(Member {
                child,
                status: None,
            });
        }
        Ok(group)
    }

    /// Notes how the processes that ended since the last call ended.
    pub fn reap(&mut self) -> anyhow::Result<()> {
        for (index, m) in self.members.iter_mut().enumerate() {
            if m.status.is_none() {
                m.status = m
                    .child
                    .try_wait()
                    .with_context(|| format!("cannot poll process {index}"))?;
            }
        }
        Ok(())
    }

    /// Whether a process is still running (as of the last [`Group::reap`]).
    pub fn running(&self) -> bool {
        self.members.iter().any(|m| m.status.is_none())
    }

    /// The first process (by index) that ended with a status other than 0, and how.
    pub fn first_failure(&self) -> Option<(usize, ExitStatus)> {
        self.members
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.status.filter(|s| !s.success()).map(|s| (i, s)))
    }

    /// Asks every process still running to stop: SIGTERM (where there are no signals, it is
    /// killed). Returns how many were asked.
    pub fn ask_to_stop(&mut self) -> usize {
        let mut asked = 0;
        for m in self.members.iter_mut().filter(|m| m.status.is_none()) {
            #[cfg(unix)]
            {
                // The process has not been waited for, so its id still names it (a zombie at
                // worst). A failure can only be that it is gone: nothing to do then.
                if let Ok(pid) = libc::pid_t::try_from(m.child.id()) {
                    // SAFETY: kill(2) takes any pid and signal number; it has no memory effects.
                    unsafe {
                        libc::kill(pid, libc::SIGTERM);
                    }
                }
            }
            #[cfg(not(unix))]
            let _ = m.child.kill();
            asked += 1;
        }
        asked
    }

    /// Stops every process still running: SIGTERM, then SIGKILL to those still running after
    /// `grace`; returns once all have ended.
    pub fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        self.ask_to_stop();
        let deadline = Instant::now() + grace;
        loop {
            self.reap()?;
            if !self.running() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL);
        }
        self.kill()
    }

    /// Kills (SIGKILL) every process still running and waits for it.
    fn kill(&mut self) -> anyhow::Result<()> {
        for (index, m) in self.members.iter_mut().enumerate() {
            if m.status.is_none() {
                // An error means that it has already ended; `wait` then collects its status.
                let _ = m.child.kill();
                m.status = Some(
                    m.child
                        .wait()
                        .with_context(|| format!("cannot wait for process {index}"))?,
                );
            }
        }
        Ok(())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
