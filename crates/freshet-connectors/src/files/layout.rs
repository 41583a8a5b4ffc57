//! Where the file sinks put their files, and how a file is committed: written under a hidden
//! temporary name, fsynced, renamed into place, the directory fsynced.
//!
//! ```text
//! <dir>/[<column>=<value>/]batch-<time>/part-<partition:05><ext>         one file per batch
//! <dir>/[<column>=<value>/]part-<partition:05>-<first>-<last><ext>       rolled: batches first..=last
//! <dir>/_staging/part-<partition:05>/batch-<time>/<group><ext>           rolling: staged batches
//! ```

use super::error::FormatError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file of one batch, partition and (optional) partition directory.
pub(crate) fn batch_file(
    dir: &Path,
    group: Option<&str>,
    time: u64,
    partition: usize,
    ext: &str,
) -> PathBuf {
    let mut p = dir.to_path_buf();
    if let Some(g) = group {
        p.push(g);
    }
    p.push(format!("batch-{time}"));
    p.push(format!("part-{partition:05}{ext}"));
    p
}

/// The rolled file of batches `first..=last` of one partition.
pub(crate) fn rolled_file(
    dir: &Path,
    group: Option<&str>,
    partition: usize,
    first: u64,
    last: u64,
    ext: &str,
) -> PathBuf {
    let mut p = dir.to_path_buf();
    if let Some(g) = group {
        p.push(g);
    }
    p.push(format!("part-{partition:05}-{first}-{last}{ext}"));
    p
}

/// The staging directory of one partition of a rolling sink.
pub(crate) fn staging_dir(dir: &Path, partition: usize) -> PathBuf {
    dir.join("_staging").join(format!("part-{partition:05}"))
}

/// The name of a staged segment: the partition directory, or `records` without partitioning.
pub(crate) fn segment_name(group: Option<&str>, ext: &str) -> String {
    format!("{}{ext}", group.unwrap_or(UNPARTITIONED))
}

/// The segment name of an unpartitioned sink (a partition directory always holds a `=`).
pub(crate) const UNPARTITIONED: &str = "records";

/// The group of a segment name.
pub(crate) fn segment_group<'a>(name: &'a str, ext: &str) -> Option<&'a str> {
    let stem = name.strip_suffix(ext).unwrap_or(name);
    (stem != UNPARTITIONED).then_some(stem)
}

/// Fsyncs a directory (where the platform allows opening one).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), FormatError> {
    if let Ok(d) = File::open(dir) {
        d.sync_all().map_err(|e| FormatError::io(dir, e))?;
    }
    Ok(())
}

/// Writes `path` through `fill` unless it exists: a hidden temporary file in the same
/// directory, flushed, fsynced (with `sync`), renamed to `path`, the directory fsynced.
/// Returns whether it wrote (`false`: the file was there, written by an earlier run).
pub(crate) fn commit_file(
    path: &Path,
    sync: bool,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), FormatError>,
) -> Result<bool, FormatError> {
    if path.exists() {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| FormatError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = File::create(&tmp).map_err(|e| FormatError::io(&tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let filled = fill(&mut out).and_then(|()| {
        out.flush().map_err(|e| FormatError::io(&tmp, e))?;
        if sync {
            out.get_ref()
                .sync_all()
                .map_err(|e| FormatError::io(&tmp, e))?;
        }
        Ok(())
    });
    drop(out);
    if let Err(e) = filled {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| FormatError::io(path, e))?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(true)
}
