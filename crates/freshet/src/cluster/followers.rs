//! The driver's side of the control connections: it waits for every other process, checks that
//! each runs the same job, then sends batches and checkpoint requests and hears back their
//! snapshots, figures, stop requests and failures. A connection that drops before the end
//! fails the job at once.

use super::wire::{read_message, write_message, ToDriver, ToFollower};
use super::ClusterConfig;
use crate::error::{Error, Result};
use crate::metrics::ClusterView;
use crate::run::{RuntimeEvent, Shared, StopKind};
use crossbeam_channel::Sender;
use freshet_durable::PartInfo;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often each side tells the other it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);

/// A process that says nothing for this long is taken for dead.
pub(crate) const SILENCE: Duration = Duration::from_secs(10);

/// Where the snapshots of the other processes' workers go (the driver's part channel).
pub(crate) type PartSender = Sender<(u64, std::result::Result<PartInfo, String>)>;

struct Link {
    process: usize,
    writer: Mutex<TcpStream>,
}

/// The driver's connections to every other process.
pub(crate) struct Followers {
    links: Arc<Vec<Link>>,
    ending: Arc<AtomicBool>,
    view: Arc<ClusterView>,
}

/// What a process must agree on with the driver.
pub(crate) struct Expected<'a> {
    pub workers: usize,
    pub sources: &'a [String],
}

impl Followers {
    /// Waits until every other process has connected and said who it is.
    pub fn accept(
        cluster: &ClusterConfig,
        expected: &Expected<'_>,
        shared: &Shared,
        view: Arc<ClusterView>,
    ) -> Result<Followers> {
        let address = cluster.control_address()?;
        let listener = TcpListener::bind(&address).map_err(|e| {
            Error::Cluster(format!(
                "cannot listen for the other processes at {address}: {e}"
            ))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::Cluster(format!("control socket: {e}")))?;
        let n = cluster.processes();
        let deadline = Instant::now() + cluster.connect_timeout_duration();
        let mut links: Vec<Option<Link>> = (0..n).map(|_| None).collect();
        let mut waiting = n - 1;
        while waiting > 0 {
            if let Some(e) = shared.failure() {
                return Err(e);
            }
            if Instant::now() > deadline {
                let missing: Vec<String> = (1..n)
                    .filter(|p| links[*p].is_none())
                    .map(|p| p.to_string())
                    .collect();
                return Err(Error::Cluster(format!(
                    "processes {} did not connect to the driver at {address} within {:?}",
                    missing.join(", "),
                    cluster.connect_timeout_duration()
                )));
            }
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => return Err(Error::Cluster(format!("accepting a process: {e}"))),
            };
            let (process, stream) = greet(stream, cluster, expected)?;
            if links[process].is_some() {
                return Err(Error::Cluster(format!(
                    "two processes say they are process {process}"
                )));
            }
            view.heard(process);
            links[process] = Some(Link {
                process,
                writer: Mutex::new(stream),
            });
            waiting -= 1;
        }
        Ok(Followers {
            links: Arc::new(links.into_iter().flatten().collect()),
            ending: Arc::new(AtomicBool::new(false)),
            view,
        })
    }

    /// Sends `start` to every process, then listens to each on its own thread and sends
    /// heartbeats until the run ends.
    pub fn start(
        &self,
        start: &ToFollower,
        shared: &Arc<Shared>,
        parts: &PartSender,
    ) -> Result<()> {
        self.broadcast(start)?;
        for link in self.links.iter() {
            let reader = link
                .writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .try_clone()
                .map_err(|e| Error::Cluster(format!("control socket: {e}")))?;
            let listen = Listen {
                process: link.process,
                shared: Arc::clone(shared),
                parts: parts.clone(),
                ending: Arc::clone(&self.ending),
                view: Arc::clone(&self.view),
            };
            std::thread::Builder::new()
                .name(format!("freshet-process-{}", link.process))
                .spawn(move || listen.run(reader))
                .map_err(|e| Error::spawn("control", e))?;
        }
        let (links, ending, shared) = (
            Arc::clone(&self.links),
            Arc::clone(&self.ending),
            Arc::clone(shared),
        );
        std::thread::Builder::new()
            .name("freshet-heartbeat".into())
            .spawn(move || {
                while !ending.load(Ordering::SeqCst) && !shared.stopping_now() {
                    for link in links.iter() {
                        let mut w = link.writer.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = write_message(&mut *w, &ToFollower::Heartbeat);
                    }
                    std::thread::sleep(HEARTBEAT);
                }
            })
            .map_err(|e| Error::spawn("heartbeat", e))?;
        Ok(())
    }

    /// Sends `message` to every process.
    pub fn broadcast(&self, message: &ToFollower) -> Result<()> {
        for link in self.links.iter() {
            let mut w = link.writer.lock().unwrap_or_else(|p| p.into_inner());
            write_message(&mut *w, message)
                .map_err(|e| Error::Cluster(format!("process {}: {e}", link.process)))?;
        }
        Ok(())
    }

    /// Tells every process that no batch follows; their connections may close from now on.
    pub fn end(&self) {
        self.ending.store(true, Ordering::SeqCst);
        let _ = self.broadcast(&ToFollower::End);
    }

    /// Tells every process to stop now, without finishing the batches in flight.
    pub fn stop_now(&self) {
        self.ending.store(true, Ordering::SeqCst);
        let _ = self.broadcast(&ToFollower::StopNow);
    }

    /// Tells every process that the job failed.
    pub fn abort(&self, reason: &str) {
        self.ending.store(true, Ordering::SeqCst);
        for link in self.links.iter() {
            let mut w = link.writer.lock().unwrap_or_else(|p| p.into_inner());
            let _ = write_message(
                &mut *w,
                &ToFollower::Abort {
                    reason: reason.to_string(),
                },
            );
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Reads a new connection's `Hello` and checks it against this job.
fn greet(
    stream: TcpStream,
    cluster: &ClusterConfig,
    expected: &Expected<'_>,
) -> Result<(usize, TcpStream)> {
    let io = |e: std::io::Error| Error::Cluster(format!("control connection: {e}"));
    stream.set_nonblocking(false).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.set_read_timeout(Some(SILENCE)).map_err(io)?;
    let mut reader = stream.try_clone().map_err(io)?;
    let hello = match read_message::<ToDriver>(&mut reader).map_err(io)? {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(Error::Cluster(format!("a process sent {e}"))),
        None => return Err(Error::Cluster("a process closed its connection".into())),
    };
    let ToDriver::Hello {
        process,
        processes,
        workers,
        sources,
    } = hello
    else {
        return Err(Error::Cluster(format!(
            "a process began with {hello:?} instead of saying who it is"
        )));
    };
    let n = cluster.processes();
    let problem = if processes != n {
        Some(format!(
            "process {process} was started for {processes} processes, the driver for {n}"
        ))
    } else if process == 0 || process >= n {
        Some(format!("a process says it is process {process} of {n}"))
    } else if workers != expected.workers {
        Some(format!(
            "process {process} runs {workers} workers, the driver {} (every process runs the same number)",
            expected.workers
        ))
    } else if sources != expected.sources {
        Some(format!(
            "process {process} has the sources {sources:?}, the driver {:?}: every process must run the same pipeline",
            expected.sources
        ))
    } else {
        None
    };
    let mut stream = stream;
    if let Some(reason) = problem {
        let _ = write_message(
            &mut stream,
            &ToFollower::Refused {
                reason: reason.clone(),
            },
        );
        return Err(Error::Cluster(reason));
    }
    Ok((process, stream))
}

/// The thread that listens to one process.
struct Listen {
    process: usize,
    shared: Arc<Shared>,
    parts: PartSender,
    ending: Arc<AtomicBool>,
    view: Arc<ClusterView>,
}

impl Listen {
    fn run(self, mut stream: TcpStream) {
        let p = self.process;
        loop {
            let message = match read_message::<ToDriver>(&mut stream) {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => {
                    self.lost(format!("process {p} sent {e}"));
                    return;
                }
                Ok(None) => {
                    self.lost(format!(
                        "lost process {p}: its control connection closed (the process ended or was killed)"
                    ));
                    return;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    self.lost(format!(
                        "process {p} has not been heard from for {SILENCE:?}"
                    ));
                    return;
                }
                Err(e) => {
                    self.lost(format!("process {p} is unreachable: {e}"));
                    return;
                }
            };
            self.view.heard(p);
            let metrics = &self.shared.metrics;
            match message {
                ToDriver::Part { checkpoint, part } => {
                    let _ = self.parts.send((checkpoint, part));
                }
                ToDriver::Figures(update) => {
                    if let crate::metrics::FigureUpdate::SourceRecords { time, records, .. } =
                        update
                    {
                        self.shared.add_records(time, records);
                    }
                    metrics.apply(update);
                }
                ToDriver::StopRequested { now } => {
                    if now {
                        self.shared.stop_now();
                    }
                    self.shared.event(RuntimeEvent::Stop(if now {
                        StopKind::Now
                    } else {
                        StopKind::Graceful
                    }));
                }
                ToDriver::Failed { reason } => {
                    self.view.disconnected(p, Some(reason.clone()));
                    self.shared
                        .fail(Error::Cluster(format!("process {p} failed: {reason}")));
                    return;
                }
                ToDriver::Heartbeat | ToDriver::Hello { .. } => {}
            }
        }
    }

    /// The connection ended: expected once the run ends, a failure before.
    fn lost(&self, reason: String) {
        if self.ending.load(Ordering::SeqCst) || self.shared.stopping_now() {
            self.view.disconnected(self.process, None);
            return;
        }
        self.view.disconnected(self.process, Some(reason.clone()));
        self.shared.fail(Error::Cluster(reason));
    }
}
