//! Property tests: the incremental `reduce_by_key_and_window_inv` equals recomputing every
//! window from scratch (a model in this file, and `reduce_by_key_and_window`), for random
//! inputs, lengths and slides; 1 worker equals 4 workers.

use freshet::{ManualClock, StreamingConfig, StreamingContext};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const I: u64 = 100;

type Batches = Vec<Vec<(u8, i64)>>;

/// Recomputes every window: at batch k (1-based) a window ends when k is a multiple of
/// `slide` batches and holds batches (k - len, k]; the windowed stream has no other batches.
fn model(batches: &Batches, len: usize, slide: usize) -> Vec<Vec<(u8, i64)>> {
    (1..=batches.len())
        .filter(|k| k % slide == 0)
        .map(|k| {
            let mut sums: BTreeMap<u8, i64> = BTreeMap::new();
            for b in &batches[k.saturating_sub(len)..k] {
                for (key, v) in b {
                    *sums.entry(*key).or_default() += v;
                }
            }
            sums.into_iter().collect()
        })
        .collect()
}

/// Runs both window forms (and a filtered incremental one) over `batches`.
#[allow(clippy::type_complexity)]
fn run(
    workers: usize,
    batches: &Batches,
    len: usize,
    slide: usize,
) -> (
    Vec<Vec<(u8, i64)>>,
    Vec<Vec<(u8, i64)>>,
    Vec<Vec<(u8, i64)>>,
) {
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(I))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    let d = ctx.queue_stream(batches.clone());
    let (l, s) = (
        Duration::from_millis(I * len as u64),
        Duration::from_millis(I * slide as u64),
    );
    let inc = d
        .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, l, s)
        .collect_batches();
    let filtered = d
        .reduce_by_key_and_window_inv_filtered(
            |a, b| a + b,
            |a, b| a - b,
            l,
            s,
            |kv: &(u8, i64)| kv.1 != 0,
        )
        .collect_batches();
    let full = d
        .reduce_by_key_and_window(|a, b| a + b, l, s)
        .collect_batches();
    ctx.run_available_now().unwrap();
    (
        inc.sorted_batches(),
        full.sorted_batches(),
        filtered.sorted_batches(),
    )
}

fn batches() -> impl Strategy<Value = Batches> {
    prop::collection::vec(prop::collection::vec((0u8..6, -3i64..4), 0..8), 1..14)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_recomputed(
        batches in batches(),
        len in 1usize..6,
        slide in 1usize..4,
    ) {
        let expected = model(&batches, len, slide);
        let (inc, full, filtered) = run(1, &batches, len, slide);
        prop_assert_eq!(&inc, &expected);
        prop_assert_eq!(&full, &expected);
        let nonzero: Vec<Vec<(u8, i64)>> = expected
            .iter()
            .map(|b| b.iter().copied().filter(|kv| kv.1 != 0).collect())
            .collect();
        prop_assert_eq!(&filtered, &nonzero);
        // 4 workers: the same windows.
        let (inc4, full4, filtered4) = run(4, &batches, len, slide);
        prop_assert_eq!(&inc4, &expected);
        prop_assert_eq!(&full4, &expected);
        prop_assert_eq!(&filtered4, &nonzero);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Windows, count windows and keyed state give the same results on 1 and 4 workers.
    #[test]
    fn one_worker_equals_four(batches in batches(), len in 1usize..5) {
        let go = |workers: usize| {
            let ctx = StreamingContext::with_clock(
                StreamingConfig::new(Duration::from_millis(I)).workers(workers),
                Arc::new(ManualClock::new(0)),
            )
            .unwrap();
            let d = ctx.queue_stream(batches.clone());
            let l = Duration::from_millis(I * len as u64);
            let win = d.window(l, Duration::from_millis(I)).collect_batches();
            let groups = d
                .group_by_key_and_window(l, l)
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .collect_batches();
            let counts = d.count_by_window(l, l).collect_batches();
            let by_value = d.count_by_value_and_window(l, Duration::from_millis(I)).collect_batches();
            let cw = d.count_window_by_key(2, 1).collect_batches();
            let state = d
                .update_state_by_key(|new: Vec<i64>, old: Option<i64>| {
                    let s = old.unwrap_or(0) + new.iter().sum::<i64>();
                    (s.abs() < 5).then_some(s)
                })
                .collect_batches();
            ctx.run_available_now().unwrap();
            (
                win.sorted_batches(),
                groups.sorted_batches(),
                counts.sorted_batches(),
                by_value.sorted_batches(),
                cw.sorted_batches(),
                state.sorted_batches(),
            )
        };
        prop_assert_eq!(go(1), go(4));
    }
}
