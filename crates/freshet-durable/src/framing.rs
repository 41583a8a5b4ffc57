//! Length + CRC32C record framing and the file header shared by every file of this crate.
//!
//! # Layout
//!
//! Every file starts with an 8-byte header: the magic `FRSH`, a 3-byte file kind (`WAL` receiver
//! WAL segment, `BLG` batch metadata log segment, `MAN` checkpoint manifest, `PRT` checkpoint
//! part) and a 1-byte format version (currently [`FORMAT_VERSION`]).
//!
//! The header is followed by zero or more frames:
//!
//! ```text
//! +-------------+-------------+-------------------+
//! | len: u32 LE | crc: u32 LE | payload: len bytes |
//! +-------------+-------------+-------------------+
//! ```
//!
//! `crc` is the CRC32C (Castagnoli) of the four length bytes followed by the payload, so a damaged
//! length is caught as well as a damaged payload. `len` is at most [`MAX_FRAME_LEN`].
//!
//! # Reading damaged data
//!
//! [`Frames`] walks a byte buffer and stops at the first frame that is incomplete
//! ([`FrameEnd::Torn`]: the buffer ends inside it, the signature of a torn write) or that fails its
//! checks ([`FrameEnd::Corrupt`]). The frames it yields before that are intact, so any damage
//! leaves a prefix of the records, never a wrong record (up to the 2^-32 chance of a CRC
//! collision).

use std::path::Path;

use crate::error::{DurableError, Result};

/// Size of the file header in bytes.
pub const HEADER_LEN: usize = 8;
/// Size of a frame header (length + CRC) in bytes.
pub const FRAME_HEADER_LEN: usize = 8;
/// Largest payload a frame may carry (256 MiB).
pub const MAX_FRAME_LEN: usize = 256 << 20;
/// Format version written by this build.
pub const FORMAT_VERSION: u8 = 1;

const MAGIC: &[u8; 4] = b"FRSH";

/// The kinds of file this crate writes; each has its own code in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A receiver WAL segment.
    Wal,
    /// A batch metadata log segment.
    BatchLog,
    /// A checkpoint manifest.
    Manifest,
    /// A per-worker checkpoint part (state snapshot).
    Part,
}

impl FileKind {
    fn code(self) -> &'static [u8; 3] {
        match self {
            FileKind::Wal => b"WAL",
            FileKind::BatchLog => b"BLG",
            FileKind::Manifest => b"MAN",
            FileKind::Part => b"PRT",
        }
    }

    /// Human-readable name used in errors.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Wal => "WAL segment",
            FileKind::BatchLog => "batch log segment",
            FileKind::Manifest => "checkpoint manifest",
            FileKind::Part => "checkpoint part",
        }
    }
}

/// The 8 header bytes of a file of `kind`.
pub fn header(kind: FileKind) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4..7].copy_from_slice(kind.code());
    h[7] = FORMAT_VERSION;
    h
}

/// Checks that `buf` starts with the header of `kind`; `path` is only used in the error.
///
/// A buffer shorter than the header is reported as [`DurableError::Truncated`] at offset 0.
pub fn check_header(buf: &[u8], kind: FileKind, path: &Path) -> Result<()> {
    if buf.len() < HEADER_LEN {
        if buf.iter().zip(header(kind).iter()).all(|(a, b)| a == b) {
            return Err(DurableError::Truncated {
                path: path.to_path_buf(),
                offset: 0,
            });
        }
        return Err(DurableError::BadHeader {
            path: path.to_path_buf(),
            expected: kind.name(),
        });
    }
    if &buf[..4] != MAGIC || &buf[4..7] != kind.code() {
        return Err(DurableError::BadHeader {
            path: path.to_path_buf(),
            expected: kind.name(),
        });
    }
    if buf[7] != FORMAT_VERSION {
        return Err(DurableError::UnsupportedVersion {
            path: path.to_path_buf(),
            version: buf[7],
        });
    }
    Ok(())
}

fn frame_crc(len_bytes: &[u8; 4], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len_bytes), payload)
}

/// Appends one frame holding `payload` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, payload: &[u8]) -> Result<()> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(DurableError::RecordTooLarge {
            len: payload.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let len_bytes = (payload.len() as u32).to_le_bytes();
    out.reserve(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&frame_crc(&len_bytes, payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Size on disk of a frame with a payload of `payload_len` bytes.
pub fn framed_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len
}

/// Why [`Frames`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEnd {
    /// The buffer ended exactly at a frame boundary.
    Clean,
    /// The buffer ends inside the frame starting at `offset` (a torn write).
    Torn {
        /// Position of the incomplete frame in the buffer.
        offset: usize,
    },
    /// The frame at `offset` fails its length or checksum check.
    Corrupt {
        /// Position of the bad frame in the buffer.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

impl FrameEnd {
    /// Byte position up to which the buffer holds intact frames.
    pub fn valid_len(&self, buf_len: usize) -> usize {
        match self {
            FrameEnd::Clean => buf_len,
            FrameEnd::Torn { offset } | FrameEnd::Corrupt { offset, .. } => *offset,
        }
    }
}

/// Iterator over the intact frames of a buffer (without file header), yielding
/// `(offset, payload)`; see the module docs. After it returns `None`, [`Frames::end`] says why.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    end: Option<FrameEnd>,
}

impl<'a> Frames<'a> {
    /// Walks the frames of `buf`; offsets are relative to `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Frames {
            buf,
            pos: 0,
            end: None,
        }
    }

    /// Why iteration stopped; `None` while frames remain.
    pub fn end(&self) -> Option<&FrameEnd> {
        self.end.as_ref()
    }

    /// Position after the last frame yielded so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.end.is_some() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            self.end = Some(FrameEnd::Clean);
            return None;
        }
        if rest.len() < FRAME_HEADER_LEN {
            self.end = Some(FrameEnd::Torn { offset: self.pos });
            return None;
        }
        let len_bytes: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_FRAME_LEN {
            self.end = Some(FrameEnd::Corrupt {
                offset: self.pos,
                reason: "frame length exceeds the maximum",
            });
            return None;
        }
        if rest.len() - FRAME_HEADER_LEN < len {
            self.end = Some(FrameEnd::Torn { offset: self.pos });
            return None;
        }
        let payload = &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len];
        if frame_crc(&len_bytes, payload) != crc {
            self.end = Some(FrameEnd::Corrupt {
                offset: self.pos,
                reason: "checksum mismatch",
            });
            return None;
        }
        let at = self.pos;
        self.pos += FRAME_HEADER_LEN + len;
        Some((at, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_all(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            encode_frame(&mut out, r).unwrap();
        }
        out
    }

    #[test]
    fn roundtrip() {
        let buf = encode_all(&[b"a", b"", b"hello world"]);
        let mut frames = Frames::new(&buf);
        let got: Vec<&[u8]> = frames.by_ref().map(|(_, p)| p).collect();
        assert_eq!(got, vec![&b"a"[..], &b""[..], &b"hello world"[..]]);
        assert_eq!(frames.end(), Some(&FrameEnd::Clean));
    }

    #[test]
    fn torn_tail_at_every_offset() {
        let buf = encode_all(&[b"first", b"second record"]);
        let first_len = framed_len(5);
        for cut in first_len + 1..buf.len() {
            let mut frames = Frames::new(&buf[..cut]);
            assert_eq!(frames.by_ref().count(), 1);
            assert_eq!(frames.end(), Some(&FrameEnd::Torn { offset: first_len }));
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let buf = encode_all(&[b"payload bytes"]);
        for i in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[i / 8] ^= 1 << (i % 8);
            let mut frames = Frames::new(&b);
            assert_eq!(frames.by_ref().count(), 0, "bit {i}");
            assert!(!matches!(frames.end(), Some(FrameEnd::Clean)));
        }
    }

    #[test]
    fn header_checks() {
        let p = Path::new("x");
        let h = header(FileKind::Wal);
        check_header(&h, FileKind::Wal, p).unwrap();
        assert!(matches!(
            check_header(&h, FileKind::Manifest, p),
            Err(DurableError::BadHeader { .. })
        ));
        assert!(matches!(
            check_header(&h[..5], FileKind::Wal, p),
            Err(DurableError::Truncated { .. })
        ));
        let mut v = h;
        v[7] = 99;
        assert!(matches!(
            check_header(&v, FileKind::Wal, p),
            Err(DurableError::UnsupportedVersion { version: 99, .. })
        ));
    }
}
