//! The flags that place a streaming command's process in a cluster. Each flag is the
//! environment variable of the same setting, so a job started by `freshet cluster run` or a
//! Kubernetes StatefulSet needs no flags.

use clap::Args;
use freshet::cluster::{
    ClusterConfig, ENV_CONTROL, ENV_HOSTS_FILE, ENV_PEERS, ENV_PROCESS, ENV_PROCESSES,
};
use std::path::PathBuf;

/// Where this process stands in a cluster (nothing: the job runs in this process alone).
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Run the job over N processes (1 ..= 1024), started once each with its --process.
    #[arg(long, env = ENV_PROCESSES, value_name = "N")]
    processes: Option<String>,
    /// This process's index, from 0 (the driver). Default: the number at the end of the host
    /// name (`freshet-2` → 2), as a Kubernetes StatefulSet names its pods.
    #[arg(long, env = ENV_PROCESS, value_name = "I")]
    process: Option<String>,
    /// Every process's HOST:PORT for the workers' data, comma separated in index order, or one
    /// address with `{i}` in it (`freshet-{i}.freshet:2101`).
    #[arg(long, env = ENV_PEERS, value_name = "ADDRS")]
    peers: Option<String>,
    /// A file with one HOST:PORT per line, instead of --peers.
    #[arg(long, env = ENV_HOSTS_FILE, value_name = "FILE")]
    hosts_file: Option<PathBuf>,
    /// Where process 0 listens for the others (default: its host, at its port minus one).
    #[arg(long, env = ENV_CONTROL, value_name = "HOST:PORT")]
    control: Option<String>,
}

impl ClusterArgs {
    /// The cluster the flags describe, if any.
    pub fn config(&self) -> anyhow::Result<Option<ClusterConfig>> {
        let lookup = |name: &str| -> Option<String> {
            match name {
                ENV_PROCESSES => self.processes.clone(),
                ENV_PROCESS => self.process.clone(),
                ENV_PEERS => self.peers.clone(),
                ENV_HOSTS_FILE => self
                    .hosts_file
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                ENV_CONTROL => self.control.clone(),
                other => std::env::var(other).ok(),
            }
        };
        Ok(ClusterConfig::from_vars(lookup)?)
    }

    /// `config` with the cluster the flags describe.
    pub fn apply(
        &self,
        config: freshet::StreamingConfig,
    ) -> anyhow::Result<freshet::StreamingConfig> {
        Ok(match self.config()? {
            Some(c) => config.cluster(c),
            None => config,
        })
    }
}
