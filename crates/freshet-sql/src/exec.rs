//! Running a DataFusion logical plan over one worker's records of one batch.
//!
//! A plan is built once per query and shared by every worker. The inputs it scans are
//! [`InputTable`]s, which hold no data: a worker thread sets the record batches of its
//! partition ([`run_plan`]) and the scan made while planning that run reads them. Each worker
//! thread keeps one DataFusion session and one single-threaded Tokio runtime for this, so
//! evaluation stays on the worker's thread.

use crate::error::{Result, SqlError};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionState;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A table whose rows are those of the current batch on the current worker: a stream, a
/// dataset's partition, or the groups an aggregation produced.
#[derive(Debug)]
pub struct InputTable {
    name: String,
    schema: SchemaRef,
}

impl InputTable {
    /// A table named `name` (the key [`run_plan`] sets its rows under) with `schema`.
    pub fn new(name: impl Into<String>, schema: SchemaRef) -> InputTable {
        InputTable {
            name: name.into(),
            schema,
        }
    }
}

thread_local! {
    /// The rows of each input table for the plan this thread is running.
    static INPUTS: RefCell<HashMap<String, Vec<RecordBatch>>> = RefCell::new(HashMap::new());
    /// This thread's DataFusion session and runtime, made on first use.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

struct Worker {
    state: SessionState,
    runtime: tokio::runtime::Runtime,
}

/// The configuration of every session: one partition (a worker is one thread, and Freshet
/// runs one worker per core), so DataFusion does not repartition within a batch.
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(1)
        .with_information_schema(false)
}

#[async_trait::async_trait]
impl TableProvider for InputTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let batches = INPUTS.with(|inputs| inputs.borrow().get(&self.name).cloned());
        let Some(batches) = batches else {
            return datafusion::common::plan_err!(
                "the input `{}` is read outside of a batch",
                self.name
            );
        };
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// Runs `plan` (already optimized) with the input tables set to `inputs`, on this thread.
pub fn run_plan(
    plan: &LogicalPlan,
    inputs: Vec<(String, Vec<RecordBatch>)>,
) -> Result<Vec<RecordBatch>> {
    INPUTS.with(|cell| {
        let mut map = cell.borrow_mut();
        map.clear();
        map.extend(inputs);
    });
    let result = WORKER.with(|cell| {
        let mut worker = cell.borrow_mut();
        let worker = match worker.as_mut() {
            Some(w) => w,
            None => worker.insert(Worker::new()?),
        };
        let state = &worker.state;
        worker.runtime.block_on(async {
            let physical = state
                .query_planner()
                .create_physical_plan(plan, state)
                .await
                .map_err(SqlError::execution)?;
            datafusion::physical_plan::collect(physical, state.task_ctx())
                .await
                .map_err(SqlError::execution)
        })
    });
    INPUTS.with(|cell| cell.borrow_mut().clear());
    result
}

impl Worker {
    fn new() -> Result<Worker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| SqlError::Execution(format!("cannot start a runtime: {e}")))?;
        let state = SessionStateBuilder::new()
            .with_config(session_config())
            .with_default_features()
            .build();
        Ok(Worker { state, runtime })
    }
}
