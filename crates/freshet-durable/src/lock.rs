//! An exclusive lock on a checkpoint directory: one job at a time.
//!
//! The lock is an advisory `flock` on the file `LOCK` in the directory, held as long as the
//! [`DirLock`] lives. The operating system releases it when the holder exits, however it exits
//! (a SIGKILL included), so a crashed job never leaves it stuck. The file also says who holds
//! it (process id, host, since when), for the error the next job gets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{DurableError, IoContext, Result};

/// The name of the lock file in a locked directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock on a directory; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an unknown host".into())
}

impl DirLock {
    /// Takes the lock of `dir` (creating the directory if needed), or fails with
    /// [`DurableError::Locked`] naming the holder.
    pub fn acquire(dir: impl AsRef<Path>) -> Result<DirLock> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).at(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(DurableError::Locked {
                    path: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "another process".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(DurableError::io(&path, e)),
        }
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let who = format!(
            "process {} on {} (since {since}, seconds since the Unix epoch)\n",
            std::process::id(),
            host_name()
        );
        file.set_len(0).at(&path)?;
        file.seek(SeekFrom::Start(0)).at(&path)?;
        file.write_all(who.as_bytes()).at(&path)?;
        file.sync_all().at(&path)?;
        Ok(DirLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
