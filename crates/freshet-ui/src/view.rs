//! What the UI shows: a running context ([`LiveView`]) or a recorded run (the history server's
//! view, in `history.rs`). Both answer in the same JSON shapes, so one page and one API serve
//! both.

use crate::json;
use freshet::{BatchTime, StreamingContext};
use serde_json::Value;

/// The figures the API, the event stream and the page read.
pub(crate) trait View: Send + Sync {
    /// The running context, if this view is of one (a recorded run has none).
    fn context(&self) -> Option<&StreamingContext>;
    /// `GET /api/v1/status`.
    fn status(&self) -> Value;
    /// Completed batches, oldest first, each with its `time`.
    fn batches(&self) -> Vec<Value>;
    /// One completed batch with its operators', sources' and workers' figures.
    fn batch_detail(&self, time: u64) -> Option<Value>;
    /// Batches planned and not completed.
    fn active(&self) -> Value;
    /// The pipeline graph.
    fn graph(&self) -> Value;
    /// Every source's figures.
    fn sources(&self) -> Value;
    /// The latest batch of every published output, each with its `name`.
    fn outputs(&self) -> Vec<Value>;
    /// Checkpoints, incidents, output operations, watermarks, workers and processes.
    fn health(&self) -> Value;
    /// The processes of the job (`{processes: []}` for a job of one process).
    fn cluster(&self) -> Value;
    /// Everything the page shows besides the batch series: the status with `active`,
    /// `graph`, `sources`, `outputs` and `health`.
    fn snapshot(&self) -> Value {
        let mut s = self.status();
        s["active"] = self.active();
        s["graph"] = self.graph();
        s["sources"] = self.sources();
        s["outputs"] = Value::Array(self.outputs());
        s["health"] = self.health();
        s
    }
}

/// The view of a running (or finished) context in this process.
pub(crate) struct LiveView {
    pub ctx: StreamingContext,
}

impl View for LiveView {
    fn context(&self) -> Option<&StreamingContext> {
        Some(&self.ctx)
    }

    fn status(&self) -> Value {
        json::status_json(&self.ctx)
    }

    fn batches(&self) -> Vec<Value> {
        let interval = self.ctx.batch_interval();
        self.ctx
            .recent_batches()
            .iter()
            .map(|b| json::batch_json(b, interval))
            .collect()
    }

    fn batch_detail(&self, time: u64) -> Option<Value> {
        self.ctx
            .batch_detail(BatchTime(time))
            .map(|d| json::detail_json(&d, self.ctx.batch_interval()))
    }

    fn active(&self) -> Value {
        self.ctx
            .active_batches()
            .iter()
            .map(json::active_json)
            .collect()
    }

    fn graph(&self) -> Value {
        json::graph_json(&self.ctx.pipeline_graph())
    }

    fn sources(&self) -> Value {
        self.ctx
            .sources_status()
            .iter()
            .map(json::source_json)
            .collect()
    }

    fn outputs(&self) -> Vec<Value> {
        self.ctx
            .published_outputs()
            .iter()
            .map(json::output_json)
            .collect()
    }

    fn health(&self) -> Value {
        json::health_json(&self.ctx)
    }

    fn cluster(&self) -> Value {
        json::cluster_json(self.ctx.cluster_status().as_ref())
    }
}
