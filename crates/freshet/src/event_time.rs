//! Event-time windows: tumbling, sliding and session windows by key, closed by a watermark.
//!
//! # Event time and watermark
//!
//! [`DStream::with_event_time`] says where a record's event time is (milliseconds, e.g. since
//! the Unix epoch). Each *source partition* (the records one worker reads from its inputs)
//! tracks the largest event time it has seen; the watermark is the minimum of these maxima over
//! the partitions, minus the allowed delay, and never moves back. A partition that has read no
//! record for [`idle_timeout`](WatermarkOptions::idle_timeout) of batch time (default: 10 batch
//! intervals) no longer holds the watermark back; if every partition is idle, the largest
//! maximum counts. A partition that never read a record does not count.
//!
//! The watermark advances once per batch: the records of batch `t` are judged against the
//! watermark computed from the batches before `t` (so the result does not depend on the order of
//! records within a batch), then the watermark takes in batch `t`'s maxima, and every window whose
//! end it has reached is emitted in batch `t`.
//!
//! # Windows
//!
//! Windows are half-open intervals of event time `[start, end)` ([`EventWindow`]):
//! - [`WindowSpec::tumbling`]`(size)`: `[k·size, (k+1)·size)`;
//! - [`WindowSpec::sliding`]`(size, slide)`: every `[e - size, e)` with `e` a multiple of `slide`
//!   (`size` a multiple of `slide`; a record is in `size / slide` windows). Near event time 0 the
//!   start is clamped at 0;
//! - [`WindowSpec::session`]`(gap)`: per key, records less than `gap` apart form one session
//!   `[first, last + gap)`.
//!
//! A window is emitted once, when the watermark reaches its end, with every record it got.
//!
//! # Late data
//!
//! A record whose event time is below the watermark (of the batches before its own) is late:
//! every window it could belong to may have been emitted. By [`LatePolicy`], late records are
//! dropped or written to [`EventWindows::late_records`]; either way they are counted
//! ([`EventWindows::late_count`]).
//!
//! # End of input
//!
//! When the input ends gracefully (the end of [`run_available_now`], or
//! [`stop(true)`](crate::StreamingContext::stop)), one last batch is run in which every open
//! window is emitted. A stop without `graceful` emits nothing more.
//!
//! # Datasets
//!
//! [`Dataset::with_event_time`] gives the same windows over a finite dataset: it is one batch,
//! so no record is late and every window is emitted, as a stream would emit them if every
//! record came in time.
//!
//! [`run_available_now`]: crate::StreamingContext::run_available_now

use crate::data::{Data, Key};
use crate::dataset::Dataset;
use crate::dstream::DStream;
use crate::error::{Error, Result};
pub use crate::ops::event_time::EventWindow;
use crate::ops::event_time::{self as et, EventOut, Shape};
use crate::ops::keyed::Combiner;
use crate::plan::Plan;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The longest event-time window size, slide or gap: 100 years of milliseconds.
pub const MAX_EVENT_TIME_SPAN_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// What happens to late records (see the [module docs](crate::event_time)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LatePolicy {
    /// Late records are counted and dropped.
    #[default]
    Drop,
    /// Late records are counted and written to [`EventWindows::late_records`].
    SideOutput,
}

/// How the watermark is computed and late data handled.
#[derive(Clone, Debug)]
pub struct WatermarkOptions {
    allowed_delay: Duration,
    idle_timeout: Option<Duration>,
    late: LatePolicy,
}

impl WatermarkOptions {
    /// A watermark trailing the largest event time seen by `allowed_delay`; late records are
    /// dropped.
    pub fn new(allowed_delay: Duration) -> Self {
        WatermarkOptions {
            allowed_delay,
            idle_timeout: None,
            late: LatePolicy::Drop,
        }
    }

    /// How long (in batch time) a source partition may read nothing before it stops holding
    /// the watermark back (default: 10 batch intervals).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// What to do with late records.
    pub fn late_policy(mut self, policy: LatePolicy) -> Self {
        self.late = policy;
        self
    }
}

/// The shape of event-time windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSpec {
    /// Consecutive windows of this size.
    Tumbling(Duration),
    /// Windows of `size` every `slide`.
    Sliding {
        /// The window size.
        size: Duration,
        /// The distance between window starts (divides `size`).
        slide: Duration,
    },
    /// Per key, records closer than `gap` form one window.
    Session(Duration),
}

impl WindowSpec {
    /// Tumbling windows of `size`.
    pub fn tumbling(size: Duration) -> Self {
        WindowSpec::Tumbling(size)
    }

    /// Windows of `size` every `slide` (`size` must be a multiple of `slide`).
    pub fn sliding(size: Duration, slide: Duration) -> Self {
        WindowSpec::Sliding { size, slide }
    }

    /// Session windows closing after `gap` without records of the key.
    pub fn session(gap: Duration) -> Self {
        WindowSpec::Session(gap)
    }

    fn shape(&self) -> Result<Shape> {
        let ms = |what: &str, d: Duration| -> Result<u64> {
            if d.is_zero() || !d.subsec_nanos().is_multiple_of(1_000_000) {
                return Err(Error::Plan(format!(
                    "the event-time window {what} must be a positive whole number of milliseconds, got {d:?}"
                )));
            }
            let ms = crate::time::millis(d);
            if ms > MAX_EVENT_TIME_SPAN_MS {
                return Err(Error::Plan(format!(
                    "the event-time window {what} must be at most {MAX_EVENT_TIME_SPAN_MS} ms (100 years), got {d:?}"
                )));
            }
            Ok(ms)
        };
        Ok(match *self {
            WindowSpec::Tumbling(size) => {
                let size = ms("size", size)?;
                Shape::Panes { size, slide: size }
            }
            WindowSpec::Sliding { size, slide } => {
                let (size, slide) = (ms("size", size)?, ms("slide", slide)?);
                if size % slide != 0 {
                    return Err(Error::Plan(format!(
                        "the event-time window size ({size} ms) must be a multiple of its slide ({slide} ms)"
                    )));
                }
                Shape::Panes { size, slide }
            }
            WindowSpec::Session(gap) => Shape::Session {
                gap: ms("session gap", gap)?,
            },
        })
    }
}

/// A stream whose records carry an event time: see the [module docs](crate::event_time).
pub struct EventTimeStream<T> {
    stream: DStream<T>,
    time: et::TimeFn<T>,
    options: WatermarkOptions,
}

impl<T> Clone for EventTimeStream<T> {
    fn clone(&self) -> Self {
        EventTimeStream {
            stream: self.stream.clone(),
            time: self.time.clone(),
            options: self.options.clone(),
        }
    }
}

/// The result of an event-time window operator: the closed windows, the late records, and how
/// many records were late.
pub struct EventWindows<K, A, R> {
    windows: DStream<(K, EventWindow, A)>,
    late: DStream<R>,
    late_count: Arc<AtomicU64>,
}

impl<K: Key, A: Data, R: Data> EventWindows<K, A, R> {
    /// Every closed window: `(key, window, aggregate)`, in the batch where the watermark passed
    /// the window's end.
    pub fn windows(&self) -> DStream<(K, EventWindow, A)> {
        self.windows.clone()
    }

    /// The late records (empty unless the policy is [`LatePolicy::SideOutput`]).
    pub fn late_records(&self) -> DStream<R> {
        self.late.clone()
    }

    /// How many records were late so far (dropped or not); after a recovery from a checkpoint,
    /// this includes those counted up to the checkpoint.
    pub fn late_count(&self) -> u64 {
        self.late_count.load(Ordering::Relaxed)
    }
}

impl<T: Data> DStream<T> {
    /// Says where each record's event time is (`time(record)`, milliseconds) and how the
    /// watermark trails it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::event_time::{WatermarkOptions, WindowSpec};
    /// use freshet::{StreamingConfig, StreamingContext};
    ///
    /// let ms = Duration::from_millis;
    /// let ctx = StreamingContext::new(StreamingConfig::new(ms(10)).workers(2))?;
    /// // (key, event time in ms)
    /// let clicks = ctx.queue_stream(vec![vec![('a', 1_000), ('a', 1_500), ('b', 2_500)]]);
    /// let counts = clicks
    ///     .with_event_time(|r: &(char, u64)| r.1, WatermarkOptions::new(ms(500)))
    ///     .count_by_key_and_window(WindowSpec::tumbling(ms(1_000)))?;
    /// let out = counts.windows().map(|(k, w, n)| (k, w.start, n)).collect_batches();
    /// ctx.run_available_now()?; // the end of the input emits the open windows
    /// let mut all: Vec<_> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    /// all.sort();
    /// assert_eq!(all, vec![('a', 1_000, 2), ('b', 2_000, 1)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn with_event_time<F>(&self, time: F, options: WatermarkOptions) -> EventTimeStream<T>
    where
        F: Fn(&T) -> u64 + Send + Sync + 'static,
    {
        EventTimeStream {
            stream: self.clone(),
            time: Arc::new(time),
            options,
        }
    }
}

/// The plan node of an event-time window operator over `plan`.
fn windows_plan<K: Key, V: Data, A: Data>(
    plan: &Plan<(K, V)>,
    time: &et::TimeFn<(K, V)>,
    c: Combiner<V, A>,
    options: et::Options,
) -> Plan<EventOut<K, A, (K, V)>> {
    let time = time.clone();
    plan.derive("event_time_window", move |s, b| {
        et::windows_by_key(s, &b.env, time.clone(), c.clone(), options.clone())
    })
}

impl<K: Key, V: Data> EventTimeStream<(K, V)> {
    /// Aggregates the values of each key in every window: `create` makes an aggregate from a
    /// value, `merge_value` adds a value, `merge` combines two aggregates (for sliding windows
    /// and merging sessions). The other window operators are built on this one.
    pub fn aggregate_by_key_and_window<A, F1, F2, F3>(
        &self,
        spec: WindowSpec,
        create: F1,
        merge_value: F2,
        merge: F3,
    ) -> Result<EventWindows<K, A, (K, V)>>
    where
        A: Data,
        F1: Fn(V) -> A + Send + Sync + 'static,
        F2: Fn(A, V) -> A + Send + Sync + 'static,
        F3: Fn(A, A) -> A + Send + Sync + 'static,
    {
        let shape = spec.shape()?;
        let ctx = &self.stream.ctx;
        let interval = crate::time::millis(ctx.config.batch_interval());
        let late_count = Arc::new(AtomicU64::new(0));
        let o = &self.options;
        // Longer than the clock can count: never (no delay wraps around to a short one).
        let options = et::Options {
            shape,
            delay: crate::time::millis(o.allowed_delay),
            idle: o
                .idle_timeout
                .map_or(interval.saturating_mul(10), crate::time::millis),
            late_to_stream: o.late == LatePolicy::SideOutput,
            late_count: late_count.clone(),
        };
        let c = Combiner {
            create: Arc::new(create),
            merge_value: Arc::new(merge_value),
            merge_combiners: Arc::new(merge),
        };
        ctx.flush_at_end.store(true, Ordering::SeqCst);
        let both = self
            .stream
            .wrap(windows_plan(&self.stream.plan, &self.time, c, options));
        Ok(EventWindows {
            windows: both.flat_map(|o: EventOut<K, A, (K, V)>| match o {
                EventOut::Window(k, w, a) => Some((k, w, a)),
                EventOut::Late(_) => None,
            }),
            late: both.flat_map(|o: EventOut<K, A, (K, V)>| match o {
                EventOut::Late(r) => Some(r),
                EventOut::Window(..) => None,
            }),
            late_count,
        })
    }

    /// Merges the values of each key in every window with `f` (associative and commutative).
    pub fn reduce_by_key_and_window<F>(
        &self,
        spec: WindowSpec,
        f: F,
    ) -> Result<EventWindows<K, V, (K, V)>>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let g = f.clone();
        self.aggregate_by_key_and_window(spec, |v| v, move |a, v| f(a, v), move |a, b| g(a, b))
    }

    /// The number of records of each key in every window.
    pub fn count_by_key_and_window(
        &self,
        spec: WindowSpec,
    ) -> Result<EventWindows<K, u64, (K, V)>> {
        self.aggregate_by_key_and_window(spec, |_| 1u64, |n, _| n + 1, |a, b| a + b)
    }

    /// The values of each key in every window (in no guaranteed order).
    pub fn group_by_key_and_window(
        &self,
        spec: WindowSpec,
    ) -> Result<EventWindows<K, Vec<V>, (K, V)>> {
        self.aggregate_by_key_and_window(
            spec,
            |v| vec![v],
            |mut vs, v| {
                vs.push(v);
                vs
            },
            |mut a, mut b| {
                a.append(&mut b);
                a
            },
        )
    }
}

/// A dataset whose records carry an event time (see [`Dataset::with_event_time`]).
pub struct EventTimeDataset<T> {
    data: Dataset<T>,
    time: et::TimeFn<T>,
}

impl<T: Data> Dataset<T> {
    /// Says where each record's event time is (`time(record)`, milliseconds), for event-time
    /// windows over this dataset. A dataset is a single batch: no record is late, and every
    /// window is in the result.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshet::event_time::WindowSpec;
    /// use freshet::Dataset;
    ///
    /// let clicks = Dataset::parallelize(vec![('a', 1_000), ('a', 1_500), ('a', 2_500)], 2);
    /// let mut sessions = clicks
    ///     .with_event_time(|r: &(char, u64)| r.1)
    ///     .count_by_key_and_window(WindowSpec::session(Duration::from_millis(600)))?
    ///     .map(|(k, w, n)| (k, w.start, w.end, n))
    ///     .collect()?;
    /// sessions.sort();
    /// assert_eq!(sessions, vec![('a', 1_000, 2_100, 2), ('a', 2_500, 3_100, 1)]);
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn with_event_time<F>(&self, time: F) -> EventTimeDataset<T>
    where
        F: Fn(&T) -> u64 + Send + Sync + 'static,
    {
        EventTimeDataset {
            data: self.clone(),
            time: Arc::new(time),
        }
    }
}

impl<K: Key, V: Data> EventTimeDataset<(K, V)> {
    /// Aggregates the values of each key in every window (see
    /// [`EventTimeStream::aggregate_by_key_and_window`]).
    pub fn aggregate_by_key_and_window<A, F1, F2, F3>(
        &self,
        spec: WindowSpec,
        create: F1,
        merge_value: F2,
        merge: F3,
    ) -> Result<Dataset<(K, EventWindow, A)>>
    where
        A: Data,
        F1: Fn(V) -> A + Send + Sync + 'static,
        F2: Fn(A, V) -> A + Send + Sync + 'static,
        F3: Fn(A, A) -> A + Send + Sync + 'static,
    {
        let options = et::Options {
            shape: spec.shape()?,
            delay: 0,
            idle: 0,
            late_to_stream: false,
            late_count: Arc::new(AtomicU64::new(0)),
        };
        let c = Combiner {
            create: Arc::new(create),
            merge_value: Arc::new(merge_value),
            merge_combiners: Arc::new(merge),
        };
        let both = self
            .data
            .wrap(windows_plan(&self.data.plan, &self.time, c, options));
        Ok(both.flat_map(|o: EventOut<K, A, (K, V)>| match o {
            EventOut::Window(k, w, a) => Some((k, w, a)),
            EventOut::Late(_) => None,
        }))
    }

    /// Merges the values of each key in every window with `f`.
    pub fn reduce_by_key_and_window<F>(
        &self,
        spec: WindowSpec,
        f: F,
    ) -> Result<Dataset<(K, EventWindow, V)>>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let g = f.clone();
        self.aggregate_by_key_and_window(spec, |v| v, move |a, v| f(a, v), move |a, b| g(a, b))
    }

    /// The number of records of each key in every window.
    pub fn count_by_key_and_window(
        &self,
        spec: WindowSpec,
    ) -> Result<Dataset<(K, EventWindow, u64)>> {
        self.aggregate_by_key_and_window(spec, |_| 1u64, |n, _| n + 1, |a, b| a + b)
    }

    /// The values of each key in every window (in no guaranteed order).
    pub fn group_by_key_and_window(
        &self,
        spec: WindowSpec,
    ) -> Result<Dataset<(K, EventWindow, Vec<V>)>> {
        self.aggregate_by_key_and_window(
            spec,
            |v| vec![v],
            |mut vs, v| {
                vs.push(v);
                vs
            },
            |mut a, mut b| {
                a.append(&mut b);
                a
            },
        )
    }
}
