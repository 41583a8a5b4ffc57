//! What the driver and the other processes say to each other over the control connection,
//! and how a message is framed: a 4-byte little-endian length, then the encoded message.

use freshet_durable::PartInfo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The largest message accepted (a batch's source ranges, a worker's figures).
const MAX_FRAME: usize = 256 << 20;

/// Where a distributed source's batch starts and the record that rebuilds its splits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SourceRange {
    /// The source's stable id.
    pub uid: String,
    /// The source's position before the batch.
    pub from: Vec<u8>,
    /// The batch's record, as in the batch log.
    pub record: Vec<u8>,
}

/// From the driver to another process.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToFollower {
    /// The run starts: the batch times, and the checkpoint whose state the workers restore.
    Start {
        first_time: u64,
        origin: u64,
        restore: Option<u64>,
    },
    /// The job cannot start: the reason.
    Refused { reason: String },
    /// Batch `time`: the ranges of every distributed source.
    Batch {
        time: u64,
        next: u64,
        sources: Vec<SourceRange>,
    },
    /// Store the workers' snapshots of checkpoint `id`.
    Checkpoint { id: u64 },
    /// No more batches: finish.
    End,
    /// Stop now, without finishing the batches in flight (a stop that does not wait).
    StopNow,
    /// The job failed or stops now.
    Abort { reason: String },
    /// The driver is alive.
    Heartbeat,
}

/// From another process to the driver.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToDriver {
    /// The first message: who the process is.
    Hello {
        process: usize,
        processes: usize,
        workers: usize,
        sources: Vec<String>,
    },
    /// A worker stored (or failed to store) its snapshot of checkpoint `checkpoint`.
    Part {
        checkpoint: u64,
        part: std::result::Result<PartInfo, String>,
    },
    /// A figure one of the process's workers added.
    Figures(crate::metrics::FigureUpdate),
    /// The process's context was asked to stop (`now`: without finishing the batches).
    StopRequested { now: bool },
    /// The process failed.
    Failed { reason: String },
    /// The process is alive.
    Heartbeat,
}

/// Writes one message; the error says what went wrong, for the caller to name the peer.
pub(crate) fn write_message<T: Serialize>(
    w: &mut impl Write,
    message: &T,
) -> std::result::Result<(), String> {
    let bytes = crate::codec::encode("a cluster message", message).map_err(|e| e.to_string())?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME)
        .ok_or_else(|| {
            format!(
                "a cluster message of {} bytes is over the limit of {MAX_FRAME}",
                bytes.len()
            )
        })?;
    w.write_all(&len.to_le_bytes())
        .and_then(|()| w.write_all(&bytes))
        .and_then(|()| w.flush())
        .map_err(|e| format!("cannot send: {e}"))
}

/// Reads one message; `Ok(None)` when the peer closed the connection between messages.
pub(crate) fn read_message<T: DeserializeOwned>(
    r: &mut impl Read,
) -> std::io::Result<Option<std::result::Result<T, String>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Ok(Some(Err(format!(
            "a message of {len} bytes is over the limit of {MAX_FRAME}"
        ))));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    Ok(Some(
        crate::codec::decode("a cluster message", &bytes).map_err(|e| e.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_a_closed_stream_reads_as_none() {
        let mut buf = Vec::new();
        write_message(
            &mut buf,
            &ToFollower::Batch {
                time: 10,
                next: 20,
                sources: vec![SourceRange {
                    uid: "files".into(),
                    from: vec![1, 2],
                    record: vec![3],
                }],
            },
        )
        .unwrap();
        let mut r = &buf[..];
        match read_message::<ToFollower>(&mut r)
            .unwrap()
            .unwrap()
            .unwrap()
        {
            ToFollower::Batch {
                time,
                next,
                sources,
            } => {
                assert_eq!((time, next), (10, 20));
                assert_eq!(sources[0].record, vec![3]);
            }
            other => panic!("{other:?}"),
        }
        assert!(read_message::<ToFollower>(&mut r).unwrap().is_none());
    }

    #[test]
    fn an_oversized_length_is_refused() {
        let bytes = u32::MAX.to_le_bytes();
        let got = read_message::<ToDriver>(&mut &bytes[..]).unwrap().unwrap();
        assert!(got.unwrap_err().contains("over the limit"));
    }
}
