//! A client of the test database for the tests' own queries, on a runtime of its own.

use tokio_postgres::{Client, NoTls, Row};

/// Where the tests' database is.
pub const CONN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// A connection to the test database (started when it is down).
pub struct Db {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
}

impl Db {
    /// Connects, starting PostgreSQL first when nothing listens on its port.
    pub fn connect() -> Db {
        super::services::postgres();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(CONN, NoTls).await.unwrap();
            tokio::spawn(conn);
            client
        });
        Db { rt, client }
    }

    /// Runs `sql` (several statements allowed), panicking with it on failure.
    pub fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The rows of `sql`, panicking with it on failure.
    #[allow(dead_code)]
    pub fn query(&self, sql: &str) -> Vec<Row> {
        self.rt
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Drops `table` and the sink's batch markers of it.
    pub fn drop_table(&self, table: &str) {
        self.exec(&format!(
            "DROP TABLE IF EXISTS {table}; DO $$ BEGIN IF to_regclass('freshet_sink_batches') \
             IS NOT NULL THEN DELETE FROM freshet_sink_batches WHERE target = '\"{table}\"'; \
             END IF; END $$"
        ));
    }
}
