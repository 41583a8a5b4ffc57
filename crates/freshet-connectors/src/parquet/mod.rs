//! Parquet files of serde records, through Arrow record batches.
//!
//! # [`ParquetSink`]
//!
//! Converts each batch's records into an Arrow record batch with serde_arrow, using a schema
//! traced from the record type ([`schema`] has the mapping: `i64` is `Int64`, `Option<T>` is
//! nullable, `String` is `Utf8`, ...), and writes it as a Parquet file, Snappy-compressed, the
//! Arrow schema embedded. Files, partition directories, rolling and the exactly-once rule are
//! those of every file sink (see [`files`](crate::files) and
//! [`files::rolling`](crate::files::rolling)): `<dir>/batch-<time>/part-<n>.parquet`, one row
//! group per batch; rolled files `part-<n>-<first>-<last>.parquet`.
//!
//! # Reading
//!
//! [`parquet_dataset`] reads Parquet files (Freshet's or any other writer's) into a typed
//! [`Dataset`](freshet::Dataset), and
//! [`TypedFileStreams::parquet_stream`](crate::files::TypedFileStreams::parquet_stream)
//! reads the new ones of a directory as a stream. Columns are matched to fields by name; a row
//! that does not fit the type follows the bad-record policy; a file that is not valid Parquet
//! (a truncated one) is an error naming the file.

pub(crate) mod read;
pub mod schema;
mod sink;

pub use read::parquet_dataset;
pub use schema::record_schema;
pub use sink::{ParquetCompression, ParquetSink, ParquetWriter};
