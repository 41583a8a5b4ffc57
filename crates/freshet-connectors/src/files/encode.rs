//! What a file format does for the sinks: write a file of records, and combine staged files
//! (one per batch, in batch order) into one rolled file.

use super::error::FormatError;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes records of type `T` as files of one format.
pub(crate) trait Encoder<T>: 'static {
    /// Writes `records` as a whole file to `out` (the file that becomes `path`).
    fn write_file(
        &self,
        path: &Path,
        records: &[&T],
        out: &mut BufWriter<File>,
    ) -> Result<(), FormatError>;

    /// Writes the records of the files `parts` (written by [`write_file`](Self::write_file)),
    /// in order, as one file to `out`.
    fn combine(&self, parts: &[PathBuf], out: &mut BufWriter<File>) -> Result<(), FormatError>;
}

/// Appends the bytes of `parts` to `out`, skipping the first `skip(part)` bytes of each.
pub(crate) fn concatenate(
    parts: &[PathBuf],
    out: &mut BufWriter<File>,
    mut skip: impl FnMut(usize, &Path) -> Result<u64, FormatError>,
) -> Result<(), FormatError> {
    use std::io::{Seek, SeekFrom};
    for (i, part) in parts.iter().enumerate() {
        let from = skip(i, part)?;
        let mut f = File::open(part).map_err(|e| FormatError::io(part, e))?;
        f.seek(SeekFrom::Start(from))
            .map_err(|e| FormatError::io(part, e))?;
        std::io::copy(&mut f, out).map_err(|e| FormatError::io(part, e))?;
    }
    Ok(())
}
