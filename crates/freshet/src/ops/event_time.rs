//! Event-time windows by key, closed by a watermark.
//!
//! Two operators:
//! 1. On the worker that read them, each record is tagged with its event time, and every
//!    container also yields the largest event time in it, addressed to every worker.
//! 2. Records are routed to their key's owner and the maxima to every worker, so every worker
//!    sees the same per-source-partition maxima and computes the same watermark. When the
//!    frontier passes batch `t`, a worker (a) checks the batch's records against the watermark of
//!    the batches before `t` (older records are late), adds the others to their windows,
//!    (b) folds the batch's maxima into the watermark, and (c) emits, in batch `t`, the windows
//!    whose end the new watermark has reached (every window in the batch that ends the input).
//!
//! # Checkpoints
//!
//! Each worker checkpoints its open windows (panes or sessions of the keys it owns), its copy of
//! the watermark state (per source partition: max event time and batch time of its last
//! records; the current watermark) and, on worker 0, the late-record count. On restore, open
//! windows go to their key's owner (the worker count may change); every worker takes the
//! watermark state merged over the old workers' copies (they are equal), keeping the old
//! partitions: a partition that no longer exists stops holding the watermark back once it has
//! been idle for the idle timeout, as any idle partition does.

use super::keyed::Combiner;
use super::narrow::narrow;
use super::state::owner;
use super::{checkpointed, per_time, route, EmitEmpty, FastMap};
use crate::data::{Data, Key};
use crate::durability::{decode_state, encode_state};
use crate::error::Result;
use crate::plan::{TStream, WorkerEnv};
use crate::time::current_batch_time;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

/// A window of event time, `[start, end)` in milliseconds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct EventWindow {
    /// The first millisecond in the window.
    pub start: u64,
    /// The first millisecond after the window.
    pub end: u64,
}

/// The event time of a record, in milliseconds.
pub(crate) type TimeFn<T> = Arc<dyn Fn(&T) -> u64 + Send + Sync>;

/// Window shapes, in milliseconds of event time.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// Windows `[e - size, e)` for every `e` multiple of `slide` (`size` a multiple of `slide`;
    /// tumbling when equal).
    Panes { size: u64, slide: u64 },
    /// Sessions: records of a key closer than `gap` form one window `[first, last + gap)`.
    Session { gap: u64 },
}

/// Everything the operator needs besides the aggregation.
#[derive(Clone)]
pub(crate) struct Options {
    pub shape: Shape,
    /// Allowed delay (ms): the watermark is the max event time seen minus this.
    pub delay: u64,
    /// A partition without records for this long (ms of batch time) stops holding the
    /// watermark back.
    pub idle: u64,
    /// Whether late records are written to the late stream (else only counted).
    pub late_to_stream: bool,
    /// Counts late records.
    pub late_count: Arc<AtomicU64>,
}

/// A record with its event time, a key's aggregate of one pane combined on the worker that read
/// its records, or a partition's max event time sent to worker `to`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Msg<R, P> {
    Rec(u64, R),
    Part(P),
    Max { to: u32, from: u32, max: u64 },
}

/// A key's aggregate of one pane (pane start in ms of event time).
type Part<K, A> = (K, u64, A);

/// What crosses the exchange of keyed event-time windows.
type KeyedMsg<K, V, A> = Msg<(K, V), Part<K, A>>;

/// What the window operator writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum EventOut<K, A, R> {
    /// A closed window of a key and its aggregate.
    Window(K, EventWindow, A),
    /// A late record.
    Late(R),
}

/// The watermark, from the max event time of every source partition (worker).
struct Watermark {
    /// Per partition: max event time seen, batch time of its last records.
    parts: Vec<Option<(u64, u64)>>,
    delay: u64,
    idle: u64,
    current: Option<u64>,
}

impl Watermark {
    fn observe(&mut self, from: usize, max: u64, t: u64) {
        let slot = &mut self.parts[from];
        *slot = Some(match *slot {
            Some((m, _)) => (m.max(max), t),
            None => (max, t),
        });
    }

    /// The minimum over partitions that had records in the last `idle` ms (all partitions'
    /// maximum if none did), minus the delay; never moves back.
    fn advance(&mut self, t: u64) {
        let seen = self.parts.iter().flatten();
        let active = seen
            .clone()
            .filter(|(_, last)| t.saturating_sub(*last) < self.idle)
            .map(|(m, _)| *m)
            .min();
        let Some(top) = active.or_else(|| seen.map(|(m, _)| *m).max()) else {
            return;
        };
        let w = top.saturating_sub(self.delay);
        self.current = Some(self.current.map_or(w, |c| c.max(w)));
    }

    /// Merges an old worker's copy of the watermark state (partitions by index; a partition
    /// beyond the current worker count is kept until it goes idle).
    fn merge(&mut self, parts: Vec<Option<(u64, u64)>>, current: Option<u64>) {
        if self.parts.len() < parts.len() {
            self.parts.resize(parts.len(), None);
        }
        for (slot, old) in self.parts.iter_mut().zip(parts) {
            if let Some((m, last)) = old {
                *slot = Some(match *slot {
                    Some((m0, last0)) => (m0.max(m), last0.max(last)),
                    None => (m, last),
                });
            }
        }
        self.current = self.current.max(current);
    }
}

/// One worker's checkpointed event-time window state.
#[derive(Serialize, Deserialize)]
struct EventSnapshot {
    /// The open windows, as [`Windows::snapshot`] encodes them.
    windows: Vec<u8>,
    /// The watermark state: per partition, max event time and batch time of its last records.
    parts: Vec<Option<(u64, u64)>>,
    /// The current watermark.
    current: Option<u64>,
    /// The late-record count (worker 0; zero elsewhere).
    late: u64,
}

fn fold<V, A>(slot: &mut Option<A>, v: V, c: &Combiner<V, A>) {
    *slot = Some(match slot.take() {
        Some(a) => (c.merge_value)(a, v),
        None => (c.create)(v),
    });
}

/// Open windows of every key.
trait Windows<K, V, A> {
    fn add(&mut self, k: K, ts: u64, v: V);
    /// Adds a key's aggregate of the pane starting at `pane` (panes only).
    fn add_part(&mut self, k: K, pane: u64, a: A);
    /// Emits and forgets every window whose end is at most `wm`.
    fn close(&mut self, wm: u64, out: &mut Vec<(K, EventWindow, A)>);
    /// Serializes the open windows for a checkpoint.
    fn snapshot(&self) -> Vec<u8>;
    /// Adds the open windows of an old worker's snapshot whose key `mine` accepts.
    fn restore(&mut self, bytes: &[u8], mine: &dyn Fn(&K) -> bool) -> Result<()>;
}

/// How [`Panes`] are checkpointed: per pane start, its keys' aggregates; the last watermark
/// the panes were closed at.
type PanesSnapshot<K, A> = (Vec<(u64, Vec<(K, A)>)>, Option<u64>);

/// How [`Sessions`] are checkpointed: per key, its open sessions `(start, last, aggregate)`.
type SessionsSnapshot<K, A> = Vec<(K, Vec<(u64, u64, A)>)>;

/// Tumbling and sliding windows, kept as per-key aggregates of slide-long panes (each record
/// is folded into one pane); a window merges the panes it covers when it closes.
struct Panes<K, V, A> {
    size: u64,
    slide: u64,
    panes: BTreeMap<u64, FastMap<K, Option<A>>>,
    closed: Option<u64>,
    c: Combiner<V, A>,
}

impl<K: Key, V: Data, A: Data> Windows<K, V, A> for Panes<K, V, A> {
    fn add(&mut self, k: K, ts: u64, v: V) {
        let pane = self.panes.entry(ts - ts % self.slide).or_default();
        match pane.get_mut(&k) {
            Some(slot) => fold(slot, v, &self.c),
            None => {
                pane.insert(k, Some((self.c.create)(v)));
            }
        }
    }

    fn add_part(&mut self, k: K, pane: u64, a: A) {
        let pane = self.panes.entry(pane).or_default();
        match pane.get_mut(&k) {
            Some(slot) => {
                *slot = Some(match slot.take() {
                    Some(acc) => (self.c.merge_combiners)(acc, a),
                    None => a,
                })
            }
            None => {
                pane.insert(k, Some(a));
            }
        }
    }

    fn close(&mut self, wm: u64, out: &mut Vec<(K, EventWindow, A)>) {
        if self.size == self.slide {
            // Tumbling: a pane is a window.
            while let Some(entry) = self.panes.first_entry() {
                let start = *entry.key();
                if start.saturating_add(self.size) > wm {
                    break;
                }
                let window = EventWindow {
                    start,
                    end: start.saturating_add(self.size),
                };
                out.extend(
                    entry
                        .remove()
                        .into_iter()
                        .filter_map(|(k, a)| a.map(|a| (k, window, a))),
                );
            }
        } else {
            let mut ends = BTreeSet::new();
            for &p in self.panes.keys() {
                // Event times come from the user's function and may be anywhere up to u64::MAX:
                // window ends past it do not exist (they would never close).
                let last_end = p.saturating_add(self.size);
                let mut next = p.checked_add(self.slide);
                while let Some(e) = next.filter(|e| *e <= last_end && *e <= wm) {
                    if self.closed.is_none_or(|c| e > c) {
                        ends.insert(e);
                    }
                    next = e.checked_add(self.slide);
                }
            }
            for e in ends {
                let start = e.saturating_sub(self.size);
                let mut window: FastMap<K, Option<A>> = FastMap::default();
                for (_, pane) in self.panes.range(start..e) {
                    for (k, a) in pane {
                        let Some(a) = a else { continue };
                        match window.get_mut(k) {
                            Some(slot) => {
                                *slot = slot.take().map(|w| (self.c.merge_combiners)(w, a.clone()))
                            }
                            None => {
                                window.insert(k.clone(), Some(a.clone()));
                            }
                        }
                    }
                }
                let w = EventWindow { start, end: e };
                out.extend(window.into_iter().filter_map(|(k, a)| a.map(|a| (k, w, a))));
            }
            // Keep the panes that are still part of an open window.
            if wm >= self.size {
                self.panes = self.panes.split_off(&(wm - self.size + 1));
            }
        }
        self.closed = Some(self.closed.map_or(wm, |c| c.max(wm)));
    }

    fn snapshot(&self) -> Vec<u8> {
        let panes: Vec<(u64, Vec<(&K, &A)>)> = self
            .panes
            .iter()
            .map(|(start, pane)| {
                let keys = pane
                    .iter()
                    .filter_map(|(k, a)| a.as_ref().map(|a| (k, a)))
                    .collect();
                (*start, keys)
            })
            .collect();
        encode_state(&(panes, self.closed))
    }

    fn restore(&mut self, bytes: &[u8], mine: &dyn Fn(&K) -> bool) -> Result<()> {
        let (panes, closed): PanesSnapshot<K, A> = decode_state(bytes)?;
        for (start, keys) in panes {
            let pane = self.panes.entry(start).or_default();
            pane.extend(
                keys.into_iter()
                    .filter(|(k, _)| mine(k))
                    .map(|(k, a)| (k, Some(a))),
            );
        }
        self.closed = self.closed.max(closed);
        Ok(())
    }
}

/// One session of a key.
struct Session<A> {
    start: u64,
    last: u64,
    acc: A,
}

/// Session windows per key.
struct Sessions<K, V, A> {
    gap: u64,
    keys: FastMap<K, Vec<Session<A>>>,
    c: Combiner<V, A>,
}

impl<K: Key, V: Data, A: Data> Windows<K, V, A> for Sessions<K, V, A> {
    fn add(&mut self, k: K, ts: u64, v: V) {
        let gap = self.gap;
        let list = match self.keys.get_mut(&k) {
            Some(list) => list,
            None => self.keys.entry(k).or_default(),
        };
        // [ts, ts + gap) overlaps [start, last + gap)?
        let overlaps =
            |s: &Session<A>| ts < s.last.saturating_add(gap) && s.start < ts.saturating_add(gap);
        match list.iter().position(overlaps) {
            None => list.push(Session {
                start: ts,
                last: ts,
                acc: (self.c.create)(v),
            }),
            Some(i) => {
                let mut s = list.swap_remove(i);
                s.acc = (self.c.merge_value)(s.acc, v);
                s.start = s.start.min(ts);
                s.last = s.last.max(ts);
                // The grown session may now touch others: merge them in.
                while let Some(j) = list.iter().position(|o| {
                    o.start < s.last.saturating_add(gap) && s.start < o.last.saturating_add(gap)
                }) {
                    let o = list.swap_remove(j);
                    let (first, second) = if o.start <= s.start {
                        (o.acc, s.acc)
                    } else {
                        (s.acc, o.acc)
                    };
                    s.acc = (self.c.merge_combiners)(first, second);
                    s.start = s.start.min(o.start);
                    s.last = s.last.max(o.last);
                }
                list.push(s);
            }
        }
    }

    fn add_part(&mut self, _k: K, _pane: u64, _a: A) {
        // Session windows never receive pane aggregates: their records are not combined
        // before the exchange (a session's extent depends on every record's time).
        debug_assert!(
            false,
            "session windows receive records, not pane aggregates"
        );
    }

    fn close(&mut self, wm: u64, out: &mut Vec<(K, EventWindow, A)>) {
        let gap = self.gap;
        self.keys.retain(|k, list| {
            if list.iter().all(|s| s.last.saturating_add(gap) > wm) {
                return true;
            }
            let (done, open): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|s| s.last.saturating_add(gap) <= wm);
            for s in done {
                let w = EventWindow {
                    start: s.start,
                    end: s.last.saturating_add(gap),
                };
                out.push((k.clone(), w, s.acc));
            }
            *list = open;
            !list.is_empty()
        });
    }

    fn snapshot(&self) -> Vec<u8> {
        let keys: SessionsSnapshot<&K, &A> = self
            .keys
            .iter()
            .map(|(k, list)| (k, list.iter().map(|s| (s.start, s.last, &s.acc)).collect()))
            .collect();
        encode_state(&keys)
    }

    fn restore(&mut self, bytes: &[u8], mine: &dyn Fn(&K) -> bool) -> Result<()> {
        let keys: SessionsSnapshot<K, A> = decode_state(bytes)?;
        for (k, list) in keys {
            if mine(&k) {
                let sessions =
                    list.into_iter()
                        .map(|(start, last, acc)| Session { start, last, acc });
                self.keys.entry(k).or_default().extend(sessions);
            }
        }
        Ok(())
    }
}

/// What the window operator keeps across batches on one worker.
struct EventState<K, V, A> {
    windows: Box<dyn Windows<K, V, A>>,
    mark: Watermark,
}

/// One batch's input of the window operator.
struct Batch<R, P> {
    recs: Vec<(u64, R)>,
    parts: Vec<P>,
    maxes: Vec<(u32, u64)>,
}

/// What the combining stage knows of the watermark the window operator will judge a batch's
/// records against.
#[derive(Clone, Copy)]
enum Before {
    /// Not looked at yet for this batch.
    Unknown,
    /// The watermark after the previous batch: records not older are combined per pane.
    Known(Option<u64>),
    /// This worker's window operator has not finished the previous batch (several batches in
    /// flight): records are sent one by one and judged there.
    Stale,
}

/// One batch's records on the worker that read them, combined per (key, pane) where possible.
struct Local<K, R, A> {
    before: Before,
    parts: FastMap<(K, u64), Option<A>>,
    raw: Vec<(u64, R)>,
    max: Option<u64>,
}

/// Keyed event-time windows aggregated with `c`.
pub(crate) fn windows_by_key<'s, K: Key, V: Data, A: Data>(
    s: TStream<'s, (K, V)>,
    env: &Rc<WorkerEnv>,
    time: TimeFn<(K, V)>,
    c: Combiner<V, A>,
    o: Options,
) -> TStream<'s, EventOut<K, A, (K, V)>> {
    let peers = env.peers as u32;
    let me = env.index as u32;
    let interval = env.interval;
    // The window operator publishes, after each batch, its watermark and the batch time. When
    // this worker's copy is for the batch just before the one being read (always so with one
    // batch in flight), records that are not late are combined per (key, pane) here, before the
    // exchange; late ones and every record of session windows travel one by one.
    let published: Rc<Cell<(Option<u64>, u64)>> = Rc::new(Cell::new((None, 0)));
    let tagged: TStream<'s, KeyedMsg<K, V, A>> = match o.shape {
        Shape::Panes { slide, .. } => {
            let (published, c, time) = (Rc::clone(&published), c.clone(), time.clone());
            per_time(
                s,
                Pipeline,
                "event-time-combine",
                env,
                EmitEmpty::Never,
                || Local {
                    before: Before::Unknown,
                    parts: FastMap::default(),
                    raw: Vec::new(),
                    max: None,
                },
                move |acc: &mut Local<K, (K, V), A>, data: &mut Vec<(K, V)>| {
                    if let Before::Unknown = acc.before {
                        let t = current_batch_time().map_or(0, |t| t.0);
                        let (wm, through) = published.get();
                        acc.before = if through.checked_add(interval) == Some(t) {
                            Before::Known(wm)
                        } else {
                            Before::Stale
                        };
                    }
                    for r in data.drain(..) {
                        let ts = time(&r);
                        acc.max = acc.max.max(Some(ts));
                        match acc.before {
                            Before::Known(wm) if wm.is_none_or(|w| ts >= w) => {
                                let (k, v) = r;
                                let slot = acc.parts.entry((k, ts - ts % slide)).or_insert(None);
                                fold(slot, v, &c);
                            }
                            _ => acc.raw.push((ts, r)),
                        }
                    }
                },
                move |_t, acc, out| {
                    out.extend(acc.raw.into_iter().map(|(ts, r)| Msg::Rec(ts, r)));
                    out.extend(
                        acc.parts
                            .into_iter()
                            .filter_map(|((k, p), a)| a.map(|a| Msg::Part((k, p, a)))),
                    );
                    if let Some(max) = acc.max {
                        out.extend((0..peers).map(|to| Msg::Max { to, from: me, max }));
                    }
                },
            )
        }
        Shape::Session { .. } => narrow(
            s,
            "event-time",
            move |data: &mut Vec<(K, V)>, out: &mut Vec<KeyedMsg<K, V, A>>| {
                let mut max = None;
                out.reserve(data.len() + peers as usize);
                for r in data.drain(..) {
                    let ts = time(&r);
                    max = max.max(Some(ts));
                    out.push(Msg::Rec(ts, r));
                }
                if let Some(max) = max {
                    out.extend((0..peers).map(|to| Msg::Max { to, from: me, max }));
                }
            },
        ),
    };
    let windows: Box<dyn Windows<K, V, A>> = match o.shape {
        Shape::Panes { size, slide } => Box::new(Panes {
            size,
            slide,
            panes: BTreeMap::new(),
            closed: None,
            c,
        }),
        Shape::Session { gap } => Box::new(Sessions {
            gap,
            keys: FastMap::default(),
            c,
        }),
    };
    let mark = Watermark {
        parts: vec![None; env.peers],
        delay: o.delay,
        idle: o.idle,
        current: None,
    };
    let state = Rc::new(RefCell::new(EventState { windows, mark }));
    let (index, peers) = (env.index, env.peers);
    // Every worker computes the same watermark: worker 0 reports it.
    let node = crate::metrics::local::installing();
    if index == 0 {
        env.shared
            .metrics
            .health
            .add_event_time(node, o.late_count.clone());
    }
    let snap = Rc::clone(&state);
    let late = o.late_count.clone();
    let parts: Vec<EventSnapshot> = checkpointed(env, move || {
        let st = snap.borrow();
        encode_state(&EventSnapshot {
            windows: st.windows.snapshot(),
            parts: st.mark.parts.clone(),
            current: st.mark.current,
            late: if index == 0 {
                late.load(Ordering::Relaxed)
            } else {
                0
            },
        })
    });
    for part in parts {
        let mut st = state.borrow_mut();
        let mine = |k: &K| owner(k, peers) == index;
        if let Err(e) = st.windows.restore(&part.windows, &mine) {
            env.shared.fail(e);
            break;
        }
        st.mark.merge(part.parts, part.current);
        if index == 0 {
            o.late_count.fetch_add(part.late, Ordering::Relaxed);
        }
    }
    // Before the first batch, the watermark is the restored one (none on a fresh start).
    published.set((
        state.borrow().mark.current,
        env.first_time.saturating_sub(interval),
    ));
    let shared = env.shared.clone();
    let mut closed = Vec::new();
    per_time(
        tagged,
        Exchange::new(|m: &KeyedMsg<K, V, A>| match m {
            Msg::Rec(_, r) => route(&r.0),
            Msg::Part((k, _, _)) => route(k),
            Msg::Max { to, .. } => u64::from(*to),
        }),
        "event_time_window",
        env,
        EmitEmpty::AllWorkers,
        || Batch {
            recs: Vec::new(),
            parts: Vec::new(),
            maxes: Vec::new(),
        },
        |acc: &mut Batch<(K, V), Part<K, A>>, data: &mut Vec<KeyedMsg<K, V, A>>| {
            for m in data.drain(..) {
                match m {
                    Msg::Rec(ts, r) => acc.recs.push((ts, r)),
                    Msg::Part(p) => acc.parts.push(p),
                    Msg::Max { from, max, .. } => acc.maxes.push((from, max)),
                }
            }
        },
        move |t, batch, out| {
            let mut st = state.borrow_mut();
            let EventState { windows, mark } = &mut *st;
            let before = mark.current;
            for (ts, r) in batch.recs {
                if before.is_some_and(|w| ts < w) {
                    o.late_count.fetch_add(1, Ordering::Relaxed);
                    if o.late_to_stream {
                        out.push(EventOut::Late(r));
                    }
                    continue;
                }
                let (k, v) = r;
                windows.add(k, ts, v);
            }
            // Combined on the reading worker against this same watermark: none is late.
            for (k, pane, a) in batch.parts {
                windows.add_part(k, pane, a);
            }
            for (from, max) in batch.maxes {
                mark.observe(from as usize, max, t);
            }
            mark.advance(t);
            published.set((mark.current, t));
            if index == 0 {
                shared.metrics.health.set_watermark(node, t, mark.current);
            }
            let upto = if shared.is_final_batch(t) {
                Some(u64::MAX)
            } else {
                mark.current
            };
            if let Some(wm) = upto {
                windows.close(wm, &mut closed);
                out.extend(closed.drain(..).map(|(k, w, a)| EventOut::Window(k, w, a)));
            }
        },
    )
}
