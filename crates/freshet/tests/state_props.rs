//! Property tests of keyed state: 1 worker equals 4 workers, even for functions that depend on
//! the order of a key's records (records are processed in arrival order: batch, source worker,
//! position), and `update_state_by_key` equals a model.

use freshet::{ManualClock, State, StateSpec, StreamingConfig, StreamingContext};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

type Batches = Vec<Vec<(u8, i64)>>;
type Outputs = (
    Vec<Vec<(u8, Vec<i64>)>>,
    Vec<Vec<(u8, i64, Vec<i64>)>>,
    Vec<Vec<(u8, Vec<i64>)>>,
);

/// The last three values of a key, oldest first.
fn push_last3(mut s: Vec<i64>, v: i64) -> Vec<i64> {
    s.push(v);
    if s.len() > 3 {
        s.remove(0);
    }
    s
}

fn run(workers: usize, batches: &Batches) -> Outputs {
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    let d = ctx.queue_stream(batches.clone());
    let updated = d
        .update_state_by_key(|new: Vec<i64>, old: Option<Vec<i64>>| {
            let s = new.into_iter().fold(old.unwrap_or_default(), push_last3);
            // Keys whose last value is 0 are removed.
            (s.last() != Some(&0)).then_some(s)
        })
        .collect_batches();
    let spec = StateSpec::function(|k: &u8, v: Option<i64>, st: &mut State<Vec<i64>>| {
        let v = v.unwrap_or(0);
        let s = push_last3(st.get().cloned().unwrap_or_default(), v);
        if !st.is_timing_out() {
            st.update(s.clone());
        }
        (*k, v, s)
    })
    .timeout(Duration::from_millis(200));
    let mapped = d.map_with_state(spec);
    let values = mapped.values().collect_batches();
    let snaps = mapped.state_snapshots().collect_batches();
    ctx.run_available_now().unwrap();
    (
        updated.sorted_batches(),
        values.sorted_batches(),
        snaps.sorted_batches(),
    )
}

/// `update_state_by_key` computed directly.
fn model(batches: &Batches) -> Vec<Vec<(u8, Vec<i64>)>> {
    let mut state: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
    batches
        .iter()
        .map(|b| {
            let mut new: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
            for (k, v) in b {
                new.entry(*k).or_default().push(*v);
            }
            let keys: BTreeSet<u8> = state.keys().chain(new.keys()).copied().collect();
            for k in keys {
                let s = new
                    .get(&k)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .fold(state.remove(&k).unwrap_or_default(), push_last3);
                if s.last() != Some(&0) {
                    state.insert(k, s);
                }
            }
            state.iter().map(|(k, s)| (*k, s.clone())).collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn one_worker_equals_four_and_the_model(
        batches in prop::collection::vec(prop::collection::vec((0u8..5, -2i64..3), 0..12), 1..10),
    ) {
        let one = run(1, &batches);
        prop_assert_eq!(&one.0, &model(&batches));
        let four = run(4, &batches);
        prop_assert_eq!(one, four);
    }
}
