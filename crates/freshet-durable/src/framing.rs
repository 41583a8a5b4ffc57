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
//! collision). Files that must be read whole (a manifest, a checkpoint part) use it.
//!
//! [`scan`] reads past damage instead, for logs whose later records must survive a damaged one:
//! after a bad frame it looks for the next position where an intact frame starts (the CRC
//! covers the length, so a frame found this way is genuine up to the same 2^-32 chance) and
//! reports the stretch in between as damaged. Only an incomplete *last* frame is a torn tail.
//! A complete frame whose length field alone was damaged is recovered whole.

use std::path::Path;

use crate::error::{DurableError, Result};

/// Size of the file header in bytes.
pub const HEADER_LEN: usize = 8;
/// Size of a frame header (length + CRC) in bytes.
pub const FRAME_HEADER_LEN: usize = 8;
/// Largest payload a frame may carry (256 MiB).
pub const MAX_FRAME_LEN: usize = 256 << 20;
/// Format version of every file this build writes and reads. Version 2: log frames start with
/// the record's 8-byte offset, and encoded values are tagged postcard ([`crate::codec`]).
/// Version 1 files (bincode, positional offsets) are refused with
/// [`DurableError::UnsupportedVersion`].
pub const FORMAT_VERSION: u8 = 2;

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

/// Checks that `buf` starts with the header of `kind` in this build's format version; `path` is
/// only used in the error.
///
/// A buffer shorter than the header is reported as [`DurableError::Truncated`] at offset 0.
pub fn check_header(buf: &[u8], kind: FileKind, path: &Path) -> Result<()> {
    if buf.len() < HEADER_LEN {
        if buf
            .iter()
            .zip(header(kind).iter())
            .take(7)
            .all(|(a, b)| a == b)
        {
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

/// What starts at a position of a buffer.
enum FrameAt<'a> {
    /// An intact frame, and where the next one starts.
    Intact(&'a [u8], usize),
    /// The buffer ends inside the frame its header declares.
    Incomplete,
    /// The frame fails its checks; `end` is where it ends if its length is plausible.
    Bad(&'static str, Option<usize>),
}

fn frame_at(buf: &[u8], pos: usize) -> FrameAt<'_> {
    let rest = &buf[pos..];
    if rest.len() < FRAME_HEADER_LEN {
        return FrameAt::Incomplete;
    }
    let len_bytes: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len > MAX_FRAME_LEN {
        return FrameAt::Bad("frame length exceeds the maximum", None);
    }
    if rest.len() - FRAME_HEADER_LEN < len {
        return FrameAt::Incomplete;
    }
    let payload = &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len];
    let end = pos + FRAME_HEADER_LEN + len;
    if frame_crc(&len_bytes, payload) != crc {
        return FrameAt::Bad("checksum mismatch", Some(end));
    }
    FrameAt::Intact(payload, end)
}

/// The first position from `from` on where an intact frame starts.
fn next_intact(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len().saturating_sub(FRAME_HEADER_LEN - 1))
        .find(|&p| matches!(frame_at(buf, p), FrameAt::Intact(..)))
}

/// The payload of `buf[pos..end]` read as one frame whose length field alone is damaged: the
/// stored CRC must match the length `end - pos - 8`.
fn with_repaired_length(buf: &[u8], pos: usize, end: usize) -> Option<&[u8]> {
    let len = end.checked_sub(pos + FRAME_HEADER_LEN)?;
    if len > MAX_FRAME_LEN {
        return None;
    }
    let rest = &buf[pos..end];
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let payload = &rest[FRAME_HEADER_LEN..];
    (frame_crc(&(len as u32).to_le_bytes(), payload) == crc).then_some(payload)
}

/// How many frames the damaged stretch `buf[start..end]` most likely held: its declared
/// lengths followed as far as they fit (at least one).
fn frames_in(buf: &[u8], start: usize, end: usize) -> u64 {
    let mut n = 0;
    let mut pos = start;
    while pos + FRAME_HEADER_LEN <= end {
        let len = u32::from_le_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]) as usize;
        let next = pos + FRAME_HEADER_LEN + len;
        if next > end {
            break;
        }
        n += 1;
        pos = next;
    }
    n.max(1)
}

/// A stretch of a buffer that holds no intact frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedStretch {
    /// Its first byte.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// What was wrong with its first frame.
    pub reason: &'static str,
    /// How many frames it most likely held (at least one).
    pub frames: u64,
}

/// Everything [`scan`] found in a buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanResult<'a> {
    /// The intact frames, in order: `(position, payload)`.
    pub frames: Vec<(usize, &'a [u8])>,
    /// The damaged stretches, in order.
    pub damaged: Vec<DamagedStretch>,
    /// Where an incomplete last frame starts (a torn write), if the buffer ends in one.
    pub torn_tail: Option<usize>,
}

/// Reads every intact frame of `buf` (without file header), past damage; see the module docs.
/// Positions are relative to `buf`. Never panics.
pub fn scan(buf: &[u8]) -> ScanResult<'_> {
    let mut out = ScanResult::default();
    let mut pos = 0;
    while pos < buf.len() {
        let (reason, end) = match frame_at(buf, pos) {
            FrameAt::Intact(payload, next) => {
                out.frames.push((pos, payload));
                pos = next;
                continue;
            }
            FrameAt::Incomplete => ("incomplete frame", None),
            FrameAt::Bad(reason, end) => (reason, end),
        };
        // Where the damage ends: after the frame when its length leads to an intact frame (or
        // the end), else at the next intact frame found by searching.
        let resume = match end {
            Some(e) if e == buf.len() || matches!(frame_at(buf, e), FrameAt::Intact(..)) => Some(e),
            _ => next_intact(buf, pos + 1),
        };
        let stretch_end = resume.unwrap_or(buf.len());
        if let Some(payload) = with_repaired_length(buf, pos, stretch_end) {
            out.frames.push((pos, payload));
        } else if resume.is_none() && end.is_none() && reason == "incomplete frame" {
            out.torn_tail = Some(pos);
        } else {
            out.damaged.push(DamagedStretch {
                start: pos,
                end: stretch_end,
                reason,
                frames: frames_in(buf, pos, stretch_end),
            });
        }
        pos = stretch_end;
    }
    out
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
    fn scan_reads_past_a_damaged_frame_and_tells_a_torn_tail_apart() {
        let records: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 10 + i as usize]).collect();
        let refs: Vec<&[u8]> = records.iter().map(|r| &r[..]).collect();
        let buf = encode_all(&refs);
        let starts: Vec<usize> = Frames::new(&buf).map(|(at, _)| at).collect();
        // Every byte of the third frame flipped in turn: the other five are always read.
        for i in starts[2]..starts[3] {
            for bit in [0x01u8, 0x80] {
                let mut b = buf.clone();
                b[i] ^= bit;
                let s = scan(&b);
                let got: Vec<&[u8]> = s.frames.iter().map(|f| f.1).collect();
                let intact: Vec<&[u8]> = refs
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != 2)
                    .map(|(_, r)| *r)
                    .collect();
                let recovered = got.len() == 6;
                assert!(recovered || got == intact, "byte {i}: {got:?}");
                assert!(
                    recovered || s.damaged.len() == 1,
                    "byte {i}: {:?}",
                    s.damaged
                );
                assert_eq!(s.torn_tail, None, "byte {i}");
            }
        }
        // The last frame damaged (complete): damage, not a torn tail.
        let mut b = buf.clone();
        let last = b.len() - 1;
        b[last] ^= 0x10;
        let s = scan(&b);
        assert_eq!(s.frames.len(), 5);
        assert_eq!(s.damaged.len(), 1);
        assert_eq!(s.torn_tail, None);
        // The last frame cut short: a torn tail, nothing damaged.
        let s = scan(&buf[..buf.len() - 3]);
        assert_eq!(s.frames.len(), 5);
        assert!(s.damaged.is_empty());
        assert_eq!(s.torn_tail, Some(starts[5]));
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
