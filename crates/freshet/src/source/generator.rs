//! An embedded generator: records made from their sequence number at a fixed rate.
//!
//! Batch `t` holds the records whose sequence numbers fall in the interval `(t - I, t]` at the
//! configured rate; the workers generate their share themselves, so the generator scales with
//! them. It is a [`DirectSource`] whose offset is the next sequence number, so its batches
//! replay exactly. [`Click`] events from [`click`] feed the `freshet demo` pipeline.

use super::direct::{DirectSource, ReadContext, SplitReader, StartContext};
use crate::data::Data;
use crate::error::SourceError;
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
    /// `rate_per_sec` records per second (0 ..= [`MAX_GENERATOR_RATE`]; a higher rate fails
    /// `start()`), without end.
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

/// The highest rate a generator accepts, in records per second.
pub const MAX_GENERATOR_RATE: u64 = 1_000_000_000;

/// The generator as a direct source.
pub(crate) struct GeneratorSource<T> {
    options: GeneratorOptions,
    interval_ms: u64,
    make: Arc<dyn Fn(u64) -> T + Send + Sync>,
}

impl<T> GeneratorSource<T> {
    pub fn new(options: GeneratorOptions, make: Arc<dyn Fn(u64) -> T + Send + Sync>) -> Self {
        GeneratorSource {
            options,
            interval_ms: 1,
            make,
        }
    }
}

/// Where a generator stands: the next sequence number, and the milliseconds of rate carried
/// over so that the rate is exact over many batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GeneratorOffset {
    next_seq: u64,
    carry_millis: u64,
}

/// A worker's share of a batch: the sequence numbers `start..end`.
pub(crate) struct SeqRange {
    start: u64,
    end: u64,
}

/// Makes the records of a [`SeqRange`].
pub(crate) struct GeneratorReader<T> {
    make: Arc<dyn Fn(u64) -> T + Send + Sync>,
}

impl<T: Data> SplitReader for GeneratorReader<T> {
    type Split = SeqRange;
    type Item = T;

    fn read(
        &self,
        split: &SeqRange,
        out: &mut Vec<T>,
        _ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        out.extend((split.start..split.end).map(|i| (self.make)(i)));
        Ok(())
    }
}

impl<T: Data> DirectSource for GeneratorSource<T> {
    type Item = T;
    type Offset = GeneratorOffset;
    type Split = SeqRange;
    type Reader = GeneratorReader<T>;

    fn kind(&self) -> &'static str {
        "generator"
    }

    fn describe(&self) -> String {
        format!("generator at {} records/s", self.options.rate_per_sec)
    }

    fn start(&mut self, ctx: &StartContext) -> Result<GeneratorOffset, SourceError> {
        self.interval_ms = (ctx.batch_interval.as_millis() as u64).max(1);
        Ok(GeneratorOffset {
            next_seq: 0,
            carry_millis: 0,
        })
    }

    fn latest(&mut self, from: &GeneratorOffset) -> Result<GeneratorOffset, SourceError> {
        if self.ended(from) {
            return Ok(*from);
        }
        // rate * interval / 1000 records, carrying the remainder so that the rate is exact.
        let scaled = self
            .options
            .rate_per_sec
            .saturating_mul(self.interval_ms)
            .saturating_add(from.carry_millis);
        let mut count = scaled / 1000;
        if let Some(limit) = self.options.limit {
            count = count.min(limit.saturating_sub(from.next_seq));
        }
        Ok(GeneratorOffset {
            next_seq: from.next_seq.saturating_add(count),
            carry_millis: scaled % 1000,
        })
    }

    fn splits(
        &mut self,
        from: &GeneratorOffset,
        to: &GeneratorOffset,
        workers: usize,
    ) -> Result<Vec<SeqRange>, SourceError> {
        let (start, count) = (from.next_seq, to.next_seq.saturating_sub(from.next_seq));
        let workers = workers.max(1) as u64;
        Ok((0..workers)
            .map(|w| SeqRange {
                start: start + ((count as u128 * w as u128) / workers as u128) as u64,
                end: start + ((count as u128 * (w + 1) as u128) / workers as u128) as u64,
            })
            .collect())
    }

    fn reader(&self) -> GeneratorReader<T> {
        GeneratorReader {
            make: Arc::clone(&self.make),
        }
    }

    fn ended(&self, at: &GeneratorOffset) -> bool {
        match self.options.limit {
            Some(limit) if at.next_seq >= limit => true,
            // At a rate of zero nothing will ever come.
            _ => self.options.rate_per_sec == 0,
        }
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
        let mut g = GeneratorSource::new(GeneratorOptions::rate(1500), Arc::new(|i| i));
        let mut at = g
            .start(&StartContext {
                id: "g".into(),
                available_now: false,
                batch_interval: std::time::Duration::from_millis(10),
                data_loss: crate::source::DataLoss::default(),
            })
            .unwrap();
        for _ in 0..100 {
            at = g.latest(&at).unwrap();
        }
        assert_eq!(at.next_seq, 1500);
    }
}
