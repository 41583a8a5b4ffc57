//! `EXPLAIN` for streaming SQL: how a query maps onto Freshet's operators.

use crate::accumulate::AggKind;
use crate::options::StreamOptions;
use crate::split::Shape;
use datafusion::logical_expr::LogicalPlan;
use std::fmt::Write;

/// The pipeline of `shape` over the inputs `names` (a stream when `stream` is given, else a
/// dataset), one stage per line, with the DataFusion plans each worker evaluates.
pub fn explain_shape(shape: &Shape, names: &[String], stream: Option<&StreamOptions>) -> String {
    let mut out = String::new();
    let kind = if stream.is_some() {
        "stream"
    } else {
        "dataset"
    };
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => {
            let _ = writeln!(out, "Freshet pipeline over the {kind} {one}:");
        }
        many => {
            let _ = writeln!(
                out,
                "Freshet pipeline over the {kind}s {}: each batch, their rows are gathered on one worker, where they meet",
                many.join(", ")
            );
        }
    }
    match shape {
        Shape::Stateless { plan } => {
            let _ = writeln!(
                out,
                "1. each worker, each batch: DataFusion evaluates the whole query over its partition (no exchange, no state):"
            );
            indent(&mut out, plan);
        }
        Shape::Aggregate(a) => {
            let _ = writeln!(
                out,
                "1. each worker, each batch: DataFusion evaluates the group keys and the aggregates' arguments:"
            );
            indent(&mut out, &a.pre);
            let aggs: Vec<&str> = a.aggs.iter().map(|k| agg_name(*k)).collect();
            let _ = writeln!(
                out,
                "2. combine_by_key: each worker combines its rows per group ({}), then the partial aggregates are exchanged by the hash of the group key",
                aggs.join(", ")
            );
            match (&a.window, stream) {
                (None, Some(_)) => {
                    let _ = writeln!(
                        out,
                        "3. map_with_state: a running aggregate per group, kept as checkpointed state; each batch emits the groups it updated"
                    );
                }
                (None, None) => {
                    let _ = writeln!(out, "3. each group's aggregates are final");
                }
                (Some((_, w)), options) => {
                    let watermark = match options {
                        Some(o) => format!("{:?}", o_delay(o)),
                        None => "the end of the input".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "3. event-time window {:?} ({:?}) over the event time `{}`, by group; a window is emitted once, when the watermark (allowed delay: {watermark}) passes its end; window contents are checkpointed state",
                        w.kind, w.spec, w.time
                    );
                }
            }
            let _ = writeln!(
                out,
                "4. each worker, its groups: DataFusion evaluates what is above the aggregation (HAVING, the SELECT list):"
            );
            indent(&mut out, &a.post);
        }
    }
    out
}

fn o_delay(o: &StreamOptions) -> std::time::Duration {
    o.delay()
}

fn agg_name(k: AggKind) -> &'static str {
    match k {
        AggKind::Count => "count",
        AggKind::Sum => "sum",
        AggKind::Min => "min",
        AggKind::Max => "max",
        AggKind::Avg => "avg",
    }
}

fn indent(out: &mut String, plan: &LogicalPlan) {
    for line in plan.display_indent().to_string().lines() {
        let _ = writeln!(out, "     {line}");
    }
}
