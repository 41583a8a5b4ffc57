//! The Freshet pipeline of a split query, built the same way for a stream and a dataset.

use crate::accumulate::{Acc, AggKind};
use crate::error::{Result, SqlError};
use crate::rows::Rows;
use crate::split::{AggregateShape, Shape};
use crate::stages::{self, Group, Tagged, TimedArgs};
use crate::value::Value;
use freshet::event_time::WatermarkOptions;
use freshet::{DStream, Dataset, State, StateSpec};
use std::sync::Arc;

/// The inputs' names, and their rows tagged with the input's index; when the query reads more
/// than one input, all of them on one worker, where they meet. The same for streams and
/// datasets, which share their operators but no trait.
macro_rules! tagged {
    ($inputs:expr) => {{
        let inputs = $inputs;
        let names: Arc<[String]> = inputs.iter().map(|(n, _)| n.clone()).collect();
        let mut tagged = inputs.iter().enumerate().map(|(i, (_, s))| {
            let tag = i as u8;
            s.map(move |rows: Rows| -> Tagged { (tag, rows) })
        });
        let first = tagged
            .next()
            .expect("split checked the query reads an input");
        let input = if inputs.len() == 1 {
            first
        } else {
            tagged.fold(first, |all, s| all.union(&s)).repartition(1)
        };
        (names, input)
    }};
}

fn start(kinds: &Arc<[AggKind]>) -> impl Fn(Vec<Value>) -> Vec<Acc> + Send + Sync + 'static {
    let kinds = kinds.clone();
    move |args| stages::start(&kinds, args)
}

fn add(mut accs: Vec<Acc>, args: Vec<Value>) -> Vec<Acc> {
    stages::add(&mut accs, args);
    accs
}

fn merge(mut a: Vec<Acc>, b: Vec<Acc>) -> Vec<Acc> {
    stages::merge(&mut a, b);
    a
}

/// A function running the pre plan over one partition of the inputs.
type PreRun<R> = fn(&AggregateShape, &[String], Vec<Tagged>) -> Result<Vec<R>>;

/// The per-partition function running the pre plan of `shape` with `run` (keyed, or keyed
/// with event times).
fn pre<R: 'static>(
    shape: &Arc<AggregateShape>,
    names: &Arc<[String]>,
    run: PreRun<R>,
) -> impl Fn(Vec<Tagged>) -> Result<Vec<R>> + Send + Sync + 'static {
    let (shape, names) = (shape.clone(), names.clone());
    move |parts| run(&shape, &names, parts)
}

/// Each group's final aggregates.
macro_rules! finished_groups {
    ($partials:expr) => {
        $partials.map(|(keys, accs): (Vec<Value>, Vec<Acc>)| Group {
            keys,
            window: None,
            values: stages::finish(&accs),
        })
    };
}

fn kinds(shape: &AggregateShape) -> Arc<[AggKind]> {
    shape.aggs.clone().into()
}

/// The rows of the query over `inputs` (the registered streams it reads, by name, in the
/// order of its plan): each batch's rows for a stateless query, the groups updated in each
/// batch for a running aggregation, the windows the watermark closed in each batch for a
/// windowed one. Two streams or more meet on one worker per batch.
pub fn stream(
    shape: Shape,
    inputs: &[(String, DStream<Rows>)],
    watermark: &WatermarkOptions,
    windowed: bool,
) -> Result<DStream<Rows>> {
    let (name, input) = tagged!(inputs);
    let shape = match shape {
        Shape::Stateless { plan } => {
            return Ok(
                input.try_map_partitions(move |parts| stages::run_stateless(&plan, &name, parts))
            )
        }
        Shape::Aggregate(shape) => Arc::new(*shape),
    };
    let kinds = kinds(&shape);
    let groups: DStream<Group> = match &shape.window {
        None => {
            let pre = input.try_map_partitions(pre(&shape, &name, stages::run_pre));
            let partials = pre.combine_by_key(start(&kinds), add, merge);
            if windowed {
                // Each batch of a processing-time window holds the whole window: its groups
                // are aggregated afresh, not added to those of earlier windows.
                return Ok(finished_groups!(partials)
                    .try_map_partitions(move |groups| stages::run_post(&shape, groups)));
            }
            let empty = kinds.clone();
            let spec = StateSpec::function(
                move |keys: &Vec<Value>, partial: Option<Vec<Acc>>, state: &mut State<Vec<Acc>>| {
                    let mut accs = state
                        .get()
                        .cloned()
                        .unwrap_or_else(|| empty.iter().map(|k| k.empty()).collect());
                    if let Some(partial) = partial {
                        stages::merge(&mut accs, partial);
                    }
                    let values = stages::finish(&accs);
                    state.update(accs);
                    Group {
                        keys: keys.clone(),
                        window: None,
                        values,
                    }
                },
            );
            partials.map_with_state(spec).values()
        }
        Some((_, window)) => {
            if windowed {
                return Err(SqlError::Unsupported(format!(
                    "an event-time window ({:?}) over a stream read as a processing-time window",
                    window.kind
                )));
            }
            let pre = input.try_map_partitions(pre(&shape, &name, stages::run_pre_timed));
            let first = start(&kinds);
            pre.with_event_time(|r: &TimedArgs| r.1 .0, watermark.clone())
                .aggregate_by_key_and_window(
                    window.spec,
                    move |(_, args)| first(args),
                    |accs, (_, args)| add(accs, args),
                    merge,
                )?
                .windows()
                .map(|(keys, window, accs)| Group {
                    keys,
                    window: Some(window),
                    values: stages::finish(&accs),
                })
        }
    };
    Ok(groups.try_map_partitions(move |groups| stages::run_post(&shape, groups)))
}

/// The rows of the query over the datasets `inputs`: the same operators as [`stream`], over
/// one finite batch (a running aggregation gives each group once; every window is closed at
/// the end of the input).
pub fn dataset(shape: Shape, inputs: &[(String, Dataset<Rows>)]) -> Result<Dataset<Rows>> {
    let (name, input) = tagged!(inputs);
    let shape = match shape {
        Shape::Stateless { plan } => {
            return Ok(
                input.try_map_partitions(move |parts| stages::run_stateless(&plan, &name, parts))
            )
        }
        Shape::Aggregate(shape) => Arc::new(*shape),
    };
    let kinds = kinds(&shape);
    let groups: Dataset<Group> = match &shape.window {
        None => {
            let pre = input.try_map_partitions(pre(&shape, &name, stages::run_pre));
            let partials = pre.combine_by_key(start(&kinds), add, merge);
            let partials = if shape.keys == 0 {
                // An aggregate without GROUP BY has one row even over no rows (`count` 0,
                // the others NULL): the empty key's empty accumulators, merged with the
                // input's.
                let empty: Vec<Acc> = kinds.iter().map(|k| k.empty()).collect();
                partials
                    .union(&Dataset::parallelize(vec![(Vec::new(), empty)], 1))
                    .reduce_by_key(merge)
            } else {
                partials
            };
            finished_groups!(partials)
        }
        Some((_, window)) => {
            let pre = input.try_map_partitions(pre(&shape, &name, stages::run_pre_timed));
            let first = start(&kinds);
            pre.with_event_time(|r: &TimedArgs| r.1 .0)
                .aggregate_by_key_and_window(
                    window.spec,
                    move |(_, args)| first(args),
                    |accs, (_, args)| add(accs, args),
                    merge,
                )?
                .map(|(keys, window, accs)| Group {
                    keys,
                    window: Some(window),
                    values: stages::finish(&accs),
                })
        }
    };
    Ok(groups.try_map_partitions(move |groups| stages::run_post(&shape, groups)))
}
