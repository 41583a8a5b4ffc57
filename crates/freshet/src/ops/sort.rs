//! Ordering: `sort_by_key` (range partitioning on sampled bounds, then a sort on each worker)
//! and the bounded selection behind `top` and `take_ordered`.
//!
//! # Sorting a batch
//!
//! With one worker the batch is sorted in place. With `p` workers (Spark's `RangePartitioner`,
//! with the sample taken from each worker's sorted records instead of at random):
//!
//! 1. `sort-sample`, on every worker, when the batch is complete there: the worker's records are
//!    sorted stably by key and set aside (in a stash that step 2, which runs on the same worker
//!    thread, takes them from); up to [`SAMPLES_PER_WORKER`] evenly spaced keys of them, with
//!    the worker's record count, are sent to every worker.
//! 2. `sort-route`, when every worker's sample has arrived: every worker computes the same
//!    `p - 1` range bounds from the samples (weighted quantiles, as Spark's `determineBounds`;
//!    the samples are ordered by sender before the stable sort, so every worker sees them in the
//!    same order), cuts its sorted records at the bounds, and sends run `i` to worker `i`.
//! 3. `sort`, on every worker: the runs received are put in sender order and sorted stably.
//!    They are sorted already, so the sort is a merge of at most `p` runs.
//!
//! Worker `i` then holds the `i`-th range of keys, in order, so reading the workers in order
//! (`foreach_batch`, `collect`, `collect_batches`) reads the whole batch in order. Records with
//! equal keys keep their arrival order (worker 0's records first, each worker's in the order it
//! read them), so the result does not depend on the number of workers for a queue stream.
//!
//! Records are moved, never cloned, and there is no per-record work besides the sorts: a
//! worker's sorted records are cut into runs at `p - 1` binary-searched positions. Per batch,
//! each worker allocates one run per destination, its sample, and the sorts' buffers.

use super::{narrow, per_time, EmitEmpty};
use crate::data::Data;
use crate::plan::{TStream, WorkerEnv};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

/// The keys each worker samples per batch to place the range bounds. Spark's
/// `RangePartitioner` samples 3 × 20 keys per output partition, spread over the input
/// partitions: 60 per partition when there are as many input as output partitions, as here.
pub(crate) const SAMPLES_PER_WORKER: usize = 60;

/// Ascending or descending.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Direction {
    /// Smallest first.
    pub ascending: bool,
}

impl Direction {
    fn cmp<K: Ord>(self, a: &K, b: &K) -> Ordering {
        if self.ascending {
            a.cmp(b)
        } else {
            b.cmp(a)
        }
    }
}

/// A worker's sample for one batch: `(destination, sender, records, keys)`.
type Sample<K> = (usize, usize, u64, Vec<K>);

/// A run of sorted records: `(destination, sender, records)`.
type Run<K, V> = (usize, usize, Vec<(K, V)>);

/// Each worker's sorted records of the batches being routed, by batch time (shared by the
/// `sort-sample` and `sort-route` operators of one worker).
type Stash<K, V> = Rc<RefCell<BTreeMap<u64, Vec<(K, V)>>>>;

/// `sort_by_key`: every batch totally ordered by key across the workers (see the module docs).
pub(crate) fn sort_by_key<'s, K: Data + Ord, V: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    dir: Direction,
) -> TStream<'s, (K, V)> {
    let by_key = move |a: &(K, V), b: &(K, V)| dir.cmp(&a.0, &b.0);
    if env.peers == 1 {
        return per_time(
            s,
            Pipeline,
            "sort",
            env,
            EmitEmpty::Never,
            Vec::new,
            |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
            move |_t, mut records, out: &mut Vec<(K, V)>| {
                records.sort_by(by_key);
                *out = records;
            },
        );
    }
    let (index, peers) = (env.index, env.peers);
    let stash: Stash<K, V> = Rc::default();
    let put = Rc::clone(&stash);
    let samples = per_time(
        s,
        Pipeline,
        "sort-sample",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(K, V)>, data: &mut Vec<(K, V)>| acc.append(data),
        move |t, mut records, out: &mut Vec<Sample<K>>| {
            records.sort_by(by_key);
            let keys = sample_keys(&records);
            let n = records.len() as u64;
            put.borrow_mut().insert(t, records);
            for dest in 0..peers {
                out.push((dest, index, n, keys.clone()));
            }
        },
    );
    let runs = per_time(
        samples,
        Exchange::new(|m: &Sample<K>| m.0 as u64),
        "sort-route",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<Sample<K>>, data: &mut Vec<Sample<K>>| acc.append(data),
        move |t, mut samples, out: &mut Vec<Run<K, V>>| {
            // Step 1 on this worker finished batch `t` before this operator's input frontier
            // could pass it, so its records are in the stash (or it had none).
            let Some(mut records) = stash.borrow_mut().remove(&t) else {
                return;
            };
            samples.sort_by_key(|m| m.1);
            let bounds = range_bounds(&samples, peers, dir);
            let cuts: Vec<usize> = bounds
                .iter()
                .map(|b| records.partition_point(|r| dir.cmp(&r.0, b) != Ordering::Greater))
                .collect();
            // Run `i` is `records[cuts[i - 1]..cuts[i]]`; the last run ends at the end.
            for dest in (1..=cuts.len()).rev() {
                let start = cuts[dest - 1];
                if start < records.len() {
                    out.push((dest, index, records.split_off(start)));
                }
            }
            if !records.is_empty() {
                out.push((0, index, records));
            }
        },
    );
    per_time(
        runs,
        Exchange::new(|r: &Run<K, V>| r.0 as u64),
        "sort",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<Run<K, V>>, data: &mut Vec<Run<K, V>>| acc.append(data),
        move |_t, mut runs, out: &mut Vec<(K, V)>| {
            runs.sort_by_key(|r| r.1);
            out.reserve(runs.iter().map(|r| r.2.len()).sum());
            for (_, _, mut run) in runs {
                out.append(&mut run);
            }
            // Stable, over sorted runs in sender order: a merge that keeps arrival order.
            out.sort_by(by_key);
        },
    )
}

/// Up to [`SAMPLES_PER_WORKER`] evenly spaced keys of `sorted` (the middles of equal slices).
fn sample_keys<K: Clone, V>(sorted: &[(K, V)]) -> Vec<K> {
    let n = sorted.len();
    let m = n.min(SAMPLES_PER_WORKER);
    (0..m)
        .map(|i| sorted[(2 * i + 1) * n / (2 * m)].0.clone())
        .collect()
}

/// The `peers - 1` (or fewer, when keys repeat) range bounds: run `i` takes the keys after
/// bound `i - 1` up to bound `i` included. `samples` must be in sender order, so that every
/// worker computes the same bounds.
fn range_bounds<K: Ord + Clone>(samples: &[Sample<K>], peers: usize, dir: Direction) -> Vec<K> {
    let mut weighted: Vec<(&K, f64)> = Vec::new();
    let mut total = 0.0;
    for (_, _, n, keys) in samples {
        if keys.is_empty() {
            continue;
        }
        // Each sampled key stands for an equal share of its worker's records.
        let w = *n as f64 / keys.len() as f64;
        for k in keys {
            weighted.push((k, w));
            total += w;
        }
    }
    weighted.sort_by(|a, b| dir.cmp(a.0, b.0));
    let step = total / peers as f64;
    let mut bounds: Vec<K> = Vec::with_capacity(peers.saturating_sub(1));
    let (mut cumulative, mut target) = (0.0, step);
    for (k, w) in weighted {
        if bounds.len() + 1 >= peers {
            break;
        }
        cumulative += w;
        if cumulative >= target
            && bounds
                .last()
                .is_none_or(|b| dir.cmp(k, b) == Ordering::Greater)
        {
            bounds.push(k.clone());
            target += step;
        }
    }
    bounds
}

/// An order on records, for `first_n`.
pub(crate) type Order<T> = Arc<dyn Fn(&T, &T) -> Ordering + Send + Sync>;

/// `take_ordered(n)` (and `top(n)` with the reverse order): the `n` first records of each
/// non-empty batch in `order`, ties broken by arrival order (worker 0's records first, each
/// worker's in the order it read them), emitted in that order on worker 0.
///
/// Each worker keeps at most `2n` candidates per batch: once it has `2n`, it selects the best
/// `n` (linear time), and from then on a record that is not better than the `n`-th best is
/// dropped after one comparison. Worker 0 merges the workers' `n` best.
pub(crate) fn first_n<'s, T: Data>(
    s: TStream<'s, T>,
    env: &Rc<WorkerEnv>,
    n: usize,
    order: Order<T>,
) -> TStream<'s, T> {
    if n == 0 {
        return narrow(s, "take_ordered", |data: &mut Vec<T>, _out: &mut Vec<T>| {
            data.clear()
        });
    }
    let index = env.index;
    let (add_order, finish_order) = (Arc::clone(&order), Arc::clone(&order));
    let partial = per_time(
        s,
        Pipeline,
        "take_ordered-partial",
        env,
        EmitEmpty::Never,
        Best::default,
        move |best: &mut Best<T>, data: &mut Vec<T>| best.add(data, n, &*add_order),
        move |_t, best, out: &mut Vec<(usize, Vec<(u64, T)>)>| {
            out.push((index, best.finish(n, &*finish_order)));
        },
    );
    per_time(
        partial,
        Exchange::new(|_: &(usize, Vec<(u64, T)>)| 0),
        "take_ordered",
        env,
        EmitEmpty::Never,
        Vec::new,
        |acc: &mut Vec<(usize, Vec<(u64, T)>)>, data: &mut Vec<(usize, Vec<(u64, T)>)>| {
            acc.append(data)
        },
        move |_t, parts, out: &mut Vec<T>| {
            let mut all: Vec<(usize, u64, T)> = Vec::new();
            for (worker, part) in parts {
                all.extend(part.into_iter().map(|(seq, x)| (worker, seq, x)));
            }
            all.sort_by(|a, b| order(&a.2, &b.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
            out.extend(all.into_iter().take(n).map(|(_, _, x)| x));
        },
    )
}

/// One worker's best records of a batch so far, each with its arrival number on the worker.
struct Best<T> {
    kept: Vec<(u64, T)>,
    seen: u64,
    /// Where the `n`-th best record is, once `kept` has been cut to `n` (a record not better
    /// than it cannot be among the best `n`).
    worst: Option<usize>,
}

impl<T> Default for Best<T> {
    fn default() -> Self {
        Best {
            kept: Vec::new(),
            seen: 0,
            worst: None,
        }
    }
}

impl<T> Best<T> {
    fn add(&mut self, data: &mut Vec<T>, n: usize, order: &dyn Fn(&T, &T) -> Ordering) {
        let limit = n.saturating_mul(2);
        for x in data.drain(..) {
            let seq = self.seen;
            self.seen += 1;
            // Ties go to the earlier record, so a record equal to the `n`-th best is not better.
            if let Some(w) = self.worst {
                if order(&x, &self.kept[w].1) != Ordering::Less {
                    continue;
                }
            }
            self.kept.push((seq, x));
            if self.kept.len() >= limit {
                self.cut(n, order);
            }
        }
    }

    /// Keeps the best `n` (`n >= 1`), the `n`-th best last.
    fn cut(&mut self, n: usize, order: &dyn Fn(&T, &T) -> Ordering) {
        if self.kept.len() > n {
            self.kept
                .select_nth_unstable_by(n - 1, |a, b| order(&a.1, &b.1).then(a.0.cmp(&b.0)));
            self.kept.truncate(n);
            self.worst = Some(n - 1);
        }
    }

    fn finish(mut self, n: usize, order: &dyn Fn(&T, &T) -> Ordering) -> Vec<(u64, T)> {
        self.cut(n, order);
        self.kept
            .sort_by(|a, b| order(&a.1, &b.1).then(a.0.cmp(&b.0)));
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asc() -> Direction {
        Direction { ascending: true }
    }

    #[test]
    fn bounds_split_uniform_samples_evenly() {
        let samples: Vec<Sample<u32>> = (0..4)
            .map(|w| (0, w, 100, (0..25).map(|i| i * 4 + w as u32).collect()))
            .collect();
        assert_eq!(range_bounds(&samples, 4, asc()), vec![24, 49, 74]);
        let desc = range_bounds(&samples, 4, Direction { ascending: false });
        assert_eq!(desc, vec![75, 50, 25]);
    }

    #[test]
    fn bounds_skip_repeated_keys() {
        let samples: Vec<Sample<u32>> = vec![(0, 0, 10, vec![7; 10]), (0, 1, 2, vec![1, 9])];
        // 7 is a bound once; the next bound is the next greater key, and the last run stays
        // empty.
        assert_eq!(range_bounds(&samples, 4, asc()), vec![7, 9]);
        assert!(range_bounds::<u32>(&[], 4, asc()).is_empty());
    }

    #[test]
    fn samples_are_spread_over_the_records() {
        let records: Vec<(u32, ())> = (0..1000).map(|i| (i, ())).collect();
        let keys = sample_keys(&records);
        assert_eq!(keys.len(), SAMPLES_PER_WORKER);
        assert_eq!(keys[0], 8);
        assert_eq!(*keys.last().unwrap(), 991);
        assert_eq!(sample_keys(&records[..3]), vec![0, 1, 2]);
    }

    #[test]
    fn best_keeps_the_first_n_with_ties_in_arrival_order() {
        let order = |a: &(u8, char), b: &(u8, char)| a.0.cmp(&b.0);
        let mut best = Best::default();
        let mut data: Vec<(u8, char)> = "kjihgfedcba"
            .chars()
            .enumerate()
            .map(|(i, c)| ((i % 3) as u8, c))
            .collect();
        best.add(&mut data, 3, &order);
        let got: Vec<(u8, char)> = best.finish(3, &order).into_iter().map(|e| e.1).collect();
        assert_eq!(got, vec![(0, 'k'), (0, 'h'), (0, 'e')]);
    }
}
