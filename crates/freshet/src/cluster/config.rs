//! Which processes form a job and where they listen: given in code, or read from the
//! environment (what `freshet cluster run` and a Kubernetes StatefulSet provide).

use crate::error::{Error, Result};
use std::time::Duration;

/// The environment variable with the number of processes of the job.
pub const ENV_PROCESSES: &str = "FRESHET_CLUSTER_PROCESSES";
/// The environment variable with this process's index (0-based). Without it, the ordinal at
/// the end of `HOSTNAME` (`freshet-2` → 2, as a StatefulSet names its pods) is the index.
pub const ENV_PROCESS: &str = "FRESHET_CLUSTER_PROCESS";
/// The environment variable with every process's data address, comma-separated
/// (`host:port,host:port`), or one address with `{i}` in it, expanded for every index
/// (`freshet-{i}.freshet:2101`).
pub const ENV_PEERS: &str = "FRESHET_CLUSTER_PEERS";
/// The environment variable naming a file with one data address per line (instead of
/// [`ENV_PEERS`]); empty lines and lines starting with `#` are skipped.
pub const ENV_HOSTS_FILE: &str = "FRESHET_CLUSTER_HOSTS_FILE";
/// The environment variable with the address where process 0, the driver, listens for the
/// other processes (default: process 0's host, at its data port minus one).
pub const ENV_CONTROL: &str = "FRESHET_CLUSTER_CONTROL";

/// The most processes a job may have.
pub const MAX_PROCESSES: usize = 1024;

/// The processes of one job: the same program started once per process, each with its index.
///
/// Process 0 is the driver: it plans the batches, keeps the batch log and the checkpoint
/// manifests, and serves the UI. Every process runs [`workers`](crate::StreamingConfig::workers)
/// worker threads (the same number everywhere); worker `w` of process `p` is worker
/// `p × workers + w` of the job. Workers exchange records over TCP between the data addresses
/// (timely's cluster mode); the driver talks to the other processes over the control address.
///
/// ```
/// use freshet::cluster::ClusterConfig;
///
/// let cluster = ClusterConfig::new(
///     1,
///     vec!["127.0.0.1:2101".into(), "127.0.0.1:2102".into()],
/// );
/// assert_eq!(cluster.processes(), 2);
/// assert_eq!(cluster.control_address().unwrap(), "127.0.0.1:2100");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    process: usize,
    peers: Vec<String>,
    control: Option<String>,
    connect_timeout: Duration,
}

impl ClusterConfig {
    /// Process `process` of a job whose processes listen at `peers` (one `host:port` data
    /// address per process, in index order).
    pub fn new(process: usize, peers: Vec<String>) -> Self {
        ClusterConfig {
            process,
            peers,
            control: None,
            connect_timeout: Duration::from_secs(120),
        }
    }

    /// Where the driver (process 0) listens for the other processes (`host:port`).
    pub fn control(mut self, address: impl Into<String>) -> Self {
        self.control = Some(address.into());
        self
    }

    /// How long the processes wait for each other at the start (1 s ..= 1 hour, default 2
    /// minutes): processes may start in any order.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The job's cluster as the environment describes it (see [`ENV_PROCESSES`] and the
    /// variables next to it), or `None` when `FRESHET_CLUSTER_PROCESSES` is not set.
    pub fn from_env() -> Result<Option<ClusterConfig>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The cluster that variables with the names of the environment describe, each looked
    /// up with `var` (for settings that come from elsewhere, such as command-line flags).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let Some(processes) = var(ENV_PROCESSES) else {
            return Ok(None);
        };
        let processes: usize = parse_number(ENV_PROCESSES, &processes)?;
        if !(1..=MAX_PROCESSES).contains(&processes) {
            return Err(Error::Config(format!(
                "{ENV_PROCESSES} must be between 1 and {MAX_PROCESSES}, not {processes}"
            )));
        }
        let process = match (var(ENV_PROCESS), var("HOSTNAME")) {
            (Some(p), _) => parse_number(ENV_PROCESS, &p)?,
            (None, Some(host)) => host_ordinal(&host).ok_or_else(|| {
                Error::Config(format!(
                    "{ENV_PROCESS} is not set and HOSTNAME `{host}` does not end in `-<index>`"
                ))
            })?,
            (None, None) => {
                return Err(Error::Config(format!(
                    "{ENV_PROCESSES} is set but {ENV_PROCESS} is not (nor HOSTNAME)"
                )))
            }
        };
        let peers = match (var(ENV_PEERS), var(ENV_HOSTS_FILE)) {
            (Some(p), _) => expand_peers(&p, processes),
            (None, Some(file)) => std::fs::read_to_string(&file)
                .map_err(|e| Error::io(std::path::Path::new(&file), e))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
            (None, None) => {
                return Err(Error::Config(format!(
                    "{ENV_PROCESSES} is set but neither {ENV_PEERS} nor {ENV_HOSTS_FILE} is"
                )))
            }
        };
        if peers.len() != processes {
            return Err(Error::Config(format!(
                "{ENV_PROCESSES} is {processes} but {} data addresses are given",
                peers.len()
            )));
        }
        let mut config = ClusterConfig::new(process, peers);
        if let Some(control) = var(ENV_CONTROL) {
            config = config.control(control);
        }
        config.validate()?;
        Ok(Some(config))
    }

    /// The number of processes.
    pub fn processes(&self) -> usize {
        self.peers.len()
    }

    /// This process's index.
    pub fn process(&self) -> usize {
        self.process
    }

    /// Whether this process is the driver (process 0).
    pub fn is_driver(&self) -> bool {
        self.process == 0
    }

    /// Every process's data address.
    pub fn peers(&self) -> &[String] {
        &self.peers
    }

    /// How long the processes wait for each other at the start.
    pub fn connect_timeout_duration(&self) -> Duration {
        self.connect_timeout
    }

    /// Where the driver listens for the other processes: the address given, or process 0's
    /// host at its data port minus one.
    pub fn control_address(&self) -> Result<String> {
        if let Some(c) = &self.control {
            return Ok(c.clone());
        }
        let first = self
            .peers
            .first()
            .ok_or_else(|| Error::Config("a cluster needs at least one process".into()))?;
        let (host, port) = split_address(first)?;
        if port < 2 {
            return Err(Error::Config(format!(
                "process 0's port {port} leaves no room for the control port below it: set the control address"
            )));
        }
        Ok(format!("{host}:{}", port - 1))
    }

    /// Checks the counts and addresses.
    pub fn validate(&self) -> Result<()> {
        let n = self.peers.len();
        if !(1..=MAX_PROCESSES).contains(&n) {
            return Err(Error::Config(format!(
                "a cluster has between 1 and {MAX_PROCESSES} processes, not {n}"
            )));
        }
        if self.process >= n {
            return Err(Error::Config(format!(
                "the process index must be below the number of processes ({n}), not {}",
                self.process
            )));
        }
        for p in &self.peers {
            split_address(p)?;
        }
        split_address(&self.control_address()?)?;
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(3600));
        if !(min..=max).contains(&self.connect_timeout) {
            return Err(Error::Config(format!(
                "connect_timeout must be between 1 s and 1 hour, not {:?}",
                self.connect_timeout
            )));
        }
        Ok(())
    }
}

fn parse_number(name: &str, value: &str) -> Result<usize> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::Config(format!("{name} must be a whole number, not `{value}`")))
}

/// The ordinal at the end of a StatefulSet pod's host name (`freshet-2` → 2).
fn host_ordinal(host: &str) -> Option<usize> {
    let short = host.split('.').next()?;
    let (_, n) = short.rsplit_once('-')?;
    n.parse().ok()
}

/// Comma-separated addresses, or one address with `{i}` expanded for every index.
fn expand_peers(text: &str, processes: usize) -> Vec<String> {
    let text = text.trim();
    if text.contains("{i}") && !text.contains(',') {
        return (0..processes)
            .map(|i| text.replace("{i}", &i.to_string()))
            .collect();
    }
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `host:port` split, with the port checked.
fn split_address(address: &str) -> Result<(&str, u16)> {
    let bad = || Error::Config(format!("`{address}` is not a host:port address"));
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Option<ClusterConfig>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClusterConfig::from_vars(|k| vars.get(k).cloned())
    }

    #[test]
    fn no_variables_no_cluster() {
        assert_eq!(from(&[]).unwrap(), None);
    }

    #[test]
    fn a_list_of_peers_and_an_index() {
        let c = from(&[
            (ENV_PROCESSES, "3"),
            (ENV_PROCESS, "2"),
            (ENV_PEERS, "a:2101, b:2101,c:2101"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.process(), 2);
        assert_eq!(c.peers(), ["a:2101", "b:2101", "c:2101"]);
        assert_eq!(c.control_address().unwrap(), "a:2100");
    }

    #[test]
    fn a_statefulset_template_and_the_host_name_ordinal() {
        let c = from(&[
            (ENV_PROCESSES, "2"),
            ("HOSTNAME", "freshet-1"),
            (ENV_PEERS, "freshet-{i}.freshet:2101"),
            (ENV_CONTROL, "freshet-0.freshet:2100"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.process(), 1);
        assert_eq!(
            c.peers(),
            ["freshet-0.freshet:2101", "freshet-1.freshet:2101"]
        );
        assert_eq!(c.control_address().unwrap(), "freshet-0.freshet:2100");
    }

    #[test]
    fn bad_values_are_named() {
        let e = from(&[(ENV_PROCESSES, "0"), (ENV_PROCESS, "0"), (ENV_PEERS, "a:1")]);
        assert!(e.unwrap_err().to_string().contains(ENV_PROCESSES));
        let e = from(&[
            (ENV_PROCESSES, "2"),
            (ENV_PROCESS, "2"),
            (ENV_PEERS, "a:5,b:5"),
        ]);
        assert!(e.unwrap_err().to_string().contains("process index"));
        let e = from(&[
            (ENV_PROCESSES, "2"),
            (ENV_PROCESS, "x"),
            (ENV_PEERS, "a:5,b:5"),
        ]);
        assert!(e.unwrap_err().to_string().contains(ENV_PROCESS));
        let e = from(&[
            (ENV_PROCESSES, "2"),
            (ENV_PROCESS, "0"),
            (ENV_PEERS, "a:5,b"),
        ]);
        assert!(e.unwrap_err().to_string().contains("`b`"));
        let e = from(&[(ENV_PROCESSES, "2"), ("HOSTNAME", "worker")]);
        assert!(e.unwrap_err().to_string().contains("HOSTNAME"));
    }

    #[test]
    fn a_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "# the job\n10.0.0.1:2101\n\n10.0.0.2:2101\n").unwrap();
        let c = from(&[
            (ENV_PROCESSES, "2"),
            (ENV_PROCESS, "0"),
            (ENV_HOSTS_FILE, file.to_str().unwrap()),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.peers(), ["10.0.0.1:2101", "10.0.0.2:2101"]);
    }
}
