//! [`SqlContext`]: the tables a query can read (streams, datasets, static tables) and the
//! queries over them.

use crate::error::{Result, SqlError};
use crate::exec::{session_config, InputTable};
use crate::explain::explain_shape;
use crate::formats::LineFormat;
use crate::options::StreamOptions;
use crate::output::{SqlDataset, SqlStream};
use crate::rows::Rows;
use crate::split::{split, Shape};
use crate::stages::to_rows;
use crate::windows::window_udfs;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use freshet::{DStream, Data, Dataset};
use serde::Serialize;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Where a registered stream's rows come from.
#[derive(Clone)]
enum StreamRows {
    /// Arrow rows.
    Rows(DStream<Rows>),
    /// Text lines, decoded by each query into the columns it reads.
    Lines {
        lines: DStream<String>,
        format: LineFormat,
        schema: SchemaRef,
    },
}

impl StreamRows {
    /// The stream's rows, with the columns `needed` (indices of its schema; `None`: all)
    /// decoded.
    fn rows(&self, needed: Option<Vec<usize>>) -> DStream<Rows> {
        match self {
            StreamRows::Rows(rows) => rows.clone(),
            StreamRows::Lines {
                lines,
                format,
                schema,
            } => {
                let (format, schema) = (format.clone(), schema.clone());
                lines.try_map_partitions(move |lines: Vec<String>| {
                    crate::formats::decode_columns(&format, &schema, needed.as_deref(), lines)
                })
            }
        }
    }
}

#[derive(Clone)]
enum Input {
    Stream(StreamRows, StreamOptions),
    Dataset(Dataset<Rows>),
}

/// The tables SQL queries read, and the queries: register streams (or datasets) and static
/// tables, then [`sql_stream`](Self::sql_stream) (or [`sql_dataset`](Self::sql_dataset)) turns
/// a query into a stream (dataset) of rows.
///
/// ```
/// use std::time::Duration;
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_sql::SqlContext;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Click { page: String, ms: u64 }
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)))?;
/// let clicks = ctx.queue_stream(vec![
///     vec![Click { page: "/a".into(), ms: 5 }, Click { page: "/b".into(), ms: 7 }],
///     vec![Click { page: "/a".into(), ms: 9 }],
/// ]);
/// let sql = SqlContext::new();
/// sql.register_stream("clicks", &clicks)?;
/// let counts = sql.sql_stream("SELECT page, count(*) AS n FROM clicks GROUP BY page")?;
/// let out = counts.records::<(String, i64)>().collect_batches();
/// ctx.run_available_now()?;
/// // A running count: each batch gives the groups it changed.
/// assert_eq!(out.sorted_batches(), vec![
///     vec![("/a".to_string(), 1), ("/b".to_string(), 1)],
///     vec![("/a".to_string(), 2)],
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqlContext {
    session: SessionContext,
    inputs: Mutex<HashMap<String, Input>>,
}

impl Default for SqlContext {
    fn default() -> Self {
        SqlContext::new()
    }
}

impl SqlContext {
    /// A context with no table.
    pub fn new() -> SqlContext {
        let session = SessionContext::new_with_config(session_config());
        for udf in window_udfs() {
            session.register_udf(udf);
        }
        SqlContext {
            session,
            inputs: Mutex::new(HashMap::new()),
        }
    }

    /// Registers `stream` as the table `name`, its columns the fields of `T` (traced by
    /// serde_arrow: structs of numbers, strings, booleans, options, nested structs and lists).
    pub fn register_stream<T: Data + Serialize>(
        &self,
        name: &str,
        stream: &DStream<T>,
    ) -> Result<()> {
        self.register_stream_with(name, stream, StreamOptions::default())
    }

    /// [`register_stream`](Self::register_stream) with options for windowed queries.
    pub fn register_stream_with<T: Data + Serialize>(
        &self,
        name: &str,
        stream: &DStream<T>,
        options: StreamOptions,
    ) -> Result<()> {
        let fields = fields_of::<T>(name)?;
        let schema = Arc::new(Schema::new(fields.clone()));
        let rows = stream.try_map_partitions(move |records: Vec<T>| to_rows(&fields, &records));
        self.register_rows(name, &rows, schema, options)
    }

    /// Registers a stream of Arrow rows of `schema` as the table `name`.
    pub fn register_rows(
        &self,
        name: &str,
        stream: &DStream<Rows>,
        schema: SchemaRef,
        options: StreamOptions,
    ) -> Result<()> {
        let stream = match options.window {
            Some((len, slide)) => stream.window(len, slide),
            None => stream.clone(),
        };
        self.register_input(
            name,
            schema,
            Input::Stream(StreamRows::Rows(stream), options),
        )
    }

    /// Registers a stream of text lines as the table `name`, each line decoded as `format`
    /// into rows of `schema` (see [`formats`](crate::formats) for inferring it). A line that
    /// does not decode fails the job, naming it.
    pub fn register_lines(
        &self,
        name: &str,
        lines: &DStream<String>,
        format: LineFormat,
        schema: SchemaRef,
        options: StreamOptions,
    ) -> Result<()> {
        let lines = match options.window {
            Some((len, slide)) => lines.window(len, slide),
            None => lines.clone(),
        };
        let input = StreamRows::Lines {
            lines,
            format,
            schema: schema.clone(),
        };
        self.register_input(name, schema, Input::Stream(input, options))
    }

    /// Registers `dataset` as the table `name`, for [`sql_dataset`](Self::sql_dataset).
    pub fn register_dataset<T: Data + Serialize>(
        &self,
        name: &str,
        dataset: &Dataset<T>,
    ) -> Result<()> {
        let fields = fields_of::<T>(name)?;
        let schema = Arc::new(Schema::new(fields.clone()));
        let rows = dataset.try_map_partitions(move |records: Vec<T>| to_rows(&fields, &records));
        self.register_dataset_rows(name, &rows, schema)
    }

    /// Registers a dataset of Arrow rows of `schema` as the table `name`.
    pub fn register_dataset_rows(
        &self,
        name: &str,
        dataset: &Dataset<Rows>,
        schema: SchemaRef,
    ) -> Result<()> {
        self.register_input(name, schema, Input::Dataset(dataset.clone()))
    }

    /// Registers a static table (a dimension table loaded at start), which every worker holds
    /// whole: a stream can be joined with it.
    pub fn register_table(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        self.check_free(name)?;
        let table = MemTable::try_new(schema, vec![batches]).map_err(SqlError::plan)?;
        self.session
            .register_table(name, Arc::new(table))
            .map_err(SqlError::plan)?;
        Ok(())
    }

    /// Registers `records` as a static table `name`, its columns the fields of `T`.
    pub fn register_table_records<T: Data + Serialize>(
        &self,
        name: &str,
        records: &[T],
    ) -> Result<()> {
        let fields = fields_of::<T>(name)?;
        let schema = Arc::new(Schema::new(fields.clone()));
        let batches = to_rows(&fields, records)?
            .map(|r| r.0)
            .into_iter()
            .collect();
        self.register_table(name, schema, batches)
    }

    /// Plans `query` over the registered streams: the stream of its results. The query reads
    /// one stream (joined, if it likes, with static tables); what streaming SQL supports is in
    /// the crate's documentation, and anything else is refused here with an error naming it.
    pub fn sql_stream(&self, query: &str) -> Result<SqlStream> {
        let (shape, inputs) = self.plan(query)?;
        let schema = output_schema(&shape);
        let mut streams = Vec::new();
        let mut watermark = None;
        let mut windowed = false;
        for (name, input, needed) in inputs {
            match input {
                Input::Stream(stream, options) => {
                    windowed |= options.window.is_some();
                    // A windowed aggregation after a join of streams follows the watermark of
                    // the first stream the query names.
                    watermark.get_or_insert_with(|| options.watermark());
                    streams.push((name, stream.rows(needed)));
                }
                Input::Dataset(_) => {
                    return Err(SqlError::Catalog(format!(
                        "`{name}` is a dataset: query it with sql_dataset"
                    )))
                }
            }
        }
        let watermark = watermark.expect("a query reads at least one input");
        Ok(SqlStream::new(
            crate::pipeline::stream(shape, &streams, &watermark, windowed)?,
            schema,
        ))
    }

    /// Plans `query` over the registered datasets, as a batch job: the same operators as
    /// [`sql_stream`](Self::sql_stream) over one finite batch.
    pub fn sql_dataset(&self, query: &str) -> Result<SqlDataset> {
        let (shape, inputs) = self.plan(query)?;
        let schema = output_schema(&shape);
        let mut datasets = Vec::new();
        for (name, input, _) in inputs {
            match input {
                Input::Dataset(dataset) => datasets.push((name, dataset)),
                Input::Stream(..) => {
                    return Err(SqlError::Catalog(format!(
                        "`{name}` is a stream: query it with sql_stream"
                    )))
                }
            }
        }
        Ok(SqlDataset::new(
            crate::pipeline::dataset(shape, &datasets)?,
            schema,
        ))
    }

    /// How `query` maps onto Freshet's operators: what DataFusion evaluates on each worker,
    /// where records are exchanged, and what is kept as state.
    pub fn explain(&self, query: &str) -> Result<String> {
        let (shape, inputs) = self.plan(query)?;
        let names: Vec<String> = inputs.iter().map(|(n, _, _)| n.clone()).collect();
        let options = match &inputs[0].1 {
            Input::Stream(_, options) => Some(options.clone()),
            Input::Dataset(_) => None,
        };
        Ok(explain_shape(&shape, &names, options.as_ref()))
    }

    /// The query's shape, and the inputs it reads with the columns it reads of each.
    #[allow(clippy::type_complexity)]
    fn plan(&self, query: &str) -> Result<(Shape, Vec<(String, Input, Option<Vec<usize>>)>)> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| SqlError::Execution(format!("cannot start a runtime: {e}")))?;
        let plan: LogicalPlan = runtime.block_on(async {
            let df = self
                .session
                .sql_with_options(query, options)
                .await
                .map_err(SqlError::plan)?;
            let plan = df.into_unoptimized_plan();
            // The optimizer turns `count(DISTINCT x)` into two aggregations: refuse it by name
            // before that.
            crate::split::check_no_distinct_aggregate(&plan)?;
            self.session.state().optimize(&plan).map_err(SqlError::plan)
        })?;
        let inputs = self
            .inputs
            .lock()
            .expect("the inputs' lock is never poisoned")
            .clone();
        let names: HashSet<String> = inputs.keys().cloned().collect();
        let (shape, reads) = split(&plan, &names)?;
        if reads.len() > usize::from(u8::MAX) {
            return Err(SqlError::Unsupported(format!(
                "a query reading {} streams (at most {})",
                reads.len(),
                u8::MAX
            )));
        }
        let reads = reads
            .into_iter()
            .map(|name| {
                let input = inputs[&name].clone();
                let needed = columns_read(&plan, &name);
                (name, input, needed)
            })
            .collect();
        Ok((shape, reads))
    }

    fn register_input(&self, name: &str, schema: SchemaRef, input: Input) -> Result<()> {
        self.check_free(name)?;
        self.session
            .register_table(name, Arc::new(InputTable::new(name, schema)))
            .map_err(SqlError::plan)?;
        self.inputs
            .lock()
            .expect("the inputs' lock is never poisoned")
            .insert(name.to_string(), input);
        Ok(())
    }

    fn check_free(&self, name: &str) -> Result<()> {
        match self.session.table_exist(name) {
            Ok(false) => Ok(()),
            Ok(true) => Err(SqlError::Catalog(format!(
                "a table named `{name}` is already registered"
            ))),
            Err(e) => Err(SqlError::plan(e)),
        }
    }
}

/// The columns of `table` that `plan` reads (`None`: all of them).
fn columns_read(plan: &LogicalPlan, table: &str) -> Option<Vec<usize>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut needed = None;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if scan.table_name.table() == table {
                needed = scan.projection.clone();
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    needed
}

fn output_schema(shape: &Shape) -> SchemaRef {
    let plan = match shape {
        Shape::Stateless { plan } => plan,
        Shape::Aggregate(a) => &a.post,
    };
    Arc::new(plan.schema().as_arrow().clone())
}

fn fields_of<T: Data>(name: &str) -> Result<Vec<FieldRef>> {
    Vec::<FieldRef>::from_type::<T>(TracingOptions::default().allow_null_fields(true)).map_err(
        |e| {
            SqlError::Arrow(format!(
                "the records of `{name}` ({}) have no Arrow schema: {e}",
                std::any::type_name::<T>()
            ))
        },
    )
}
