//! The addresses of a local cluster and the environment each of its processes gets: the
//! interface the engine reads to join the cluster.

use anyhow::bail;

/// The number of processes in the cluster.
pub const PROCESSES: &str = "FRESHET_CLUSTER_PROCESSES";
/// The index of the process, from 0; process 0 is the driver.
pub const PROCESS: &str = "FRESHET_CLUSTER_PROCESS";
/// The data address (`HOST:PORT`) of every process, in process order, separated by commas.
pub const PEERS: &str = "FRESHET_CLUSTER_PEERS";
/// The address (`HOST:PORT`) where the driver listens for the other processes.
pub const CONTROL: &str = "FRESHET_CLUSTER_CONTROL";
/// How many times the cluster was restarted before this start (0 on the first).
pub const ATTEMPT: &str = "FRESHET_CLUSTER_ATTEMPT";

/// A cluster of `processes` processes on `host`: the driver's control address at `base_port`,
/// process `i`'s data address at `base_port + 1 + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    processes: usize,
    host: String,
    base_port: u16,
}

/// The largest base port for a cluster of `processes` processes (1 ..= 64).
pub fn max_base_port(processes: usize) -> u16 {
    u16::try_from(65_535usize.saturating_sub(processes + 1)).unwrap_or(0)
}

impl Layout {
    /// The layout, or an error naming the option at fault: a base port whose ports do not all
    /// fit below 65536, or a host that cannot stand in a comma-separated list of addresses.
    pub fn new(processes: usize, host: &str, base_port: u16) -> anyhow::Result<Layout> {
        let max = max_base_port(processes);
        if base_port == 0 || base_port > max {
            bail!(
                "--base-port {base_port}: with --processes {processes} it must be in 1..={max} \
                 (the cluster uses ports {base_port}..={})",
                usize::from(base_port) + processes
            );
        }
        if host.is_empty() || host.contains(',') || host.chars().any(char::is_whitespace) {
            bail!("--host {host:?}: expected a host name or an IP address");
        }
        // An IPv6 address takes brackets before its port.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Layout {
            processes,
            host,
            base_port,
        })
    }

    /// The number of processes.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The driver's control address.
    pub fn control(&self) -> String {
        format!("{}:{}", self.host, self.base_port)
    }

    /// The data addresses of all processes, in process order, separated by commas.
    pub fn peers(&self) -> String {
        (0..self.processes)
            .map(|i| format!("{}:{}", self.host, usize::from(self.base_port) + 1 + i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The environment of process `index` in the cluster's start number `attempt` (from 0).
    pub fn env(&self, index: usize, attempt: u32) -> [(&'static str, String); 5] {
        [
            (PROCESSES, self.processes.to_string()),
            (PROCESS, index.to_string()),
            (PEERS, self.peers()),
            (CONTROL, self.control()),
            (ATTEMPT, attempt.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_base_port() {
        let layout = Layout::new(3, "127.0.0.1", 2100).unwrap();
        assert_eq!(layout.control(), "127.0.0.1:2100");
        assert_eq!(
            layout.peers(),
            "127.0.0.1:2101,127.0.0.1:2102,127.0.0.1:2103"
        );
        let env = layout.env(2, 4);
        assert_eq!(env[0], (PROCESSES, "3".to_string()));
        assert_eq!(env[1], (PROCESS, "2".to_string()));
        assert_eq!(env[4], (ATTEMPT, "4".to_string()));
    }

    #[test]
    fn an_ipv6_host_is_bracketed() {
        let layout = Layout::new(1, "::1", 5000).unwrap();
        assert_eq!(layout.control(), "[::1]:5000");
        assert_eq!(layout.peers(), "[::1]:5001");
    }

    #[test]
    fn ports_past_65535_and_odd_hosts_are_refused() {
        assert_eq!(max_base_port(3), 65_531);
        assert!(Layout::new(3, "localhost", 65_531).is_ok());
        let e = Layout::new(3, "localhost", 65_532).unwrap_err().to_string();
        assert!(e.contains("--base-port") && e.contains("1..=65531"), "{e}");
        for host in ["", "a,b", "a b"] {
            let e = Layout::new(2, host, 2100).unwrap_err().to_string();
            assert!(e.contains("--host"), "{e}");
        }
    }
}
