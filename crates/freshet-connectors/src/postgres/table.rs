//! Tables: names as written in SQL, the columns of an existing table, and the `CREATE TABLE`
//! of the sink's table (from the record type) and of the marker table.

use super::error::{classify, SettingsError};
use super::schema::ColumnDef;
use freshet::SinkError;
use std::fmt;
use tokio_postgres::Client;

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Quotes an identifier: `page` becomes `"page"`, `a"b` becomes `"a""b"`.
pub(crate) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Checks an identifier given in setting `setting`.
pub(crate) fn check_identifier(setting: &'static str, name: &str) -> Result<(), SettingsError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_IDENTIFIER_LEN {
        "PostgreSQL identifiers are at most 63 bytes"
    } else if name.contains('\0') {
        "it contains U+0000"
    } else {
        return Ok(());
    };
    Err(SettingsError::InvalidName {
        setting,
        value: name.to_string(),
        reason: reason.into(),
    })
}

/// A table's name: `table` or `schema.table`, each part taken as written (case kept) and
/// quoted in SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    /// Parses the value of setting `setting`.
    pub fn parse(setting: &'static str, value: &str) -> Result<TableName, SettingsError> {
        let (schema, name) = match value.split_once('.') {
            Some((schema, name)) => (Some(schema.to_string()), name.to_string()),
            None => (None, value.to_string()),
        };
        if let Some(schema) = &schema {
            check_identifier(setting, schema)?;
        }
        check_identifier(setting, &name).map_err(|e| match e {
            SettingsError::InvalidName {
                setting, reason, ..
            } if name.contains('.') => SettingsError::InvalidName {
                setting,
                value: value.to_string(),
                reason: format!("{reason}; write `schema.table` with one dot"),
            },
            SettingsError::InvalidName {
                setting, reason, ..
            } => SettingsError::InvalidName {
                setting,
                value: value.to_string(),
                reason,
            },
            other => other,
        })?;
        if name.contains('.') {
            return Err(SettingsError::InvalidName {
                setting,
                value: value.to_string(),
                reason: "write `table` or `schema.table`, with one dot at most".into(),
            });
        }
        Ok(TableName { schema, name })
    }

    /// A key for an advisory lock that serializes the creation of this table.
    fn lock_key(&self) -> i64 {
        // FNV-1a of the quoted name: stable across runs and processes.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.to_string().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h as i64
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{}.{}", quote(schema), quote(&self.name)),
            None => f.write_str(&quote(&self.name)),
        }
    }
}

/// A column of an existing table: its name and its type as SQL (`integer`, `text`,
/// `timestamp with time zone`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub sql_type: String,
}

/// The columns of `table` in their order, or `None` when there is no such table.
pub(crate) async fn columns(
    client: &Client,
    table: &TableName,
) -> Result<Option<Vec<Column>>, SinkError> {
    let what = || format!("postgres sink: looking up table {table}");
    let name = table.to_string();
    let found = client
        .query_one("SELECT to_regclass($1)::oid", &[&name])
        .await
        .map_err(|e| classify(&what(), e))?;
    let oid: Option<u32> = found.try_get(0).map_err(|e| classify(&what(), e))?;
    let Some(oid) = oid else {
        return Ok(None);
    };
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&oid],
        )
        .await
        .map_err(|e| classify(&what(), e))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        columns.push(Column {
            name: row.try_get(0).map_err(|e| classify(&what(), e))?,
            sql_type: row.try_get(1).map_err(|e| classify(&what(), e))?,
        });
    }
    Ok(Some(columns))
}

/// Runs `ddl` (a `CREATE ... IF NOT EXISTS`) for `table` under a transaction-scoped advisory
/// lock, so that workers creating the same table at once do not collide in the catalog.
pub(crate) async fn create(
    client: &mut Client,
    table: &TableName,
    ddl: &str,
) -> Result<(), SinkError> {
    let what = format!("postgres sink: creating table {table}");
    let tx = client.transaction().await.map_err(|e| classify(&what, e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&table.lock_key()])
        .await
        .map_err(|e| classify(&what, e))?;
    tx.batch_execute(ddl)
        .await
        .map_err(|e| classify(&what, e))?;
    tx.commit().await.map_err(|e| classify(&what, e))
}

/// The `CREATE TABLE IF NOT EXISTS` of the sink's table from the record's columns, with a
/// primary key on `key` (upsert mode).
pub(crate) fn create_table_sql(table: &TableName, columns: &[ColumnDef], key: &[String]) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            let null = if c.nullable { "" } else { " NOT NULL" };
            format!("{} {}{null}", quote(&c.name), c.sql_type)
        })
        .collect();
    if !key.is_empty() {
        let key: Vec<String> = key.iter().map(|k| quote(k)).collect();
        parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
    }
    format!("CREATE TABLE IF NOT EXISTS {table} ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_part_by_part() {
        let t = TableName::parse("table", "Sales.page_views").unwrap();
        assert_eq!(t.to_string(), "\"Sales\".\"page_views\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        for bad in ["", "a.b.c", ".t", "s.", &"x".repeat(64)] {
            assert!(TableName::parse("table", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_created_table_has_the_records_columns_and_the_key() {
        let t = TableName::parse("table", "counts").unwrap();
        let columns = [
            ColumnDef {
                name: "page".into(),
                sql_type: "text".into(),
                nullable: false,
            },
            ColumnDef {
                name: "views".into(),
                sql_type: "bigint".into(),
                nullable: true,
            },
        ];
        assert_eq!(
            create_table_sql(&t, &columns, &["page".into()]),
            "CREATE TABLE IF NOT EXISTS \"counts\" (\"page\" text NOT NULL, \"views\" bigint, \
             PRIMARY KEY (\"page\"))"
        );
    }
}
