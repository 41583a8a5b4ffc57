//! PostgreSQL tables as an exactly-once sink, through `tokio-postgres`.
//!
//! [`PostgresSink`] writes each worker's part of every batch into a table, in one transaction
//! per batch and worker that also inserts the batch's *marker*: a row
//! `(pipeline, output, partition, batch time)` in the marker table (`freshet_sink_batches`,
//! created when missing). The marker is inserted first; if it is already there, the batch was
//! committed before (a batch replayed after a crash, or a commit whose answer was lost) and the
//! transaction is rolled back: nothing is written twice. The guarantee is therefore
//! exactly-once with a replayable source, as long as the number of workers stays the same
//! across restarts (a worker's partition of a replayed batch is then the same).
//!
//! # Modes
//!
//! - *Append* ([`WriteMode::Append`], the default): every record becomes a row.
//! - *Upsert* ([`WriteMode::Upsert`], [`PostgresSink::upsert`]): `INSERT ... ON CONFLICT (key)
//!   DO UPDATE`, for keyed running aggregates read by dashboards. Within a batch the last
//!   record of a key wins.
//!
//! Appended rows travel by `COPY ... FROM STDIN` in text format, straight into the table, or
//! by multi-row `INSERT` statements ([`WriteMethod`]); upserted rows always by multi-row
//! `INSERT ... ON CONFLICT`, which `COPY` cannot do.
//!
//! # Records and columns
//!
//! A record is a serde struct (or a map with string keys): each field fills the column of its
//! serialized name; a field that is not a column fails the batch. Values are sent as text and
//! parsed by the server with the column's type, so a `String` can fill a `timestamptz` or
//! `uuid` column; `None` is NULL; sequences, maps, nested structs and enum variants with data
//! are JSON; bytes are `bytea`. With [`PostgresSink::create_table`] the table is created from
//! the record type: `bool` → `boolean`, `i8`/`i16`/`u8` → `smallint`, `i32`/`u16` →
//! `integer`, `i64`/`u32`/`u64` → `bigint`, `i128`/`u128` → `numeric`, `f32` → `real`, `f64`
//! → `double precision`, strings → `text`, bytes → `bytea`, enums → `text`, the rest
//! → `jsonb`; `Option` fields are nullable, the others `NOT NULL`; upsert's key is the primary
//! key.
//!
//! # Errors and retries
//!
//! A row the database refuses (a constraint, a value its column cannot hold) fails the batch
//! with a user error whose cause is a [`RejectedRow`]: the row's index and values and the
//! database's reason. The transaction is rolled back, nothing of the batch is written, and the
//! job fails: no row is dropped silently. A failure that may pass (a lost or refused
//! connection, a deadlock, a server shutting down, a timeout) is retried by the writer
//! `max_retries` times on a new connection, then reported as retryable, and the engine retries
//! the batch with its own back-off. Settings are checked before anything connects
//! ([`SettingsError`] names the setting).

mod error;
mod marker;
mod row;
mod schema;
mod settings;
mod sink;
mod statements;
mod table;
mod writer;

pub use error::{RejectedRow, SettingsError};
pub use schema::{columns_of, ColumnDef};
pub use settings::{
    WriteMethod, WriteMode, BATCH_TIMEOUT, CONNECT_TIMEOUT, DEFAULT_BATCH_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MARKER_RETENTION, DEFAULT_MARKER_TABLE, DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF, DEFAULT_ROWS_PER_STATEMENT, MARKER_RETENTION, MAX_BACKOFF,
    MAX_PIPELINE_LEN, MAX_RETRIES, RETRY_BACKOFF, ROWS_PER_STATEMENT,
};
pub use sink::PostgresSink;
pub use table::MAX_IDENTIFIER_LEN;
pub use writer::PostgresSinkWriter;
