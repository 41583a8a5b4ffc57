//! Property tests of event-time windows: when records arrive out of order but within the
//! allowed delay, no record is late and the windows (all emitted by the end of the input) equal
//! a model computed from the set of records, whatever the arrival order, batching and number of
//! workers.

use freshet::event_time::{EventWindow, WatermarkOptions, WindowSpec};
use freshet::{ManualClock, StreamingConfig, StreamingContext};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

type Rec = (u8, u64);
type Out = (u8, EventWindow, u64);

const DELAY: u64 = 40;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The windows of `spec` over `recs`, counted per key, computed directly.
fn model(recs: &[Rec], spec: WindowSpec) -> Vec<Out> {
    let mut counts: BTreeMap<(u8, EventWindow), u64> = BTreeMap::new();
    match spec {
        WindowSpec::Tumbling(size) => {
            let size = size.as_millis() as u64;
            for &(k, ts) in recs {
                let start = ts - ts % size;
                *counts
                    .entry((
                        k,
                        EventWindow {
                            start,
                            end: start + size,
                        },
                    ))
                    .or_default() += 1;
            }
        }
        WindowSpec::Sliding { size, slide } => {
            let (size, slide) = (size.as_millis() as u64, slide.as_millis() as u64);
            for &(k, ts) in recs {
                let mut end = ts - ts % slide + slide;
                while end <= ts + size {
                    if end > ts {
                        let w = EventWindow {
                            start: end.saturating_sub(size),
                            end,
                        };
                        *counts.entry((k, w)).or_default() += 1;
                    }
                    end += slide;
                }
            }
        }
        WindowSpec::Session(gap) => {
            let gap = gap.as_millis() as u64;
            let mut by_key: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
            for &(k, ts) in recs {
                by_key.entry(k).or_default().push(ts);
            }
            for (k, mut tss) in by_key {
                tss.sort();
                let (mut start, mut last, mut n) = (tss[0], tss[0], 0);
                for ts in tss {
                    if ts >= last + gap {
                        counts.insert(
                            (
                                k,
                                EventWindow {
                                    start,
                                    end: last + gap,
                                },
                            ),
                            n,
                        );
                        (start, n) = (ts, 0);
                    }
                    last = ts;
                    n += 1;
                }
                counts.insert(
                    (
                        k,
                        EventWindow {
                            start,
                            end: last + gap,
                        },
                    ),
                    n,
                );
            }
        }
    }
    counts.into_iter().map(|((k, w), n)| (k, w, n)).collect()
}

/// Runs the windows over `batches`; returns every window emitted (sorted) and the late count.
fn run(workers: usize, batches: Vec<Vec<Rec>>, spec: WindowSpec) -> (Vec<Out>, u64) {
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(ms(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    let counts = ctx
        .queue_stream(batches)
        .with_event_time(|r: &Rec| r.1, WatermarkOptions::new(ms(DELAY)))
        .count_by_key_and_window(spec)
        .unwrap();
    let out = counts.windows().collect_batches();
    ctx.run_available_now().unwrap();
    let mut all: Vec<Out> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    all.sort();
    (all, counts.late_count())
}

/// Arrival order: by event time plus a jitter of at most half the delay, so that every record
/// arrives at most `DELAY / 2` after a record with a larger event time: never late.
fn arrival(recs: &[Rec], jitter: &[u64], cuts: &[usize]) -> Vec<Vec<Rec>> {
    let mut order: Vec<(u64, Rec)> = recs
        .iter()
        .zip(jitter.iter().cycle())
        .map(|(r, j)| (r.1 + j % (DELAY / 2 + 1), *r))
        .collect();
    order.sort();
    let mut batches = Vec::new();
    let mut rest: Vec<Rec> = order.into_iter().map(|(_, r)| r).collect();
    for &c in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        if c == 0 {
            batches.push(Vec::new()); // an empty batch, then one record
        }
        let tail = rest.split_off(c.max(1).min(rest.len()));
        batches.push(std::mem::replace(&mut rest, tail));
    }
    batches
}

fn spec() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        (1u64..60).prop_map(|s| WindowSpec::tumbling(ms(s))),
        (1u64..20, 1u64..4).prop_map(|(s, n)| WindowSpec::sliding(ms(s * n), ms(s))),
        (1u64..30).prop_map(|g| WindowSpec::session(ms(g))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn results_do_not_depend_on_arrival_order_within_the_delay(
        recs in prop::collection::vec((0u8..4, 0u64..400), 1..60),
        jitter_a in prop::collection::vec(0u64..1000, 1..30),
        jitter_b in prop::collection::vec(0u64..1000, 1..30),
        cuts_a in prop::collection::vec(0usize..10, 1..6),
        cuts_b in prop::collection::vec(0usize..10, 1..6),
        spec in spec(),
    ) {
        let expected = model(&recs, spec);
        let (a, late_a) = run(1, arrival(&recs, &jitter_a, &cuts_a), spec);
        prop_assert_eq!(late_a, 0);
        prop_assert_eq!(&a, &expected);
        let (b, late_b) = run(4, arrival(&recs, &jitter_b, &cuts_b), spec);
        prop_assert_eq!(late_b, 0);
        prop_assert_eq!(&b, &expected);
    }
}
