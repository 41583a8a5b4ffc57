//! How a query maps onto Freshet: a plan without aggregation runs whole on every worker's
//! partition of a batch; a plan with one aggregation is split around it into a *pre* plan
//! (everything below the aggregation, evaluated by DataFusion per partition, ending in the group
//! keys and the aggregate functions' arguments), Freshet's keyed operators (combine per batch,
//! then running state or an event-time window) and a *post* plan (everything above: `HAVING`,
//! the `SELECT` list), evaluated by DataFusion on each worker's groups.

use crate::accumulate::AggKind;
use crate::error::{Result, SqlError};
use crate::exec::InputTable;
use crate::windows::{window_group, WindowGroup};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, JoinType};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{lit, Expr, LogicalPlan, LogicalPlanBuilder};
use std::collections::HashSet;
use std::sync::Arc;

/// The name of the table the post plan reads the groups from.
pub const GROUPS_TABLE: &str = "__freshet_groups";

/// The plan of a query, cut where Freshet's operators take over.
#[derive(Clone, Debug)]
pub enum Shape {
    /// No aggregation: the plan runs whole on every partition of every batch.
    Stateless {
        /// The plan.
        plan: LogicalPlan,
    },
    /// One aggregation, evaluated incrementally by Freshet.
    Aggregate(Box<AggregateShape>),
}

/// A query split around its aggregation.
#[derive(Clone, Debug)]
pub struct AggregateShape {
    /// Below the aggregation; its columns are the plain group keys (`k0`, ...), the event time
    /// if there is a window (`__time`), then the aggregate arguments (`a0`, ...).
    pub pre: LogicalPlan,
    /// How many plain group keys.
    pub keys: usize,
    /// The window function among the group keys, and its position among them.
    pub window: Option<(usize, WindowGroup)>,
    /// The aggregate functions, in the order of the aggregation's output.
    pub aggs: Vec<AggKind>,
    /// The aggregation's output as the post plan reads it: the group keys in their order,
    /// then the aggregates.
    pub groups_schema: SchemaRef,
    /// Above the aggregation, reading [`GROUPS_TABLE`].
    pub post: LogicalPlan,
}

/// Splits the optimized `plan`, which must read at least one of `inputs` (the streams or
/// datasets registered), each once; returns the inputs it reads, in the order of its plan.
pub fn split(plan: &LogicalPlan, inputs: &HashSet<String>) -> Result<(Shape, Vec<String>)> {
    let mut reads = Vec::new();
    input_scans(plan, inputs, &mut reads)?;
    if reads.is_empty() {
        return Err(SqlError::Catalog(
            "the query reads no stream: its FROM must name a registered stream".into(),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = reads.iter().find(|r| !seen.insert(r.as_str())) {
        return Err(SqlError::Unsupported(format!(
            "a query reading the stream `{twice}` twice (a self-join)"
        )));
    }
    let shape = split_reads(plan, inputs)?;
    Ok((shape, reads))
}

fn split_reads(plan: &LogicalPlan, inputs: &HashSet<String>) -> Result<Shape> {
    let aggregates = count_nodes(plan, |n| matches!(n, LogicalPlan::Aggregate(_)));
    if aggregates == 0 {
        check_per_batch(plan, inputs)?;
        if let Some((name, w)) = windows_in_projections(plan)?.1.first() {
            return Err(SqlError::Unsupported(format!(
                "{:?} window `{name}` outside GROUP BY: a window function names the window of an aggregation",
                w.kind
            )));
        }
        return Ok(Shape::Stateless { plan: plan.clone() });
    }
    if aggregates > 1 {
        return Err(SqlError::Unsupported(
            "more than one aggregation (an aggregation of an aggregation, or in a subquery)".into(),
        ));
    }
    let agg = above_aggregate(plan)?;
    check_per_batch(&agg.input, inputs)?;
    Ok(Shape::Aggregate(Box::new(aggregate_shape(plan, agg)?)))
}

/// A window call found in a projection below the aggregation: its output column's name and
/// the window.
type NamedWindow = (String, WindowGroup);

/// `input` with every window call of its projections replaced by the window's event time
/// (under the same column name), and the windows so replaced: a query may name its window in
/// a subquery (`SELECT tumble(ts, ...) AS w ...`) and group by that column.
fn windows_in_projections(input: &LogicalPlan) -> Result<(LogicalPlan, Vec<NamedWindow>)> {
    let mut found = Vec::new();
    let plan = input
        .clone()
        .transform_up(|node| {
            let LogicalPlan::Projection(p) = &node else {
                return Ok(Transformed::no(node.recompute_schema()?));
            };
            let mut changed = false;
            let mut exprs = Vec::with_capacity(p.expr.len());
            for (e, (qualifier, field)) in p.expr.iter().zip(p.schema.iter()) {
                match window_group(e)
                    .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?
                {
                    Some(w) => {
                        changed = true;
                        exprs.push(
                            w.time
                                .clone()
                                .alias_qualified(qualifier.cloned(), field.name()),
                        );
                        found.push((field.name().clone(), w));
                    }
                    None => exprs.push(e.clone()),
                }
            }
            if !changed {
                return Ok(Transformed::no(node.recompute_schema()?));
            }
            let projection = datafusion::logical_expr::Projection::try_new(exprs, p.input.clone())?;
            Ok(Transformed::yes(LogicalPlan::Projection(projection)))
        })
        .map_err(SqlError::plan)?
        .data;
    Ok((plan, found))
}

/// Refuses aggregate functions over `DISTINCT` values anywhere in `plan`.
pub fn check_no_distinct_aggregate(plan: &LogicalPlan) -> Result<()> {
    let mut distinct = None;
    plan.apply(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::AggregateFunction(f) = e {
                    if f.params.distinct {
                        distinct = Some(f.func.name().to_string());
                        return Ok(TreeNodeRecursion::Stop);
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .map_err(SqlError::plan)?;
    match distinct {
        Some(name) => Err(SqlError::Unsupported(format!(
            "{name}(DISTINCT ...): group by the value in a subquery first"
        ))),
        None => Ok(()),
    }
}

/// The names of the inputs `plan` scans; an error for a join that would not be evaluated
/// correctly batch by batch.
fn input_scans(plan: &LogicalPlan, inputs: &HashSet<String>, out: &mut Vec<String>) -> Result<()> {
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let name = scan.table_name.table().to_string();
            if inputs.contains(&name) {
                out.push(name);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(SqlError::plan)?;
    Ok(())
}

fn count_nodes(plan: &LogicalPlan, pred: impl Fn(&LogicalPlan) -> bool) -> usize {
    let mut n = 0;
    let _ = plan.apply(|node| {
        if pred(node) {
            n += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    n
}

fn reads_input(plan: &LogicalPlan, inputs: &HashSet<String>) -> bool {
    let mut reads = Vec::new();
    input_scans(plan, inputs, &mut reads).is_ok() && !reads.is_empty()
}

/// Checks that `plan` gives the same rows evaluated on each partition of a batch as on the
/// whole batch: row-by-row operators, and joins of the stream with static tables that keep
/// the stream's side.
fn check_per_batch(plan: &LogicalPlan, inputs: &HashSet<String>) -> Result<()> {
    match plan {
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Unnest(_)
        | LogicalPlan::TableScan(_)
        | LogicalPlan::EmptyRelation(_)
        | LogicalPlan::Values(_) => {}
        LogicalPlan::Join(join) => {
            let left = reads_input(&join.left, inputs);
            let right = reads_input(&join.right, inputs);
            let keeps_stream = match (left, right) {
                // Two streams meet on one worker per batch: every join type is evaluated
                // over all their rows.
                (true, true) => true,
                (true, false) => matches!(
                    join.join_type,
                    JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
                ),
                (false, true) => matches!(
                    join.join_type,
                    JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti
                ),
                (false, false) => true,
            };
            if !keeps_stream {
                return Err(SqlError::Unsupported(format!(
                    "a {} join that keeps a static table's unmatched rows (every batch would emit them again); join the stream on the preserved side (LEFT JOIN with the stream first, or INNER)",
                    join.join_type
                )));
            }
        }
        LogicalPlan::Sort(_) => {
            return Err(SqlError::Unsupported(
                "ORDER BY: a stream has no last row to sort by; sort the results of each batch where they are consumed"
                    .into(),
            ))
        }
        LogicalPlan::Limit(_) => {
            return Err(SqlError::Unsupported(
                "LIMIT on a stream (it would stop the stream after N rows)".into(),
            ))
        }
        LogicalPlan::Window(_) => {
            return Err(SqlError::Unsupported(
                "window functions with OVER; group by tumble(), hop() or session() for windows of event time"
                    .into(),
            ))
        }
        other => {
            return Err(SqlError::Unsupported(format!(
                "the operator {}",
                other.display().to_string().split(':').next().unwrap_or("?")
            )))
        }
    }
    for input in plan.inputs() {
        check_per_batch(input, inputs)?;
    }
    Ok(())
}

/// The aggregation of `plan`, checking that only row-by-row operators are above it.
fn above_aggregate(plan: &LogicalPlan) -> Result<&datafusion::logical_expr::Aggregate> {
    match plan {
        LogicalPlan::Aggregate(agg) => Ok(agg),
        LogicalPlan::Projection(p) => above_aggregate(&p.input),
        LogicalPlan::Filter(f) => above_aggregate(&f.input),
        LogicalPlan::SubqueryAlias(s) => above_aggregate(&s.input),
        LogicalPlan::Sort(_) => Err(SqlError::Unsupported(
            "ORDER BY over an aggregation of a stream (its groups change every batch); sort the results where they are consumed"
                .into(),
        )),
        LogicalPlan::Limit(_) => Err(SqlError::Unsupported(
            "LIMIT over an aggregation of a stream".into(),
        )),
        other => Err(SqlError::Unsupported(format!(
            "the operator {} above an aggregation",
            other.display().to_string().split(':').next().unwrap_or("?")
        ))),
    }
}

fn aggregate_shape(
    plan: &LogicalPlan,
    agg: &datafusion::logical_expr::Aggregate,
) -> Result<AggregateShape> {
    let (input, mut named) = windows_in_projections(&agg.input)?;
    let mut pre = Vec::new();
    let mut window = None;
    for (i, g) in agg.group_expr.iter().enumerate() {
        if let Expr::GroupingSet(_) = g {
            return Err(SqlError::Unsupported(
                "GROUPING SETS, CUBE and ROLLUP".into(),
            ));
        }
        let group = match g {
            Expr::Column(c) => match named.iter().position(|(name, _)| *name == c.name) {
                Some(at) => {
                    let (_, mut w) = named.remove(at);
                    w.time = g.clone();
                    Some(w)
                }
                None => None,
            },
            g => window_group(g)?,
        };
        match group {
            Some(w) if window.is_some() => {
                return Err(SqlError::Unsupported(format!(
                    "more than one window function in one GROUP BY ({:?} and another)",
                    w.kind
                )))
            }
            Some(w) => window = Some((i, w)),
            None => pre.push(g.clone().alias(format!("k{}", pre.len()))),
        }
    }
    if let Some((name, w)) = named.first() {
        return Err(SqlError::Unsupported(format!(
            "{:?} window `{name}` that the query does not group by: a window function belongs in GROUP BY",
            w.kind
        )));
    }
    let keys = pre.len();
    if let Some((_, w)) = &window {
        pre.push(w.time.clone().alias("__time"));
    }
    let mut aggs = Vec::new();
    for (j, e) in agg.aggr_expr.iter().enumerate() {
        let inner = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            e => e,
        };
        let Expr::AggregateFunction(f) = inner else {
            return Err(SqlError::Unsupported(format!(
                "the aggregate expression {e}"
            )));
        };
        let kind = AggKind::from_name(f.func.name())?;
        let params = &f.params;
        if params.distinct {
            return Err(SqlError::Unsupported(format!(
                "{}(DISTINCT ...): group by the value in a subquery first",
                f.func.name()
            )));
        }
        if params.filter.is_some() {
            return Err(SqlError::Unsupported(format!(
                "{}(...) FILTER (WHERE ...): use CASE WHEN inside the function",
                f.func.name()
            )));
        }
        let arg = match params.args.as_slice() {
            [] => lit(1i64),
            [a] => a.clone(),
            _ => {
                return Err(SqlError::Unsupported(format!(
                    "{}() with more than one argument",
                    f.func.name()
                )))
            }
        };
        pre.push(arg.alias(format!("a{j}")));
        aggs.push(kind);
    }
    let pre = LogicalPlanBuilder::from(input)
        .project(pre)
        .and_then(LogicalPlanBuilder::build)
        .map_err(SqlError::plan)?;

    // The groups as a table of columns c0, c1, ... (the aggregation's own names may repeat
    // under different qualifiers), renamed back to the aggregation's qualified names.
    let fields: Vec<Field> = agg
        .schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Field::new(format!("c{i}"), f.data_type().clone(), true))
        .collect();
    let groups_schema: SchemaRef = Arc::new(Schema::new(fields));
    let table = Arc::new(InputTable::new(GROUPS_TABLE, groups_schema.clone()));
    let renames: Vec<Expr> = agg
        .schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            Expr::Column(Column::new(Some(GROUPS_TABLE), format!("c{i}")))
                .alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    let groups = LogicalPlanBuilder::scan(GROUPS_TABLE, provider_as_source(table), None)
        .and_then(|b| b.project(renames))
        .and_then(LogicalPlanBuilder::build)
        .map_err(SqlError::plan)?;
    let post = plan
        .clone()
        .transform_up(|node| {
            Ok(if matches!(node, LogicalPlan::Aggregate(_)) {
                Transformed::yes(groups.clone())
            } else {
                Transformed::no(node)
            })
        })
        .map_err(SqlError::plan)?
        .data;
    Ok(AggregateShape {
        pre,
        keys,
        window,
        aggs,
        groups_schema,
        post,
    })
}
