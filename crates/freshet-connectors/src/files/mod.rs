//! Files: append-only log files as a replayable source, JSON lines as an exactly-once sink.
//!
//! # [`AppendLogSource`]
//!
//! Reads the lines appended to the files of a directory (`app.log`, `app-2.log`, ...), as
//! `tail -F` would, but replayably. Its offset is, per file name, the byte position after the
//! last complete line taken: a batch takes each file's complete lines from there (at most
//! [`AppendLogOptions::max_bytes_per_file`] per file and batch); a line still being written
//! (no final `\n` yet) waits for the next batch. A replay reads the same byte ranges again, so
//! with an exactly-once sink every line is counted once across crashes.
//!
//! Files must only grow. Rotate by renaming (`app.log` -> `app.log.1`, a new `app.log`): the
//! renamed file is a new name whose lines are read from the start, so name rotated files so
//! that they are ignored (a leading `.` or `_`), or keep them out of the directory. A file that
//! shrinks fails the job: its offsets no longer mean anything.
//!
//! # [`JsonLinesSink`]
//!
//! Writes each batch as JSON lines, one file per partition:
//! `<dir>/batch-<time>/part-<partition>` (written under a temporary name and renamed into
//! place, fsynced). A part that exists already is a replayed batch and is left as it is, so
//! the sink is exactly-once ([`Guarantee::ExactlyOnce`](freshet::sink::Guarantee)).

mod append_log;
mod json_lines;

pub use append_log::{AppendLogOffset, AppendLogOptions, AppendLogSource, ByteRange};
pub use json_lines::{JsonLinesSink, JsonLinesWriter};

#[cfg(test)]
mod tests;
