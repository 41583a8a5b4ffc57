//! Text lines to Arrow rows: JSON lines and CSV (with their columns inferred from the files
//! present), and plain text as one `line` column.

use crate::error::{Result, SqlError};
use crate::rows::Rows;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many lines of the files present the columns are inferred from.
pub const INFER_LINES: usize = 1_000;

/// How text lines become rows.
#[derive(Clone, Debug)]
pub enum LineFormat {
    /// One JSON object per line; fields missing from a line are `NULL`.
    JsonLines,
    /// Comma-separated values; lines equal to `header` (the first line of every file) are
    /// skipped.
    Csv {
        /// The header line of the files.
        header: String,
    },
    /// The whole line as the column `line`.
    Text,
}

/// The columns of plain text lines: `line`.
pub fn text_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("line", DataType::Utf8, false)]))
}

/// The files of `dir` (not hidden, not temporary), by name; `dir` itself if it is a file.
fn files_of(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SqlError::Catalog(format!("cannot read {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && !n.starts_with('_'))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SqlError::Catalog(format!(
            "cannot infer the columns: {} holds no file yet",
            dir.display()
        )));
    }
    Ok(files)
}

/// The columns of the JSON lines files in `dir`, inferred from their first
/// [`INFER_LINES`] lines.
pub fn infer_json_lines(dir: &Path) -> Result<SchemaRef> {
    let mut lines = Vec::new();
    for file in files_of(dir)? {
        let f = std::fs::File::open(&file)
            .map_err(|e| SqlError::Catalog(format!("cannot read {}: {e}", file.display())))?;
        for line in BufReader::new(f).lines() {
            let line = line
                .map_err(|e| SqlError::Catalog(format!("cannot read {}: {e}", file.display())))?;
            if !line.trim().is_empty() {
                lines.push(line);
            }
            if lines.len() >= INFER_LINES {
                break;
            }
        }
        if lines.len() >= INFER_LINES {
            break;
        }
    }
    infer_json_lines_from(&lines).map_err(|e| SqlError::Arrow(format!("{}: {e}", dir.display())))
}

/// The columns of JSON objects `lines` (a sample of a stream, such as the first records of a
/// topic).
pub fn infer_json_lines_from(lines: &[String]) -> Result<SchemaRef> {
    let lines: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(SqlError::Catalog(
            "cannot infer the columns: no JSON line to infer them from".into(),
        ));
    }
    let text = lines.join("\n");
    let (schema, _) = datafusion::arrow::json::reader::infer_json_schema(text.as_bytes(), None)
        .map_err(|e| SqlError::Arrow(format!("JSON lines: {e}")))?;
    Ok(Arc::new(schema))
}

/// The columns of the CSV files in `dir` (each with a header line), inferred from the first
/// file's first [`INFER_LINES`] lines, and the header line.
pub fn infer_csv(dir: &Path) -> Result<(SchemaRef, String)> {
    let first = files_of(dir)?.remove(0);
    let read =
        |e: std::io::Error| SqlError::Catalog(format!("cannot read {}: {e}", first.display()));
    let f = std::fs::File::open(&first).map_err(read)?;
    let mut header = String::new();
    BufReader::new(f).read_line(&mut header).map_err(read)?;
    let header = header.trim_end_matches(['\r', '\n']).to_string();
    let f = std::fs::File::open(&first).map_err(read)?;
    let (schema, _) = datafusion::arrow::csv::reader::Format::default()
        .with_header(true)
        .infer_schema(f, Some(INFER_LINES))
        .map_err(|e| SqlError::Arrow(format!("CSV in {}: {e}", first.display())))?;
    Ok((Arc::new(schema), header))
}

/// A static table: the rows of the file `path`, or of the files of the directory `path`,
/// in `format` (JSON lines, or CSV with a header line), with their inferred columns.
pub fn read_table(
    path: &Path,
    format: crate::files::FileFormat,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (schema, format) = match format {
        crate::files::FileFormat::JsonLines => (infer_json_lines(path)?, LineFormat::JsonLines),
        crate::files::FileFormat::Csv => {
            let (schema, header) = infer_csv(path)?;
            (schema, LineFormat::Csv { header })
        }
    };
    let mut batches = Vec::new();
    for file in files_of(path)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| SqlError::Catalog(format!("cannot read {}: {e}", file.display())))?;
        let lines = text.lines().map(str::to_owned).collect();
        let rows = decode(&format, &schema, lines)
            .map_err(|e| SqlError::Arrow(format!("{}: {e}", file.display())))?;
        batches.extend(rows.into_iter().map(|r| r.0));
    }
    Ok((schema, batches))
}

/// Decodes one partition of `lines` into rows of `schema`, decoding only the columns of
/// `needed` (indices into `schema`; `None`: all); the others are `NULL`. A query reads only
/// the columns it uses, so the others are not parsed.
pub fn decode_columns(
    format: &LineFormat,
    schema: &SchemaRef,
    needed: Option<&[usize]>,
    lines: Vec<String>,
) -> Result<Vec<Rows>> {
    let needed = match (format, needed) {
        (LineFormat::Text, _) | (_, None) => None,
        (_, Some(n)) if n.is_empty() || n.len() >= schema.fields().len() => None,
        (_, Some(n)) => {
            let mut n = n.to_vec();
            n.sort_unstable();
            n.dedup();
            Some(n)
        }
    };
    let Some(needed) = needed.as_deref() else {
        return decode(format, schema, lines);
    };
    let part: SchemaRef = Arc::new(schema.project(needed).map_err(SqlError::arrow)?);
    let decoded = match format {
        // CSV is positional: the decoder reads the whole line and keeps the columns asked.
        LineFormat::Csv { header } => decode_csv(schema, Some(needed), header, lines)?
            .into_iter()
            .map(Rows)
            .collect(),
        _ => decode(format, &part, lines)?,
    };
    decoded
        .into_iter()
        .map(|rows| {
            let n = rows.num_rows();
            let mut columns = Vec::with_capacity(schema.fields().len());
            let mut from = rows.0.columns().iter();
            for (i, field) in schema.fields().iter().enumerate() {
                if needed.contains(&i) {
                    columns.push(
                        from.next()
                            .expect("a decoded column per needed one")
                            .clone(),
                    );
                } else {
                    columns.push(datafusion::arrow::array::new_null_array(
                        field.data_type(),
                        n,
                    ));
                }
            }
            RecordBatch::try_new(schema.clone(), columns)
                .map(Rows)
                .map_err(SqlError::arrow)
        })
        .collect()
}

/// Decodes one partition of `lines` into rows of `schema`.
pub fn decode(format: &LineFormat, schema: &SchemaRef, lines: Vec<String>) -> Result<Vec<Rows>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let batches = match format {
        LineFormat::Text => {
            vec![
                RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(lines))])
                    .map_err(SqlError::arrow)?,
            ]
        }
        LineFormat::JsonLines => {
            let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone())
                .build_decoder()
                .map_err(SqlError::arrow)?;
            let lines = lines.into_iter().filter(|l| !l.trim().is_empty());
            decode_with(lines, &mut decoder)
                .map_err(|e| SqlError::Arrow(format!("a JSON line: {e}")))?
        }
        LineFormat::Csv { header } => decode_csv(schema, None, header, lines)?,
    };
    Ok(batches
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(Rows)
        .collect())
}

/// Decodes CSV `lines` of `schema` (skipping the header lines), keeping the columns `needed`
/// (all with `None`).
fn decode_csv(
    schema: &SchemaRef,
    needed: Option<&[usize]>,
    header: &str,
    lines: Vec<String>,
) -> Result<Vec<RecordBatch>> {
    let mut builder = datafusion::arrow::csv::ReaderBuilder::new(schema.clone()).with_header(false);
    if let Some(needed) = needed {
        builder = builder.with_projection(needed.to_vec());
    }
    let mut decoder = builder.build_decoder();
    let lines = lines
        .into_iter()
        .filter(|l| l.trim_end_matches('\r') != header && !l.is_empty());
    decode_with(lines, &mut decoder).map_err(|e| SqlError::Arrow(format!("a CSV line: {e}")))
}

/// An Arrow decoder of bytes (JSON or CSV).
trait LineDecoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError>;
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError>;
}

impl LineDecoder for datafusion::arrow::json::reader::Decoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        datafusion::arrow::json::reader::Decoder::decode(self, buf)
    }
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        datafusion::arrow::json::reader::Decoder::flush(self)
    }
}

impl LineDecoder for datafusion::arrow::csv::reader::Decoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        datafusion::arrow::csv::reader::Decoder::decode(self, buf)
    }
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        datafusion::arrow::csv::reader::Decoder::flush(self)
    }
}

/// Feeds each line and a newline to `decoder`, flushing it whenever it takes no more.
fn decode_with(
    lines: impl Iterator<Item = String>,
    decoder: &mut dyn LineDecoder,
) -> Result<Vec<RecordBatch>, ArrowError> {
    let mut out = Vec::new();
    let mut feed = |bytes: &[u8], out: &mut Vec<RecordBatch>| -> Result<(), ArrowError> {
        let mut at = 0;
        while at < bytes.len() {
            let n = decoder.decode(&bytes[at..])?;
            if n == 0 {
                out.extend(decoder.flush()?);
            }
            at += n;
        }
        Ok(())
    };
    for line in lines {
        feed(line.as_bytes(), &mut out)?;
        feed(b"\n", &mut out)?;
    }
    out.extend(decoder.flush()?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;

    #[test]
    fn json_lines_and_csv_decode_into_their_inferred_columns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            "{\"page\":\"/a\",\"n\":1}\n{\"page\":\"/b\",\"n\":2}\n",
        )
        .unwrap();
        let schema = infer_json_lines(dir.path()).unwrap();
        let lines = vec![
            "{\"page\":\"/c\",\"n\":3}".to_string(),
            String::new(),
            "{\"n\":4}".into(),
        ];
        let rows = decode(&LineFormat::JsonLines, &schema, lines).unwrap();
        let batch = &rows[0].0;
        assert_eq!(batch.num_rows(), 2);
        let n = batch
            .column_by_name("n")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(n.values().to_vec(), vec![3, 4]);

        let csv = tempfile::tempdir().unwrap();
        std::fs::write(csv.path().join("a.csv"), "page,n\n/a,1\n/b,2\n").unwrap();
        let (schema, header) = infer_csv(csv.path()).unwrap();
        assert_eq!(header, "page,n");
        let lines = vec!["page,n".into(), "/c,7".into(), "/d,8".into()];
        let rows = decode(&LineFormat::Csv { header }, &schema, lines).unwrap();
        let n = rows[0].0.column(1).as_primitive::<Int64Type>();
        assert_eq!(n.values().to_vec(), vec![7, 8]);
    }

    #[test]
    fn only_the_columns_a_query_reads_are_decoded() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
            Field::new("c", DataType::Int64, true),
        ]));
        let json = vec!["{\"a\":1,\"b\":\"x\",\"c\":3}".to_string()];
        let csv = vec!["1,x,3".to_string()];
        for (format, lines) in [
            (LineFormat::JsonLines, json),
            (
                LineFormat::Csv {
                    header: "a,b,c".into(),
                },
                csv,
            ),
        ] {
            let rows = decode_columns(&format, &schema, Some(&[2, 0]), lines).unwrap();
            let batch = &rows[0].0;
            assert_eq!(batch.schema(), schema, "{format:?}");
            assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 1);
            assert!(batch.column(1).is_null(0), "{format:?}: b is not read");
            assert_eq!(batch.column(2).as_primitive::<Int64Type>().value(0), 3);
        }
    }

    #[test]
    fn a_bad_line_is_reported_and_an_empty_directory_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = infer_json_lines(dir.path()).unwrap_err().to_string();
        assert!(e.contains("holds no file"), "{e}");
        std::fs::write(dir.path().join("a.json"), "{\"n\":1}\n").unwrap();
        let schema = infer_json_lines(dir.path()).unwrap();
        let e = decode(&LineFormat::JsonLines, &schema, vec!["{\"n\":".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSON line"), "{e}");
    }
}
