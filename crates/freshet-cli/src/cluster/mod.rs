//! `freshet cluster run`: one Freshet cluster of several processes on this machine, started,
//! watched and restarted together (the part YARN plays for Spark).

mod flags;
mod group;
mod layout;
mod signals;
mod supervisor;

pub use flags::ClusterArgs;

use clap::{Args, Subcommand};
use std::ffi::OsString;
use std::time::Duration;

/// Subcommands of `freshet cluster`.
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Starts PROGRAM N times as one Freshet cluster on this machine and watches it.
    ///
    /// Process i (from 0) gets FRESHET_CLUSTER_PROCESSES=N, FRESHET_CLUSTER_PROCESS=i,
    /// FRESHET_CLUSTER_PEERS (HOST:PORT of every process, process i at port P+1+i),
    /// FRESHET_CLUSTER_CONTROL=HOST:P (where process 0, the driver, listens for the others) and
    /// FRESHET_CLUSTER_ATTEMPT (how many times the cluster was restarted before this start).
    /// The processes inherit standard input, output and error.
    ///
    /// When every process exits with status 0, so does this command. When one exits with
    /// another status or is killed by a signal, the others are stopped (SIGTERM, SIGKILL after
    /// 5 s) and, after --restart-delay-ms, all N start again; after --max-restarts restarts it
    /// gives up with status 1. SIGTERM or Ctrl-C is forwarded to the processes as SIGTERM (each
    /// time it is received); the command then exits with status 0 if they all did.
    Run(RunArgs),
}

/// Options of `freshet cluster run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// How many processes the cluster has (1 ..= 64).
    #[arg(long, env = "FRESHET_PROCESSES", value_name = "N", value_parser = crate::ranges::processes)]
    processes: usize,
    /// The driver's control port P; process i listens on P+1+i (1 ..= 65535-(N+1)).
    #[arg(long, env = "FRESHET_BASE_PORT", value_name = "P", default_value_t = 2100, value_parser = clap::value_parser!(u16).range(1..=65_533))]
    base_port: u16,
    /// How many times the cluster is restarted after a failure before giving up (0 ..= 1000).
    #[arg(long, env = "FRESHET_MAX_RESTARTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1000))]
    max_restarts: u32,
    /// The pause before a restart, in milliseconds (0 ..= 600000).
    #[arg(long, env = "FRESHET_RESTART_DELAY_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    restart_delay_ms: u64,
    /// The host of every address the processes get.
    #[arg(
        long,
        env = "FRESHET_HOST",
        value_name = "H",
        default_value = "127.0.0.1"
    )]
    host: String,
    /// The program every process runs, with its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    program: Vec<OsString>,
}

/// Runs a `freshet cluster` subcommand.
pub fn run(cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Run(args) => {
            let plan = supervisor::Plan {
                layout: layout::Layout::new(args.processes, &args.host, args.base_port)?,
                program: args.program,
                max_restarts: args.max_restarts,
                restart_delay: Duration::from_millis(args.restart_delay_ms),
            };
            supervisor::supervise(&plan)
        }
    }
}
