//! One job over several processes and machines.
//!
//! The same program is started once per process, each told the number of processes, its own
//! index and every process's address ([`ClusterConfig`], given in code or read from the
//! environment). The processes' workers form one timely dataflow over TCP: keyed operators
//! exchange records across processes, and a batch is complete when every worker of every
//! process has finished it.
//!
//! Process 0 is the driver. It plans every batch, logs it in the batch log, and sends the
//! other processes, over a control connection, the range each distributed source takes; each
//! process rebuilds the splits of its own workers from that range, as a restart rebuilds them
//! from the batch log. Direct sources (Kafka, files, NATS, Redis, generators) are read by the
//! workers of every process; receivers and queues run in the driver's process and feed its
//! workers. For a checkpoint, every process stores its workers' snapshots in the checkpoint
//! directory (shared storage when the processes run on several machines), reports them to the
//! driver, and the driver commits the manifest once every part is durable.
//!
//! When a process dies or a connection drops, every other process fails promptly with an
//! error that names it; the job is then restarted as a whole (by `freshet cluster run`, or by
//! Kubernetes) and recovers from its last checkpoint.

mod config;
pub(crate) mod followers;
pub(crate) mod to_driver;
pub(crate) mod wire;

pub(crate) use crate::metrics::ClusterView;
pub use crate::metrics::{ClusterStatus, ProcessStatus};
pub use config::{
    ClusterConfig, ENV_CONTROL, ENV_HOSTS_FILE, ENV_PEERS, ENV_PROCESS, ENV_PROCESSES,
    MAX_PROCESSES,
};

/// How to run a job on several processes and machines (`docs/cluster.md`; its examples are
/// compiled as tests).
#[doc = include_str!("../../../../docs/cluster.md")]
pub mod guide {}
