//! An embedded generator: records made from their sequence number at a fixed rate.
//!
//! Batch `t` holds the records whose sequence numbers fall in the interval `(t - I, t]` at the
//! configured rate; the workers generate their share themselves, so the generator scales with
//! them. [`Click`] events from [`click`] feed the `freshet demo` pipeline.

use super::{Availability, Recorded, SourcePlanner};
use crate::context::StreamingContext;
use crate::data::Data;
use crate::dstream::DStream;
use crate::error::Result;
use crate::plan::{next_id, Builder, Lineage, Plan, SourceId, Split};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How fast and how long a generator runs.
#[derive(Clone, Copy, Debug)]
pub struct GeneratorOptions {
    /// Records per second of batch time.
    pub rate_per_sec: u64,
    /// Stop after this many records (required for available-now runs to end).
    pub limit: Option<u64>,
}

impl GeneratorOptions {
    /// `rate_per_sec` records per second, without end.
    pub fn rate(rate_per_sec: u64) -> Self {
        GeneratorOptions {
            rate_per_sec,
            limit: None,
        }
    }

    /// Stops after `n` records.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }
}

struct GeneratorSource {
    id: SourceId,
    options: GeneratorOptions,
    interval_ms: u64,
    next_seq: u64,
    carry_millis: u64,
}

/// A worker's share of a batch: the sequence numbers `start..end`.
struct SeqRange {
    start: u64,
    end: u64,
}

impl SourcePlanner for GeneratorSource {
    fn id(&self) -> SourceId {
        self.id
    }

    fn name(&self) -> &str {
        "generator"
    }

    fn plan(&mut self, _time: u64, workers: usize) -> Result<Vec<Option<Split>>> {
        // rate * interval / 1000 records, carrying the remainder so that the rate is exact.
        let scaled = self.options.rate_per_sec * self.interval_ms + self.carry_millis;
        let mut count = scaled / 1000;
        self.carry_millis = scaled % 1000;
        if let Some(limit) = self.options.limit {
            count = count.min(limit.saturating_sub(self.next_seq));
        }
        let start = self.next_seq;
        self.next_seq += count;
        Ok(seq_splits(start, count, workers))
    }

    fn plan_recorded(&mut self, time: u64, workers: usize) -> Result<Recorded> {
        let start = self.next_seq;
        let splits = self.plan(time, workers)?;
        let record = super::encode_pair(start, self.next_seq - start);
        Ok((splits, Some(record)))
    }

    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        let (start, count) = super::decode_pair(record, "generator")?;
        self.next_seq = self.next_seq.max(start + count);
        Ok(seq_splits(start, count, workers))
    }

    fn position(&self) -> Option<Vec<u8>> {
        Some(super::encode_pair(self.next_seq, self.carry_millis))
    }

    fn restore(&mut self, position: &[u8]) -> Result<()> {
        let (next, carry) = super::decode_pair(position, "generator")?;
        self.next_seq = next;
        self.carry_millis = carry;
        Ok(())
    }

    fn availability(&mut self) -> Availability {
        match self.options.limit {
            Some(limit) if self.next_seq >= limit => Availability::Exhausted,
            // At a rate of zero nothing will ever come.
            _ if self.options.rate_per_sec == 0 => Availability::Exhausted,
            _ => Availability::Ready,
        }
    }
}

/// The splits of the sequence numbers `start..start + count` over `workers`.
fn seq_splits(start: u64, count: u64, workers: usize) -> Vec<Option<Split>> {
    let workers = workers.max(1) as u64;
    (0..workers)
        .map(|w| {
            let s = start + count * w / workers;
            let e = start + count * (w + 1) / workers;
            (e > s).then(|| Box::new(SeqRange { start: s, end: e }) as Split)
        })
        .collect()
}

impl StreamingContext {
    /// A stream of `make(0), make(1), ...` at `options.rate_per_sec` records per second.
    pub fn generator_stream<T, F>(&self, options: GeneratorOptions, make: F) -> DStream<T>
    where
        T: Data,
        F: Fn(u64) -> T + Send + Sync + 'static,
    {
        let id = next_id();
        self.inner.add_source(Box::new(GeneratorSource {
            id,
            options,
            interval_ms: self.batch_interval().as_millis() as u64,
            next_seq: 0,
            carry_millis: 0,
        }));
        let make = Arc::new(make);
        let lineage = Lineage {
            streaming: true,
            partitions: 1,
        };
        let plan = Plan::new("generator", lineage, move |b: &mut Builder<'_>| {
            let make = Arc::clone(&make);
            b.source_input::<T>(
                id,
                Arc::new(move |split, buf, _env| {
                    if let Ok(range) = split.downcast::<SeqRange>() {
                        buf.extend((range.start..range.end).map(|i| make(i)));
                    }
                }),
            )
        });
        DStream {
            plan,
            ctx: Arc::clone(&self.inner),
        }
    }

    /// A stream of synthetic [`Click`] events at `options.rate_per_sec` per second.
    pub fn click_stream(&self, options: GeneratorOptions) -> DStream<Click> {
        self.generator_stream(options, click)
    }
}

/// A page view on a web site: the record of the demo's click stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Click {
    /// The sequence number of the event.
    pub seq: u64,
    /// The visitor.
    pub user: u32,
    /// The page visited.
    pub page: String,
    /// Milliseconds the visitor spent on the page.
    pub dwell_ms: u32,
}

/// The pages of the synthetic site, most visited first.
pub const PAGES: [&str; 12] = [
    "/",
    "/products",
    "/search",
    "/cart",
    "/product/42",
    "/product/7",
    "/checkout",
    "/login",
    "/account",
    "/help",
    "/blog",
    "/about",
];

fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed, well-spread function of the sequence number.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The click event with sequence number `seq`: a deterministic function of `seq`, with page
/// popularity skewed towards the first pages of [`PAGES`].
pub fn click(seq: u64) -> Click {
    let h = mix(seq);
    // Two uniform draws, minimum taken: pages earlier in the list are visited more often.
    let a = (h & 0xFFFF) % PAGES.len() as u64;
    let b = ((h >> 16) & 0xFFFF) % PAGES.len() as u64;
    Click {
        seq,
        user: ((h >> 32) % 10_000) as u32,
        page: PAGES[a.min(b) as usize].to_string(),
        dwell_ms: ((h >> 48) % 30_000) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_are_deterministic_and_skewed() {
        assert_eq!(click(5), click(5));
        let mut counts = [0u32; PAGES.len()];
        for i in 0..10_000 {
            let c = click(i);
            counts[PAGES.iter().position(|p| *p == c.page).unwrap()] += 1;
        }
        assert!(counts[0] > counts[PAGES.len() - 1] * 3);
    }

    #[test]
    fn rate_is_exact_over_batches() {
        let mut g = GeneratorSource {
            id: 1,
            options: GeneratorOptions::rate(1500),
            interval_ms: 10,
            next_seq: 0,
            carry_millis: 0,
        };
        for t in 0..100 {
            g.plan(t, 3).unwrap();
        }
        assert_eq!(g.next_seq, 1500);
    }
}
