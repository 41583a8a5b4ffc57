//! The marker table: one row per `(pipeline, output, partition, batch time)` written, in the
//! transaction of the batch's rows.
//!
//! A writer claims a batch by inserting its marker first (`ON CONFLICT DO NOTHING`). No row
//! inserted means the batch was committed before (a replay after a crash, or a retried
//! commit whose answer was lost): the transaction is rolled back and nothing is written. A
//! second writer claiming the same batch at the same time waits on the marker's index entry
//! until the first commits or rolls back, so the claim is also a lock.

use super::table::TableName;

/// The `CREATE TABLE IF NOT EXISTS` of the marker table.
pub(crate) fn create_sql(markers: &TableName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {markers} (\
         pipeline text NOT NULL, \
         output text NOT NULL, \
         partition integer NOT NULL, \
         batch_time bigint NOT NULL, \
         target text NOT NULL, \
         rows bigint NOT NULL, \
         written_at timestamptz NOT NULL DEFAULT now(), \
         PRIMARY KEY (pipeline, output, partition, batch_time))"
    )
}

/// Claims a batch: `$1` pipeline, `$2` output, `$3` partition, `$4` batch time (ms), `$5` the
/// table, `$6` the number of rows. One row affected: claimed; none: written before.
pub(crate) fn claim_sql(markers: &TableName) -> String {
    format!(
        "INSERT INTO {markers} (pipeline, output, partition, batch_time, target, rows) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
    )
}

/// Deletes the markers of a writer older than a batch time: `$1` pipeline, `$2` output, `$3`
/// partition, `$4` the oldest batch time kept.
pub(crate) fn prune_sql(markers: &TableName) -> String {
    format!(
        "DELETE FROM {markers} WHERE pipeline = $1 AND output = $2 AND partition = $3 \
         AND batch_time < $4"
    )
}

/// Whether batch number `committed` (counted per writer) also prunes old markers: one batch
/// in 64, so that pruning costs little and the table stays small.
pub(crate) fn prunes(committed: u64) -> bool {
    committed.is_multiple_of(64)
}
