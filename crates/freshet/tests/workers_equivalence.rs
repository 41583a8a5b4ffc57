//! The same pipeline gives the same results with 1 worker and with 4 workers: narrow, keyed,
//! join, aggregate and transform steps, on fixed input (checked against hand-written results
//! too) and on random input (checked against a model computed with plain Rust).

mod common;

use common::*;
use freshet::{Dataset, StreamingContext};
use proptest::prelude::*;
use std::collections::BTreeMap;

type Visit = (String, (String, u32));

/// Sorted batches of records of type `T`.
type Batches<T> = Vec<Vec<T>>;
/// A user's visits and alert, either possibly missing.
type VisitsAlert = (Option<usize>, Option<String>);
/// A user's pages and alerts.
type PagesAlerts = (Vec<String>, Vec<String>);

/// Every output of the pipeline, batch by batch, each batch sorted.
#[derive(Debug, PartialEq, Eq)]
struct Results {
    time_per_user: Batches<(String, u32)>,
    pages: Batches<(String, u64)>,
    users_with_names: Batches<(String, (u32, Option<String>))>,
    visits_vs_alerts: Batches<(String, VisitsAlert)>,
    cogrouped: Batches<(String, PagesAlerts)>,
    distinct_users: Batches<u64>,
    longest: Batches<u32>,
    spread: Batches<(String, u32)>,
}

fn s(x: &str) -> String {
    x.to_string()
}

fn run_pipeline(
    workers: usize,
    lines: Batches<String>,
    alerts: Batches<(String, String)>,
) -> Results {
    let n = lines.len().max(alerts.len()) as u64 + 1;
    let (ctx, clock) = context(workers);
    let names = Dataset::parallelize(
        vec![
            (s("ann"), s("Ann A.")),
            (s("bob"), s("Bob B.")),
            (s("eve"), s("Eve E.")),
        ],
        2,
    );
    let visits: freshet::DStream<Visit> = ctx
        .queue_stream(lines)
        .filter(|l: &String| !l.trim().is_empty())
        .flat_map(|l: String| {
            // "user page ms"; malformed lines are dropped.
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [u, p, ms] => ms
                    .parse()
                    .ok()
                    .map(|ms| (u.to_string(), (p.to_string(), ms))),
                _ => None,
            }
        });
    let time_per_user = visits.map_values(|(_, ms)| ms).reduce_by_key(|a, b| a + b);
    let pages = visits.map(|(_, (p, _))| p).count_by_value();
    let users_with_names = time_per_user.transform(move |b| b.left_outer_join(&names));
    let alert_stream = ctx.queue_stream(alerts);
    let visits_vs_alerts = visits
        .group_by_key()
        .map_values(|v| v.len())
        .full_outer_join(&alert_stream);
    let cogrouped = visits
        .map_values(|(p, _)| p)
        .cogroup(&alert_stream)
        .map_values(|(mut a, mut b)| {
            a.sort();
            b.sort();
            (a, b)
        });
    let distinct_users = visits.map(|(u, _)| u).count_by_value().count();
    let longest = visits.map(|(_, (_, ms))| ms).reduce(u32::max);
    let spread = visits
        .repartition(3)
        .map(|(u, (_, ms))| (u, ms))
        .combine_by_key(|v| v, |a, v| a.max(v), |a, b| a.max(b))
        .union(&time_per_user.map_values(|t| t + 1_000_000));

    let out = (
        time_per_user.collect_batches(),
        pages.collect_batches(),
        users_with_names.collect_batches(),
        visits_vs_alerts.collect_batches(),
        cogrouped.collect_batches(),
        distinct_users.collect_batches(),
        longest.collect_batches(),
        spread.collect_batches(),
    );
    run_batches(&ctx, &clock, n);
    Results {
        time_per_user: sorted(&out.0, n),
        pages: sorted(&out.1, n),
        users_with_names: sorted(&out.2, n),
        visits_vs_alerts: sorted(&out.3, n),
        cogrouped: sorted(&out.4, n),
        distinct_users: sorted(&out.5, n),
        longest: sorted(&out.6, n),
        spread: sorted(&out.7, n),
    }
}

fn fixed_input() -> (Batches<String>, Batches<(String, String)>) {
    let lines = vec![
        strings(&[
            "ann /home 10",
            "bob /home 5",
            "ann /cart 30",
            "",
            "garbage line",
            "zed /help 7",
            "ann /home 1",
        ]),
        vec![],
        strings(&["bob /cart 2", "bob /cart 2", "eve /home 40"]),
    ];
    let alerts = vec![
        vec![(s("ann"), s("slow")), (s("kim"), s("spam"))],
        vec![(s("bob"), s("idle"))],
        vec![],
    ];
    (lines, alerts)
}

#[test]
fn one_and_four_workers_agree_on_a_pipeline() {
    let (lines, alerts) = fixed_input();
    let one = run_pipeline(1, lines.clone(), alerts.clone());
    let four = run_pipeline(4, lines, alerts);
    assert_eq!(one, four);

    // And the results are right (written by hand).
    assert_eq!(
        one.time_per_user,
        vec![
            vec![(s("ann"), 41), (s("bob"), 5), (s("zed"), 7)],
            vec![],
            vec![(s("bob"), 4), (s("eve"), 40)],
            vec![],
        ]
    );
    assert_eq!(
        one.pages,
        vec![
            vec![(s("/cart"), 1), (s("/help"), 1), (s("/home"), 3)],
            vec![],
            vec![(s("/cart"), 2), (s("/home"), 1)],
            vec![],
        ]
    );
    assert_eq!(
        one.users_with_names,
        vec![
            vec![
                (s("ann"), (41, Some(s("Ann A.")))),
                (s("bob"), (5, Some(s("Bob B.")))),
                (s("zed"), (7, None)),
            ],
            vec![],
            vec![
                (s("bob"), (4, Some(s("Bob B.")))),
                (s("eve"), (40, Some(s("Eve E.")))),
            ],
            vec![],
        ]
    );
    assert_eq!(
        one.visits_vs_alerts,
        vec![
            vec![
                (s("ann"), (Some(3), Some(s("slow")))),
                (s("bob"), (Some(1), None)),
                (s("kim"), (None, Some(s("spam")))),
                (s("zed"), (Some(1), None)),
            ],
            vec![(s("bob"), (None, Some(s("idle"))))],
            vec![(s("bob"), (Some(2), None)), (s("eve"), (Some(1), None))],
            vec![],
        ]
    );
    assert_eq!(
        one.cogrouped[0],
        vec![
            (
                s("ann"),
                (strings(&["/cart", "/home", "/home"]), strings(&["slow"]))
            ),
            (s("bob"), (strings(&["/home"]), vec![])),
            (s("kim"), (vec![], strings(&["spam"]))),
            (s("zed"), (strings(&["/help"]), vec![])),
        ]
    );
    assert_eq!(one.distinct_users, vec![vec![3], vec![0], vec![2], vec![0]]);
    assert_eq!(one.longest, vec![vec![30], vec![], vec![40], vec![]]);
    assert_eq!(
        one.spread[2],
        vec![
            (s("bob"), 2),
            (s("bob"), 1_000_004),
            (s("eve"), 40),
            (s("eve"), 1_000_040)
        ]
    );
}

/// The model: per batch, the sum per key, the sorted values per key, and the self-join size
/// per key, computed with plain Rust.
type Model = (
    Vec<Vec<(u8, i64)>>,
    Vec<Vec<(u8, Vec<i16>)>>,
    Vec<Vec<(u8, usize)>>,
);

fn model(batches: &[Vec<(u8, i16)>]) -> Model {
    let mut sums = Vec::new();
    let mut groups = Vec::new();
    let mut pairs = Vec::new();
    for b in batches {
        let mut g: BTreeMap<u8, Vec<i16>> = BTreeMap::new();
        for (k, v) in b {
            g.entry(*k).or_default().push(*v);
        }
        sums.push(
            g.iter()
                .map(|(k, vs)| (*k, vs.iter().map(|v| *v as i64).sum()))
                .collect(),
        );
        pairs.push(g.iter().map(|(k, vs)| (*k, vs.len() * vs.len())).collect());
        groups.push(
            g.into_iter()
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .collect(),
        );
    }
    (sums, groups, pairs)
}

fn run_random(
    ctx: &StreamingContext,
    clock: &freshet::ManualClock,
    batches: Vec<Vec<(u8, i16)>>,
) -> Model {
    let n = batches.len() as u64;
    let input = ctx.queue_stream(batches);
    let sums = input
        .map_values(|v| v as i64)
        .reduce_by_key(|a, b| a + b)
        .collect_batches();
    let groups = input
        .group_by_key()
        .map_values(|mut v| {
            v.sort();
            v
        })
        .collect_batches();
    let pairs = input
        .join(&input)
        .map(|(k, _)| (k, 1usize))
        .reduce_by_key(|a, b| a + b)
        .collect_batches();
    run_batches(ctx, clock, n);
    (sorted(&sums, n), sorted(&groups, n), sorted(&pairs, n))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_input_same_results_on_1_and_4_workers(
        batches in prop::collection::vec(
            prop::collection::vec((0u8..12, any::<i16>()), 0..40),
            1..4,
        )
    ) {
        let expected = model(&batches);
        for workers in WORKERS {
            let (ctx, clock) = context(workers);
            let got = run_random(&ctx, &clock, batches.clone());
            prop_assert_eq!(&got, &expected, "with {} worker(s)", workers);
        }
    }
}
