//! The Parquet sink: records -> Arrow record batch (serde_arrow) -> Parquet file.

use super::schema::{fields_of, SchemaSettings};
use crate::files::{sink_settings, Encoder, FormatError, FormatWriter, SinkSettings};
use arrow_schema::{FieldRef, Schema, SchemaRef, TimeUnit};
use freshet::sink::{Guarantee, Sink, SinkContext};
use freshet::SinkError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How Parquet column chunks are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParquetCompression {
    /// Not compressed.
    None,
    /// Snappy (the default, as Spark's).
    #[default]
    Snappy,
}

/// The most rows a row group may be set to hold.
const MAX_ROW_GROUP_ROWS: usize = 64 << 20;

/// Writes every batch as a Parquet file: `<dir>/batch-<time>/part-<partition:05>.parquet`
/// (one row group per batch, up to [`row_group_rows`](Self::row_group_rows)), under
/// `<column>=<value>/` with [`partition_by`](Self::partition_by), rolled into
/// `part-<n>-<first>-<last>.parquet` files with [`rolling`](Self::rolling) (row groups of up
/// to `row_group_rows` rows). Exactly-once. The schema is traced from the record type (see
/// [`schema`](super::schema)); the file carries the Arrow schema too, so Arrow readers see
/// the exact types.
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet::source::generator::GeneratorOptions;
/// use freshet_connectors::files::{PartitionBy, RollingPolicy};
/// use freshet_connectors::parquet::ParquetSink;
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(100)))?;
/// ctx.click_stream(GeneratorOptions::rate(10_000))
///     .sink(
///         ParquetSink::new("out/clicks")
///             .partition_by(PartitionBy::field("page"))
///             .rolling(RollingPolicy::new().max_span(Duration::from_secs(60))),
///     )
///     .uid("clicks-parquet");
/// # Ok::<(), freshet::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParquetSink {
    files: SinkSettings,
    compression: ParquetCompression,
    row_group_rows: usize,
    schema: SchemaSettings,
}

impl ParquetSink {
    /// A sink writing under `dir`, fsyncing what it writes, Snappy-compressed `.parquet`
    /// files.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ParquetSink {
            files: SinkSettings::new(dir.into(), ".parquet"),
            compression: ParquetCompression::default(),
            row_group_rows: 1 << 20,
            schema: SchemaSettings::default(),
        }
    }

    sink_settings!();

    /// The compression of column chunks (default Snappy).
    pub fn compression(mut self, compression: ParquetCompression) -> Self {
        self.compression = compression;
        self
    }

    /// The most rows per row group (1 ..= 67 108 864; default 1 048 576).
    pub fn row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows;
        self
    }

    /// Writes the top-level `i64` field `field` (milliseconds since the Unix epoch) as a
    /// `Timestamp(Millisecond, "UTC")` column.
    pub fn timestamp_millis(mut self, field: impl Into<String>) -> Self {
        self.schema
            .timestamps
            .push((field.into(), TimeUnit::Millisecond));
        self
    }

    /// Writes the top-level `i64` field `field` (microseconds since the Unix epoch) as a
    /// `Timestamp(Microsecond, "UTC")` column.
    pub fn timestamp_micros(mut self, field: impl Into<String>) -> Self {
        self.schema
            .timestamps
            .push((field.into(), TimeUnit::Microsecond));
        self
    }

    /// Uses `fields` as the schema instead of tracing it from the record type (for types
    /// serde_arrow cannot trace; see `serde_arrow::schema::SchemaLike`).
    pub fn fields(mut self, fields: Vec<FieldRef>) -> Self {
        self.schema.fields = Some(fields);
        self
    }

    /// The Arrow schema this sink writes records of type `T` with.
    pub fn schema_for<T: DeserializeOwned>(&self) -> Result<SchemaRef, FormatError> {
        Ok(Arc::new(Schema::new(fields_of::<T>(&self.schema)?)))
    }

    /// Checks every setting (the sink checks them again when a writer opens).
    pub fn validate(&self) -> Result<(), FormatError> {
        crate::files::check_range(
            "row_group_rows",
            self.row_group_rows,
            1,
            MAX_ROW_GROUP_ROWS,
            "between 1 and 67108864",
        )?;
        self.files.validate()
    }

    fn encoder<T: Serialize + DeserializeOwned + 'static>(
        &self,
    ) -> Result<ParquetEncoder, FormatError> {
        self.validate()?;
        let fields = fields_of::<T>(&self.schema)?;
        let schema = Arc::new(Schema::new(fields.clone()));
        let compression = match self.compression {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .set_created_by(format!("freshet {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(ParquetEncoder {
            fields,
            schema,
            props,
        })
    }
}

/// The writer of one partition of a [`ParquetSink`].
pub type ParquetWriter<T> = FormatWriter<T>;

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Sink<T> for ParquetSink {
    type Writer = ParquetWriter<T>;

    fn open(&self, ctx: &SinkContext) -> Result<ParquetWriter<T>, SinkError> {
        let encoder = self.encoder::<T>()?;
        Ok(FormatWriter::open(&self.files, ctx, Box::new(encoder))?)
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

/// Writes records as Parquet files with a fixed schema.
struct ParquetEncoder {
    fields: Vec<FieldRef>,
    schema: SchemaRef,
    props: WriterProperties,
}

/// A Parquet error met writing `path`: I/O errors keep their kind.
fn write_error(path: &Path, e: ParquetError) -> FormatError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => FormatError::io(path, *io),
            Err(other) => FormatError::encode("Parquet", other),
        },
        other => FormatError::encode("Parquet", other),
    }
}

impl ParquetEncoder {
    fn writer<'a>(
        &self,
        path: &Path,
        out: &'a mut BufWriter<File>,
    ) -> Result<ArrowWriter<&'a mut BufWriter<File>>, FormatError> {
        ArrowWriter::try_new(out, Arc::clone(&self.schema), Some(self.props.clone()))
            .map_err(|e| write_error(path, e))
    }
}

impl<T: Serialize + 'static> Encoder<T> for ParquetEncoder {
    fn write_file(
        &self,
        path: &Path,
        records: &[&T],
        out: &mut BufWriter<File>,
    ) -> Result<(), FormatError> {
        let mut writer = self.writer(path, out)?;
        if !records.is_empty() {
            let batch = serde_arrow::to_record_batch(&self.fields, &records)
                .map_err(|e| FormatError::encode("Parquet", e))?;
            writer.write(&batch).map_err(|e| write_error(path, e))?;
        }
        writer.close().map_err(|e| write_error(path, e))?;
        Ok(())
    }

    fn combine(&self, parts: &[PathBuf], out: &mut BufWriter<File>) -> Result<(), FormatError> {
        let target = parts.first().map_or(Path::new(""), PathBuf::as_path);
        let mut writer = self.writer(target, out)?;
        for part in parts {
            let file = File::open(part).map_err(|e| FormatError::io(part, e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(8192).build())
                .map_err(|e| FormatError::damaged(part, "Parquet", e))?;
            for batch in reader {
                let batch = batch.map_err(|e| FormatError::damaged(part, "Parquet", e))?;
                writer.write(&batch).map_err(|e| write_error(part, e))?;
            }
        }
        writer.close().map_err(|e| write_error(target, e))?;
        Ok(())
    }
}
