//! The metrics an alert or a dashboard watches besides the batch figures: checkpoint failures,
//! receiver errors and restarts, per-worker busy time, the processes of a cluster, output
//! durations, watermarks and late records.

use crate::prom::{counter, gauge};
use freshet::StreamingContext;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt::Error as FmtError;

/// Writes the health metrics of `ctx` into `e`.
pub(crate) fn encode(ctx: &StreamingContext, e: &mut DescriptorEncoder) -> Result<(), FmtError> {
    let history = ctx.checkpoint_history();
    counter(
        e,
        "checkpoint_failures",
        "Checkpoints that could not be written since the start",
        history.failed,
    )?;

    let sources = ctx.sources_status();
    let labels: Vec<[(&str, String); 2]> = sources
        .iter()
        .map(|s| [("source", s.name.clone()), ("source_id", s.id.to_string())])
        .collect();
    {
        let mut m = e.encode_descriptor(
            "receiver_errors",
            "Times a source's receiver failed since the start",
            None,
            MetricType::Counter,
        )?;
        for (s, l) in sources.iter().zip(&labels) {
            ConstCounter::new(s.errors).encode(m.encode_family(l)?)?;
        }
    }
    {
        let mut m = e.encode_descriptor(
            "receiver_restarts",
            "Times a source's receiver was restarted after a failure",
            None,
            MetricType::Counter,
        )?;
        for (s, l) in sources.iter().zip(&labels) {
            ConstCounter::new(s.restarts).encode(m.encode_family(l)?)?;
        }
    }
    {
        let mut m = e.encode_descriptor(
            "worker_busy",
            "Time a worker's operators ran since the start",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        for (worker, busy) in ctx.worker_busy().iter().enumerate() {
            let l = [("worker", worker.to_string())];
            ConstCounter::new(busy.as_secs_f64()).encode(m.encode_family(&l)?)?;
        }
    }
    cluster(ctx, e)?;
    {
        let mut m = e.encode_descriptor(
            "output_duration",
            "How long an output operation's own work took for its most recent batch",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        for o in ctx.outputs_status() {
            let l = [("output", o.id.clone()), ("kind", o.kind.clone())];
            ConstGauge::new(o.last_duration.as_secs_f64()).encode(m.encode_family(&l)?)?;
        }
    }
    let event_time = ctx.event_time_status();
    {
        let mut m = e.encode_descriptor(
            "watermark",
            "The event-time watermark of a window operator, in seconds since the Unix epoch of event time",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        for o in &event_time {
            if let Some(w) = o.watermark {
                let l = [("operator", o.name.clone()), ("node", o.node.to_string())];
                ConstGauge::new(w as f64 / 1000.0).encode(m.encode_family(&l)?)?;
            }
        }
    }
    {
        let mut m = e.encode_descriptor(
            "late_records",
            "Records that arrived below an event-time operator's watermark since the start",
            None,
            MetricType::Counter,
        )?;
        for o in &event_time {
            let l = [("operator", o.name.clone()), ("node", o.node.to_string())];
            ConstCounter::new(o.late_records).encode(m.encode_family(&l)?)?;
        }
    }
    Ok(())
}

/// The processes of the job: how many, and for each (in a cluster) whether it is connected and
/// how long ago it was last heard from (0 for the process that serves the metrics).
fn cluster(ctx: &StreamingContext, e: &mut DescriptorEncoder) -> Result<(), FmtError> {
    let status = ctx.cluster_status();
    // Before the start a cluster has no status yet; its configuration says how many it has.
    let processes = match &status {
        Some(c) => c.processes.len(),
        None => ctx
            .config()
            .cluster_config()
            .ok()
            .flatten()
            .map_or(1, |c| c.processes()),
    };
    gauge(
        e,
        "cluster_processes",
        "The processes the job runs on (1 without a cluster)",
        None,
        processes as f64,
    )?;
    let entries = status.as_ref().map_or(&[][..], |c| c.processes.as_slice());
    {
        let mut m = e.encode_descriptor(
            "cluster_process_connected",
            "1 while a process of the cluster is connected to the driver",
            None,
            MetricType::Gauge,
        )?;
        for p in entries {
            let l = [("process", p.process.to_string())];
            ConstGauge::new(i64::from(p.connected)).encode(m.encode_family(&l)?)?;
        }
    }
    {
        let mut m = e.encode_descriptor(
            "cluster_process_last_heard",
            "How long ago a process of the cluster was last heard from (0 for the reporting process)",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        let this = status.as_ref().map(|c| c.this_process);
        for p in entries {
            let seconds = match p.last_heard_ms {
                Some(ms) => ms as f64 / 1000.0,
                None if Some(p.process) == this => 0.0,
                None => continue,
            };
            let l = [("process", p.process.to_string())];
            ConstGauge::new(seconds).encode(m.encode_family(&l)?)?;
        }
    }
    Ok(())
}
