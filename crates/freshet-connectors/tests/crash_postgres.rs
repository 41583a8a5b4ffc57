//! The crash test of the PostgreSQL sink: the `postgres_counts` example (page views of a
//! generated click stream, upserted as running counts, and every click appended) is killed
//! with SIGKILL at random moments, 20 times, and restarted from its checkpoint. At the end its
//! tables must equal those of a run that is never interrupted: the same count per page, and
//! every click exactly once.
#![cfg(feature = "postgres")]

mod services;

use freshet::source::generator::click;
use freshet::testing::crash::{example_binary, Rng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RATE: u64 = 1_000;
const LIMIT: u64 = 20_000;

mod pg_client;

use pg_client::{Db, CONN};

impl Db {
    /// Removes the tables of `table` and their markers.
    fn reset(&self, table: &str) {
        self.drop_table(table);
        self.drop_table(&format!("{table}_clicks"));
    }

    /// The counts table (`None` while it does not exist).
    fn counts(&self, table: &str) -> Option<BTreeMap<String, i64>> {
        let rows = self
            .rt
            .block_on(
                self.client
                    .query(&format!("SELECT page, views FROM {table}"), &[]),
            )
            .ok()?;
        Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// (clicks, distinct sequence numbers, smallest, largest) of the clicks table.
    fn clicks(&self, table: &str) -> (i64, i64, Option<i64>, Option<i64>) {
        let row = self
            .rt
            .block_on(self.client.query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM {table}_clicks"
                ),
                &[],
            ))
            .unwrap();
        (row.get(0), row.get(1), row.get(2), row.get(3))
    }
}

fn spawn(bin: &Path, table: &str, checkpoint: &Path) -> Child {
    Command::new(bin)
        .args(["--connection", CONN, "--table", table])
        .args(["--checkpoint", checkpoint.to_str().unwrap()])
        .args(["--batch-ms", "50", "--workers", "2"])
        .args(["--rate", &RATE.to_string(), "--limit", &LIMIT.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the counts in `table` equal `expected` and every click is in, or two minutes
/// pass.
fn wait_for(db: &Db, table: &str, expected: &BTreeMap<String, i64>, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        // Both outputs of the last batch are committed (in either order).
        if db.counts(table).as_ref() == Some(expected) && db.clicks(table).0 == LIMIT as i64 {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the pipeline writing {table} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn killed_at_random_moments_its_tables_equal_an_uninterrupted_runs() {
    let bin = example_binary("freshet-connectors", "postgres_counts");
    let db = Db::connect();
    let pid = std::process::id();
    let (killed, steady) = (format!("crash_killed_{pid}"), format!("crash_steady_{pid}"));
    db.reset(&killed);
    db.reset(&steady);
    let root = tempfile::tempdir().unwrap();
    let (ck_killed, ck_steady) = (root.path().join("killed"), root.path().join("steady"));
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for seq in 0..LIMIT {
        *expected.entry(click(seq).page).or_default() += 1;
    }

    // The uninterrupted run goes on beside the killed one.
    let mut steady_child = spawn(&bin, &steady, &ck_steady);
    let mut rng = Rng(0x00C0_FFEE_5EED_0020);
    let mut previous = 0i64;
    for kill in 0..20 {
        let mut child = spawn(&bin, &killed, &ck_killed);
        let run_for = Duration::from_millis(200 + rng.below(800));
        let started = Instant::now();
        while started.elapsed() < run_for {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("run {kill} exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What is committed is consistent at every kill: each click once, counts no higher
        // than the clicks written, and nothing goes backwards.
        if db.counts(&killed).is_some() {
            let (n, distinct, _, _) = db.clicks(&killed);
            assert_eq!(n, distinct, "after kill {kill}: a click was written twice");
            assert!(
                n >= previous,
                "after kill {kill}: clicks went from {previous} to {n}"
            );
            previous = n;
        }
    }
    assert!(previous > 0, "the killed runs wrote nothing");
    assert!(
        previous < LIMIT as i64,
        "the killed runs finished before the kills ended: raise LIMIT"
    );

    let mut child = spawn(&bin, &killed, &ck_killed);
    let reached = wait_for(&db, &killed, &expected, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let reached_steady = wait_for(&db, &steady, &expected, &mut steady_child);
    steady_child.kill().unwrap();
    steady_child.wait().unwrap();
    assert!(reached, "the killed run counted {:?}", db.counts(&killed));
    assert!(
        reached_steady,
        "the steady run counted {:?}",
        db.counts(&steady)
    );
    assert_eq!(db.counts(&killed), db.counts(&steady));
    let all = (LIMIT as i64, LIMIT as i64, Some(0), Some(LIMIT as i64 - 1));
    assert_eq!(db.clicks(&killed), all, "the killed run's clicks");
    assert_eq!(db.clicks(&steady), all, "the steady run's clicks");
    db.reset(&killed);
    db.reset(&steady);
}
