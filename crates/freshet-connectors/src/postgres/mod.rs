//! PostgreSQL tables as an exactly-once sink.
