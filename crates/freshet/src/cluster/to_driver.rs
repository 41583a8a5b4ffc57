//! A process's side of the control connection: it connects to the driver, says who it is,
//! waits for the start, then hears batches and sends back what its workers did. Losing the
//! driver fails the process at once.

use super::followers::{HEARTBEAT, SILENCE};
use super::wire::{read_message, write_message, ToDriver, ToFollower};
use super::ClusterConfig;
use crate::error::{Error, Result};
use crate::metrics::ClusterView;
use crate::metrics::FigureUpdate;
use crate::run::Shared;
use crossbeam_channel::{Receiver, Sender};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the driver says the run starts from.
pub(crate) struct Started {
    pub first_time: u64,
    pub origin: u64,
    /// The checkpoint whose state the workers restore.
    pub restore: Option<u64>,
}

/// A process's connection to the driver.
pub(crate) struct DriverLink {
    stream: TcpStream,
    /// Set once the driver said `End`: the connection may close from then on.
    ending: Arc<AtomicBool>,
}

impl DriverLink {
    /// Connects to the driver (retrying until the cluster's connect timeout), introduces this
    /// process with `hello` and waits for the start.
    pub fn connect(
        cluster: &ClusterConfig,
        hello: &ToDriver,
        shared: &Shared,
    ) -> Result<(DriverLink, Started)> {
        let address = cluster.control_address()?;
        let timeout = cluster.connect_timeout_duration();
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match TcpStream::connect(&address) {
                Ok(s) => break s,
                Err(e) => {
                    if let Some(f) = shared.failure() {
                        return Err(f);
                    }
                    if Instant::now() > deadline {
                        return Err(Error::Cluster(format!(
                            "cannot reach the driver at {address} within {timeout:?}: {e}"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        let io = |e: std::io::Error| Error::Cluster(format!("the driver at {address}: {e}"));
        stream.set_nodelay(true).map_err(io)?;
        // The driver answers once every process has connected.
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        let mut writer = stream.try_clone().map_err(io)?;
        write_message(&mut writer, hello)
            .map_err(|e| Error::Cluster(format!("the driver at {address}: {e}")))?;
        let mut reader = stream.try_clone().map_err(io)?;
        let started = loop {
            match read_message::<ToFollower>(&mut reader).map_err(io)? {
                Some(Ok(ToFollower::Start {
                    first_time,
                    origin,
                    restore,
                })) => {
                    break Started {
                        first_time,
                        origin,
                        restore,
                    }
                }
                Some(Ok(ToFollower::Heartbeat)) => {}
                Some(Ok(ToFollower::Refused { reason } | ToFollower::Abort { reason })) => {
                    return Err(Error::Cluster(format!("the driver refused: {reason}")))
                }
                Some(Ok(other)) => {
                    return Err(Error::Cluster(format!(
                        "the driver sent {other:?} before the start"
                    )))
                }
                Some(Err(e)) => return Err(Error::Cluster(format!("the driver sent {e}"))),
                None => {
                    return Err(Error::Cluster(format!(
                        "the driver at {address} closed the connection before the start"
                    )))
                }
            }
        };
        stream.set_read_timeout(Some(SILENCE)).map_err(io)?;
        Ok((
            DriverLink {
                stream,
                ending: Arc::new(AtomicBool::new(false)),
            },
            started,
        ))
    }

    /// Starts the threads that read the driver's messages into the returned channel and write
    /// what is sent on `uplink` (with a heartbeat when there is nothing to say).
    pub fn run(
        self,
        shared: &Arc<Shared>,
        view: Arc<ClusterView>,
        uplink: Receiver<ToDriver>,
        figures: Receiver<FigureUpdate>,
    ) -> Result<Receiver<ToFollower>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let reader = self
            .stream
            .try_clone()
            .map_err(|e| Error::Cluster(format!("control socket: {e}")))?;
        let listen = {
            let (shared, ending) = (Arc::clone(shared), Arc::clone(&self.ending));
            move || listen(reader, &tx, &shared, &ending, &view)
        };
        std::thread::Builder::new()
            .name("freshet-driver-link".into())
            .spawn(listen)
            .map_err(|e| Error::spawn("control", e))?;
        let (shared, mut writer) = (Arc::clone(shared), self.stream);
        std::thread::Builder::new()
            .name("freshet-uplink".into())
            .spawn(move || send_up(&mut writer, &uplink, &figures, &shared))
            .map_err(|e| Error::spawn("control", e))?;
        Ok(rx)
    }
}

/// Reads the driver's messages until the connection ends.
fn listen(
    mut stream: TcpStream,
    tx: &Sender<ToFollower>,
    shared: &Shared,
    ending: &AtomicBool,
    view: &ClusterView,
) {
    let lost = |reason: String| {
        if ending.load(Ordering::SeqCst) || shared.stopping_now() {
            view.disconnected(0, None);
        } else {
            view.disconnected(0, Some(reason.clone()));
            shared.fail(Error::Cluster(reason));
        }
    };
    loop {
        match read_message::<ToFollower>(&mut stream) {
            Ok(Some(Ok(ToFollower::Heartbeat))) => view.heard(0),
            Ok(Some(Ok(ToFollower::Abort { reason }))) => {
                view.disconnected(0, Some(reason.clone()));
                shared.fail(Error::Cluster(format!(
                    "the driver stopped the job: {reason}"
                )));
                return;
            }
            Ok(Some(Ok(m))) => {
                view.heard(0);
                if matches!(m, ToFollower::End) {
                    ending.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(m);
            }
            Ok(Some(Err(e))) => return lost(format!("the driver sent {e}")),
            Ok(None) => return lost("the driver (process 0) closed its connection".into()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return lost(format!(
                    "the driver (process 0) has not been heard from for {SILENCE:?}"
                ))
            }
            Err(e) => return lost(format!("the driver (process 0) is unreachable: {e}")),
        }
    }
}

/// Writes what the process says to the driver (its messages, and its workers' figures), and a
/// heartbeat when it says nothing, until every sender of messages is gone.
fn send_up(
    writer: &mut TcpStream,
    uplink: &Receiver<ToDriver>,
    figures: &Receiver<FigureUpdate>,
    shared: &Shared,
) {
    let mut figures_open = true;
    loop {
        let never = crossbeam_channel::never();
        let figures_rx = if figures_open { figures } else { &never };
        let message = crossbeam_channel::select! {
            recv(uplink) -> m => match m {
                Ok(m) => m,
                Err(_) => {
                    // The last figures first.
                    while let Ok(f) = figures.try_recv() {
                        let _ = write_message(writer, &ToDriver::Figures(f));
                    }
                    let _ = writer.shutdown(std::net::Shutdown::Write);
                    return;
                }
            },
            recv(figures_rx) -> f => match f {
                Ok(f) => ToDriver::Figures(f),
                Err(_) => {
                    figures_open = false;
                    continue;
                }
            },
            default(HEARTBEAT) => ToDriver::Heartbeat,
        };
        let last = matches!(message, ToDriver::Failed { .. });
        if let Err(e) = write_message(writer, &message) {
            if !shared.stopping_now() {
                shared.fail(Error::Cluster(format!(
                    "the driver (process 0) is unreachable: {e}"
                )));
            }
            return;
        }
        if last {
            return;
        }
    }
}
