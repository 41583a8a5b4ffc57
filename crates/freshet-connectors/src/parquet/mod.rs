//! Parquet files of serde records, through Arrow record batches.
