//! Two-input keyed operators: `cogroup` and the joins, all one shuffle of both sides by key
//! followed by a per-key function when both inputs have finished the batch.

use super::narrow::exchange_by_key;
use super::{per_time2, FastMap};
use crate::data::{Data, Key};
use crate::plan::TStream;

/// Both sides' values of one key in one batch.
pub(crate) type Groups<V, W> = (Vec<V>, Vec<W>);

/// Routes both sides by key; for every key present on either side, `per_key` receives the key
/// and both sides' values (in arrival order) and writes output records.
pub(crate) fn cogroup_with<'s, K, V, W, U, F>(
    left: TStream<'s, (K, V)>,
    right: TStream<'s, (K, W)>,
    name: &str,
    mut per_key: F,
) -> TStream<'s, U>
where
    K: Key,
    V: Data,
    W: Data,
    U: Data,
    F: FnMut(K, Vec<V>, Vec<W>, &mut Vec<U>) + 'static,
{
    per_time2(
        left,
        right,
        exchange_by_key::<K, V>(),
        exchange_by_key::<K, W>(),
        name,
        FastMap::<K, Groups<V, W>>::default,
        |map, data: &mut Vec<(K, V)>| {
            for (k, v) in data.drain(..) {
                map.entry(k).or_default().0.push(v);
            }
        },
        |map, data: &mut Vec<(K, W)>| {
            for (k, w) in data.drain(..) {
                map.entry(k).or_default().1.push(w);
            }
        },
        move |_t, map, out| {
            for (k, (vs, ws)) in map {
                per_key(k, vs, ws, out);
            }
        },
    )
}

/// One output value of an outer join: either side may be missing.
pub(crate) type OuterPair<V, W> = (Option<V>, Option<W>);

/// Which keys a join keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum JoinKind {
    /// Keys on both sides.
    Inner,
    /// Every key of the left side.
    LeftOuter,
    /// Every key of the right side.
    RightOuter,
    /// Every key of either side.
    FullOuter,
}

/// Pairs every left value with every right value of the same key; where a side has no value
/// and the join kind keeps the key, pairs with `None`.
pub(crate) fn join<'s, K: Key, V: Data, W: Data>(
    left: TStream<'s, (K, V)>,
    right: TStream<'s, (K, W)>,
    kind: JoinKind,
) -> TStream<'s, (K, OuterPair<V, W>)> {
    let name = match kind {
        JoinKind::Inner => "join",
        JoinKind::LeftOuter => "left_outer_join",
        JoinKind::RightOuter => "right_outer_join",
        JoinKind::FullOuter => "full_outer_join",
    };
    cogroup_with(left, right, name, move |k, vs, ws, out| {
        match (vs.is_empty(), ws.is_empty()) {
            (false, false) => {
                for v in &vs {
                    for w in &ws {
                        out.push((k.clone(), (Some(v.clone()), Some(w.clone()))));
                    }
                }
            }
            (false, true) if matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) => {
                out.extend(vs.into_iter().map(|v| (k.clone(), (Some(v), None))));
            }
            (true, false) if matches!(kind, JoinKind::RightOuter | JoinKind::FullOuter) => {
                out.extend(ws.into_iter().map(|w| (k.clone(), (None, Some(w)))));
            }
            _ => {}
        }
    })
}
