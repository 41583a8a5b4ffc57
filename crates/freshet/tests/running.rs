//! Running aggregates (Structured Streaming's update mode): totals since the start, emitted for
//! the keys of each batch only. Golden results with 1 and 4 workers, and the totals equal the
//! complete-mode totals of `update_state_by_key` for the keys emitted.

use freshet::testing::run_operation;
use freshet::DStream;

fn words(batches: &[&[&str]]) -> Vec<Vec<String>> {
    batches
        .iter()
        .map(|b| b.iter().map(|w| w.to_string()).collect())
        .collect()
}

fn w(s: &str, n: u64) -> (String, u64) {
    (s.to_string(), n)
}

#[test]
fn running_word_count_emits_the_keys_that_changed() {
    let input = words(&[&["a", "b", "a"], &[], &["b", "c"], &["a"]]);
    for workers in [1, 4] {
        let out = run_operation(input.clone(), workers, |s: DStream<String>| {
            s.running_count_by_value()
        })
        .unwrap();
        assert_eq!(
            out.sorted(),
            vec![
                vec![w("a", 2), w("b", 1)],
                vec![],
                vec![w("b", 2), w("c", 1)],
                vec![w("a", 3)],
            ],
            "{workers} workers"
        );
    }
}

#[test]
fn running_totals_agree_with_complete_mode() {
    let input = words(&[&["x", "y"], &["x", "x"], &["z"], &[], &["y"]]);
    let running = run_operation(input.clone(), 2, |s: DStream<String>| {
        s.map(|k| (k, 1u64)).running_reduce_by_key(|a, b| a + b)
    })
    .unwrap()
    .sorted();
    let complete = run_operation(input, 2, |s: DStream<String>| {
        s.map(|k| (k, 1u64))
            .update_state_by_key(|vs: Vec<u64>, old: Option<u64>| {
                Some(old.unwrap_or(0) + vs.iter().sum::<u64>())
            })
    })
    .unwrap()
    .sorted();
    for (batch, (r, c)) in running.iter().zip(&complete).enumerate() {
        for kv in r {
            assert!(c.contains(kv), "batch {batch}: {kv:?} not in {c:?}");
        }
    }
    assert_eq!(
        complete.last().unwrap(),
        &vec![w("x", 3), w("y", 2), w("z", 1)]
    );
    assert_eq!(running.last().unwrap(), &vec![w("y", 2)]);
}
