//! Dead letters: malformed records kept in a file per source instead of dropped, with why they
//! were refused, for a person (or a repair job) to look at.

use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// One line of a dead-letter file.
#[derive(Serialize)]
struct DeadLetter<'a> {
    /// When it was refused (ms since the Unix epoch).
    time_ms: u64,
    source: &'a str,
    reason: &'a str,
    /// The record's bytes as text, when they are UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a str>,
    /// The record's bytes in hexadecimal, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_hex: Option<String>,
}

/// The dead-letter files of a run: `<dir>/<source id>.jsonl`, appended to.
#[derive(Default)]
pub(crate) struct DeadLetters {
    dir: Mutex<Option<PathBuf>>,
    files: Mutex<HashMap<String, BufWriter<File>>>,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A source id as a file name: characters other than letters, digits, `-`, `_` and `.`
/// become `_`.
fn file_name(source: &str) -> String {
    let name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.jsonl")
}

impl DeadLetters {
    /// Where the files go (`None`: nowhere, and a dead letter fails the job).
    pub fn set_dir(&self, dir: Option<PathBuf>) {
        *self.dir.lock().unwrap_or_else(|p| p.into_inner()) = dir;
    }

    /// Appends a refused record of `source` and returns the file's path; the line reaches the
    /// operating system before this returns (a crash of the process loses none).
    pub fn write(&self, source: &str, reason: &str, raw: &[u8]) -> Result<PathBuf, String> {
        let Some(dir) = self.dir.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Err(format!(
                "source {source} sends bad records to a dead-letter file, but the job has \
                 neither a dead_letter_dir nor a checkpoint directory (bad record: {reason})"
            ));
        };
        let path = dir.join(file_name(source));
        let text = std::str::from_utf8(raw).ok();
        let line = DeadLetter {
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            source,
            reason,
            record: text,
            record_hex: text.is_none().then(|| hex(raw)),
        };
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if !files.contains_key(source) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            files.insert(source.to_string(), BufWriter::new(file));
        }
        let Some(out) = files.get_mut(source) else {
            return Err(format!("cannot open {}", path.display()));
        };
        let written = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        written.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_appended_as_text_or_hex_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let letters = DeadLetters::default();
        assert!(letters.write("s", "bad", b"x").is_err(), "no directory");
        letters.set_dir(Some(dir.path().join("dead")));
        let path = letters.write("in/put 1", "not a number", b"abc").unwrap();
        letters
            .write("in/put 1", "not UTF-8", &[0xff, 0x01])
            .unwrap();
        assert_eq!(path.file_name().unwrap(), "in_put_1.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["reason"], "not a number");
        assert_eq!(lines[0]["record"], "abc");
        assert_eq!(lines[0]["source"], "in/put 1");
        assert_eq!(lines[1]["record_hex"], "ff01");
        assert!(lines[1].get("record").is_none());
    }
}
