//! The SQL that writes a batch's rows: `COPY ... FROM STDIN` in text format (and the
//! encoding of rows in that format), and multi-row `INSERT ... VALUES` with the
//! `ON CONFLICT ... DO UPDATE` of upsert mode.

use super::table::{quote, TableName};
use tokio_postgres::types::{private::BytesMut, Format, IsNull, ToSql, Type};

/// PostgreSQL's limit on the parameters of one statement.
pub(crate) const MAX_PARAMETERS: usize = 65_535;

/// A text cell sent as a parameter in text format: the server parses it with the input
/// function of the column's type, as `COPY` would.
#[derive(Debug)]
pub(crate) struct TextParam<'a>(pub Option<&'a str>);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The `ON CONFLICT` clause of an upsert on `key` setting `columns` (empty for an append).
fn on_conflict(columns: &[String], key: &[String]) -> String {
    if key.is_empty() {
        return String::new();
    }
    let key_list: Vec<String> = key.iter().map(|k| quote(k)).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{0} = EXCLUDED.{0}", quote(c)))
        .collect();
    if updates.is_empty() {
        format!(" ON CONFLICT ({}) DO NOTHING", key_list.join(", "))
    } else {
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            key_list.join(", "),
            updates.join(", ")
        )
    }
}

/// `INSERT INTO table (columns) VALUES ($1, ...), ...` for `rows` rows.
pub(crate) fn insert_values(
    table: &TableName,
    columns: &[String],
    key: &[String],
    rows: usize,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * width + col + 1).to_string());
        }
        sql.push(')');
    }
    sql.push_str(&on_conflict(columns, key));
    sql
}

/// The rows of one `INSERT ... VALUES` statement: `wanted`, fewer for a wide table.
pub(crate) fn rows_per_statement(wanted: usize, width: usize) -> usize {
    wanted.min(MAX_PARAMETERS / width.max(1)).max(1)
}

/// `COPY table (columns) FROM STDIN`, in text format: each value parsed by the input
/// function of its column's type, as a text parameter of `INSERT` is.
pub(crate) fn copy_into(table: &TableName, columns: &[String]) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    format!("COPY {table} ({}) FROM STDIN", names.join(", "))
}

/// Appends a row of `COPY`'s text format to `out`: cells separated by tabs, the line ended
/// by a newline, NULL as `\N`, and in a value a backslash, tab, newline or carriage return
/// escaped (`\\`, `\t`, `\n`, `\r`), so that every row is one line.
pub(crate) fn push_copy_row<'a>(out: &mut BytesMut, cells: impl Iterator<Item = Option<&'a str>>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\t");
        }
        match cell {
            Some(text) => push_copy_value(out, text),
            None => out.extend_from_slice(b"\\N"),
        }
    }
    out.extend_from_slice(b"\n");
}

/// Appends `text` escaped for `COPY`'s text format.
fn push_copy_value(out: &mut BytesMut, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TableName {
        TableName::parse("table", "counts").unwrap()
    }

    #[test]
    fn inserts_number_their_parameters_row_by_row() {
        let cols = ["page".to_string(), "n".to_string()];
        assert_eq!(
            insert_values(&t(), &cols, &[], 2),
            "INSERT INTO \"counts\" (\"page\", \"n\") VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_values(&t(), &cols, &["page".to_string()], 1),
            "INSERT INTO \"counts\" (\"page\", \"n\") VALUES ($1, $2) ON CONFLICT (\"page\") \
             DO UPDATE SET \"n\" = EXCLUDED.\"n\""
        );
        assert_eq!(rows_per_statement(500, 1000), 65);
        assert_eq!(rows_per_statement(500, 2), 500);
    }

    #[test]
    fn copy_rows_are_escaped_one_line_each() {
        let mut out = BytesMut::new();
        let cells = [Some("a\tb\\c"), None, Some("x\r\ny"), Some(""), Some("\\N")];
        push_copy_row(&mut out, cells.into_iter());
        push_copy_row(&mut out, [Some("/p")].into_iter());
        assert_eq!(&out[..], &b"a\\tb\\\\c\t\\N\tx\\r\\ny\t\t\\\\N\n/p\n"[..]);
        let cols = ["page".to_string(), "n".to_string()];
        assert_eq!(
            copy_into(&t(), &cols),
            "COPY \"counts\" (\"page\", \"n\") FROM STDIN"
        );
    }
}
