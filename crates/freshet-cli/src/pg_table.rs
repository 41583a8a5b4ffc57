//! A PostgreSQL table loaded once at start as a static table of `freshet sql`: its rows read
//! as JSON (`row_to_json`), so that every column type PostgreSQL can write as JSON arrives
//! with its value, then decoded with columns inferred like those of JSON lines files.

use anyhow::{bail, Context};
use datafusion_arrow::{RecordBatch, SchemaRef};
use freshet_sql::formats::{decode, infer_json_lines_from, LineFormat};
use tokio_postgres::NoTls;

/// Arrow types of the loaded table.
mod datafusion_arrow {
    pub use freshet_sql::arrow::array::RecordBatch;
    pub use freshet_sql::arrow::datatypes::SchemaRef;
}

/// The rows of `table` in the database at `url` (a libpq connection string or
/// `postgresql://` URL), with their columns.
pub fn load(url: &str, table: &str) -> anyhow::Result<(SchemaRef, Vec<RecordBatch>)> {
    if table.is_empty()
        || !table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        bail!("{table:?} is not a plain table name (letters, digits, `_`, `.`)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let lines: Vec<String> = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {url}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
        let rows = client
            .query(&sql, &[])
            .await
            .with_context(|| format!("cannot read the table {table}"))?;
        anyhow::Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    })?;
    if lines.is_empty() {
        bail!("the table {table} is empty: its columns cannot be inferred");
    }
    let schema = infer_json_lines_from(&lines)?;
    let batches = decode(&LineFormat::JsonLines, &schema, lines)?
        .into_iter()
        .map(|r| r.0)
        .collect();
    Ok((schema, batches))
}
