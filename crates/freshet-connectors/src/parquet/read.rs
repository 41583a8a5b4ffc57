//! Parquet files back into serde records: Parquet -> Arrow record batches -> `T`
//! (`serde_arrow::from_record_batch`).

use crate::files::{read_dataset, BadRow, FileFormat, FormatError, ReadOptions};
use arrow_array::RecordBatch;
use freshet::{Data, Dataset};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::path::Path;

/// The records of the Parquet files at `path` (a file or a directory, read recursively), rows
/// that do not fit `T` skipped and counted; a damaged file (a truncated one) is an error
/// naming it. See [`read_dataset`] for options.
///
/// ```no_run
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Click { seq: u64, user: u32, page: String, dwell_ms: u32 }
///
/// let clicks = freshet_connectors::parquet::parquet_dataset::<Click>("out/clicks")?;
/// println!("{} clicks", clicks.count()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parquet_dataset<T: Data>(path: impl AsRef<Path>) -> Result<Dataset<T>, FormatError> {
    Ok(read_dataset(path, FileFormat::Parquet, &ReadOptions::default())?.dataset)
}

/// Reads the rows of the Parquet file `path` as records; a row that does not fit `T` goes to
/// `bad` (located by its row number in the file, from 0).
pub(crate) fn decode_parquet<T: DeserializeOwned>(
    path: &Path,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) -> Result<(), FormatError> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(8192).build())
        .map_err(|e| FormatError::damaged(path, "Parquet", e))?;
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| FormatError::damaged(path, "Parquet", e))?;
        decode_batch(path, &batch, row, out, bad);
        row += batch.num_rows() as u64;
    }
    Ok(())
}

/// Decodes one record batch; when it does not decode whole, row by row, so that only the rows
/// that do not fit go to `bad`.
fn decode_batch<T: DeserializeOwned>(
    path: &Path,
    batch: &RecordBatch,
    first_row: u64,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) {
    match serde_arrow::from_record_batch::<Vec<T>>(batch) {
        Ok(records) => out.extend(records),
        Err(_) => {
            for i in 0..batch.num_rows() {
                let one = batch.slice(i, 1);
                match serde_arrow::from_record_batch::<Vec<T>>(&one) {
                    Ok(records) => out.extend(records),
                    Err(e) => bad(BadRow {
                        path: path.to_path_buf(),
                        location: format!("row {}", first_row + i as u64),
                        reason: e.to_string(),
                        raw: Vec::new(),
                    }),
                }
            }
        }
    }
}
