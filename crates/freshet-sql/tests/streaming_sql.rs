//! Golden tests of SQL over streams: stateless queries, running aggregates, event-time windows
//! and joins with static tables, each with one and several workers.

use freshet::{StreamingConfig, StreamingContext};
use freshet_sql::{SqlContext, StreamOptions};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    ms: u64,
    latency: f64,
}

fn click(user: &str, page: &str, ms: u64, latency: f64) -> Click {
    Click {
        user: user.into(),
        page: page.into(),
        ms,
        latency,
    }
}

fn batches() -> Vec<Vec<Click>> {
    vec![
        vec![
            click("ann", "/home", 1_000, 10.0),
            click("bob", "/cart", 1_500, 30.0),
            click("ann", "/cart", 2_200, 20.0),
        ],
        vec![
            click("cid", "/home", 3_100, 5.0),
            click("bob", "/home", 3_900, 15.0),
        ],
        vec![],
        vec![click("ann", "/pay", 7_000, 40.0)],
    ]
}

fn context(workers: usize) -> StreamingContext {
    StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(workers))
        .expect("a valid configuration")
}

/// Runs `query` over the clicks with `workers` workers: the records of every batch, sorted.
fn run<T>(workers: usize, options: StreamOptions, query: &str) -> Vec<Vec<T>>
where
    T: freshet::Data + std::fmt::Debug,
{
    let ctx = context(workers);
    let clicks = ctx.queue_stream(batches());
    let sql = SqlContext::new();
    sql.register_stream_with("clicks", &clicks, options)
        .expect("registered");
    let out = sql
        .sql_stream(query)
        .expect("the query plans")
        .records::<T>()
        .collect_batches();
    ctx.run_available_now().expect("the run completes");
    sorted(out.batches().into_iter().map(|(_, b)| b).collect())
}

/// Each batch's records in the order of their `Debug` text (the rows carry floats).
fn sorted<T: std::fmt::Debug>(batches: Vec<Vec<T>>) -> Vec<Vec<T>> {
    batches
        .into_iter()
        .map(|mut b| {
            b.sort_by_key(|r| format!("{r:?}"));
            b
        })
        .collect()
}

fn each_worker_count<T>(query: &str, options: StreamOptions) -> Vec<Vec<T>>
where
    T: freshet::Data + PartialEq + std::fmt::Debug,
{
    let one = run::<T>(1, options.clone(), query);
    for workers in [2, 3] {
        assert_eq!(
            run::<T>(workers, options.clone(), query),
            one,
            "{workers} workers give what one gives"
        );
    }
    one
}

#[test]
fn a_filter_and_projection_give_each_batch_its_rows() {
    let out = each_worker_count::<(String, String, f64)>(
        "SELECT upper(user) AS who, page, latency * 2 AS twice FROM clicks WHERE latency >= 15",
        StreamOptions::new(),
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        out,
        vec![
            vec![(s("ANN"), s("/cart"), 40.0), (s("BOB"), s("/cart"), 60.0)],
            vec![(s("BOB"), s("/home"), 30.0)],
            vec![],
            vec![(s("ANN"), s("/pay"), 80.0)],
        ]
    );
}

#[test]
fn a_group_by_is_a_running_aggregate_emitting_the_groups_each_batch_updates() {
    let out = each_worker_count::<(String, i64, f64, f64, f64, f64)>(
        "SELECT page, count(*) AS n, sum(latency), min(latency), max(latency), avg(latency) \
         FROM clicks GROUP BY page",
        StreamOptions::new(),
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        out,
        vec![
            vec![
                (s("/cart"), 2, 50.0, 20.0, 30.0, 25.0),
                (s("/home"), 1, 10.0, 10.0, 10.0, 10.0),
            ],
            vec![(s("/home"), 3, 30.0, 5.0, 15.0, 10.0)],
            vec![],
            vec![(s("/pay"), 1, 40.0, 40.0, 40.0, 40.0)],
        ]
    );
}

#[test]
fn having_and_expressions_of_groups_run_above_the_running_aggregate() {
    let out = each_worker_count::<(String, i64)>(
        "SELECT concat(user, '!') AS who, count(*) * 10 AS score FROM clicks \
         GROUP BY user HAVING count(*) >= 2",
        StreamOptions::new(),
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        out,
        vec![
            vec![(s("ann!"), 20)],
            vec![(s("bob!"), 20)],
            vec![],
            vec![(s("ann!"), 30)],
        ]
    );
}

/// A windowed query's output with one worker, checking that 2 and 3 workers emit the same
/// windows: each worker's partition holds the watermark back by its own event times, so
/// *when* a window closes depends on how records are spread (as in Flink), not what it holds.
fn windows<T>(query: &str, options: StreamOptions) -> Vec<Vec<T>>
where
    T: freshet::Data + PartialEq + std::fmt::Debug,
{
    let one = run::<T>(1, options.clone(), query);
    let all = |batches: Vec<Vec<T>>| sorted(vec![batches.into_iter().flatten().collect()]);
    for workers in [2, 3] {
        assert_eq!(
            all(run::<T>(workers, options.clone(), query)),
            all(one.clone()),
            "{workers} workers emit the windows one emits"
        );
    }
    one
}

#[test]
fn tumbling_windows_are_emitted_once_when_the_watermark_passes_their_end() {
    // (window start, window end, page, count)
    let out = windows::<(i64, i64, String, i64)>(
        "SELECT CAST(tumble(ms, INTERVAL '2' SECOND)['start'] AS BIGINT) AS s, \
         CAST(tumble(ms, INTERVAL '2' SECOND)['end'] AS BIGINT) AS e, page, count(*) AS n \
         FROM clicks GROUP BY tumble(ms, INTERVAL '2' SECOND), page",
        StreamOptions::new(),
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        out,
        vec![
            // The watermark reaches 2.2 s in the first batch: [0, 2 s) closes.
            vec![(0, 2_000, s("/cart"), 1), (0, 2_000, s("/home"), 1)],
            // 3.9 s: [2 s, 4 s) stays open, through the empty batch.
            vec![],
            vec![],
            vec![(2_000, 4_000, s("/cart"), 1), (2_000, 4_000, s("/home"), 2)],
            // The end of the input closes the last window.
            vec![(6_000, 8_000, s("/pay"), 1)],
        ]
    );
}

#[test]
fn hopping_and_session_windows_and_an_allowed_delay() {
    // Windows of 2 s every second; the watermark trails by 1 s.
    let out = windows::<(i64, i64, f64)>(
        "SELECT CAST(w['start'] AS BIGINT), CAST(w['end'] AS BIGINT), sum(latency) FROM \
         (SELECT hop(ms, INTERVAL '1' SECOND, INTERVAL '2' SECOND) AS w, latency FROM clicks) \
         GROUP BY w",
        StreamOptions::new().allowed_delay(Duration::from_secs(1)),
    );
    let flat: Vec<(i64, i64, f64)> = out.into_iter().flatten().collect();
    assert_eq!(
        sorted(vec![flat]),
        vec![vec![
            (0, 2_000, 40.0),
            (1_000, 3_000, 60.0),
            (2_000, 4_000, 40.0),
            (3_000, 5_000, 20.0),
            (6_000, 8_000, 40.0),
            (7_000, 9_000, 40.0),
        ]]
    );
    // Sessions of each user, closed by a gap of 1.5 s.
    let out = windows::<(String, i64, i64, i64)>(
        "SELECT user, CAST(session(ms, INTERVAL '1.5' SECOND)['start'] AS BIGINT), \
         CAST(session(ms, INTERVAL '1.5' SECOND)['end'] AS BIGINT), count(*) \
         FROM clicks GROUP BY user, session(ms, INTERVAL '1.5' SECOND)",
        StreamOptions::new(),
    );
    let flat: Vec<(String, i64, i64, i64)> = out.into_iter().flatten().collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        sorted(vec![flat]),
        vec![vec![
            (s("ann"), 1_000, 3_700, 2),
            (s("ann"), 7_000, 8_500, 1),
            (s("bob"), 1_500, 3_000, 1),
            (s("bob"), 3_900, 5_400, 1),
            (s("cid"), 3_100, 4_600, 1),
        ]]
    );
}

#[test]
fn a_group_by_over_a_processing_time_window_aggregates_each_window_afresh() {
    let ms = Duration::from_millis;
    // Windows of 2 batches every batch: [1], [1, 2], [2, 3], [3, 4].
    let out = each_worker_count::<(String, i64)>(
        "SELECT page, count(*) AS n FROM clicks GROUP BY page",
        StreamOptions::new().window(ms(20), ms(10)),
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        out,
        vec![
            vec![(s("/cart"), 2), (s("/home"), 1)],
            vec![(s("/cart"), 2), (s("/home"), 3)],
            vec![(s("/home"), 2)],
            vec![(s("/pay"), 1)],
        ]
    );
}
