//! Prometheus text at `/metrics`.
//!
//! Counters and gauges are read from the context's snapshots at scrape time (a
//! [`Collector`]), so the job pays nothing between scrapes. The three delay histograms are
//! fed by the UI's listener as batches complete, since a histogram must see every batch.

use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use freshet::metrics::ReceiverState;
use freshet::{BatchInfo, StreamingContext};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt::Error as FmtError;
use std::sync::Arc;

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Histograms of the batch delays, in seconds.
#[derive(Debug)]
pub(crate) struct Histograms {
    processing: Histogram,
    scheduling: Histogram,
    total: Histogram,
}

fn delay_buckets() -> Vec<f64> {
    // 1 ms .. ~65 s.
    prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 17).collect()
}

impl Histograms {
    fn new() -> Self {
        Histograms {
            processing: Histogram::new(delay_buckets()),
            scheduling: Histogram::new(delay_buckets()),
            total: Histogram::new(delay_buckets()),
        }
    }

    /// Records one completed batch.
    pub fn observe(&self, b: &BatchInfo) {
        self.processing.observe(b.processing_time.as_secs_f64());
        self.scheduling.observe(b.scheduling_delay.as_secs_f64());
        self.total.observe(b.total_delay.as_secs_f64());
    }
}

/// The registry of one UI server.
pub(crate) struct Prometheus {
    registry: Registry,
    histograms: Arc<Histograms>,
}

impl Prometheus {
    pub fn new(ctx: StreamingContext) -> Self {
        let histograms = Arc::new(Histograms::new());
        let mut registry = Registry::with_prefix("freshet");
        registry.register_with_unit(
            "batch_processing",
            "Time from the start of a batch to the completion of every output operation",
            Unit::Seconds,
            histograms.processing.clone(),
        );
        registry.register_with_unit(
            "batch_scheduling_delay",
            "Time from a batch's time to the start of its processing",
            Unit::Seconds,
            histograms.scheduling.clone(),
        );
        registry.register_with_unit(
            "batch_total_delay",
            "Scheduling delay plus processing time of a batch",
            Unit::Seconds,
            histograms.total.clone(),
        );
        registry.register_collector(Box::new(Snapshot { ctx }));
        Prometheus {
            registry,
            histograms,
        }
    }

    pub fn histograms(&self) -> Arc<Histograms> {
        self.histograms.clone()
    }

    /// The whole registry in the text format.
    pub fn encode(&self) -> Result<String, FmtError> {
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The content type a browser shows as text (the same body).
const BROWSER_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// `GET /metrics`: OpenMetrics text, labelled as such for a scraper that asks for it
/// (Prometheus does), and as plain text otherwise, so that a browser shows it instead of
/// downloading it.
pub(crate) async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let content_type = if wants_openmetrics {
        CONTENT_TYPE
    } else {
        BROWSER_CONTENT_TYPE
    };
    let Some(prometheus) = &s.prometheus else {
        return (
            StatusCode::NOT_FOUND,
            "a recorded run has no metrics: they are scraped from the running job\n",
        )
            .into_response();
    };
    match prometheus.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

/// Reads the context's figures at scrape time.
struct Snapshot {
    ctx: StreamingContext,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

pub(crate) fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), FmtError> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

pub(crate) fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: f64,
) -> Result<(), FmtError> {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, unit, g.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), FmtError> {
        let ctx = &self.ctx;
        let running = ctx.is_running();
        gauge(
            &mut e,
            "running",
            "1 while the streaming context runs",
            None,
            f64::from(u8::from(running)),
        )?;
        gauge(
            &mut e,
            "batch_interval",
            "The batch interval",
            Some(&Unit::Seconds),
            ctx.batch_interval().as_secs_f64(),
        )?;
        counter(
            &mut e,
            "batches_completed",
            "Batches completed since the start",
            ctx.batches_completed(),
        )?;
        gauge(
            &mut e,
            "active_batches",
            "Batches planned and not completed",
            None,
            ctx.active_batches().len() as f64,
        )?;
        let backlog = ctx.backlog();
        gauge(
            &mut e,
            "backlog_batches",
            "Batches whose time has come and that have not completed",
            None,
            backlog.batches as f64,
        )?;
        gauge(
            &mut e,
            "falling_behind",
            "1 when batches wait that could not even start: processing is slower than the batch interval",
            None,
            if backlog.falling_behind { 1.0 } else { 0.0 },
        )?;
        counter(
            &mut e,
            "skipped_records",
            "Malformed or unreadable inputs skipped by the sources",
            ctx.skipped_records(),
        )?;
        counter(
            &mut e,
            "lost_records",
            "Records of the write-ahead or batch log lost to damage and skipped by policy",
            ctx.lost_records(),
        )?;
        counter(
            &mut e,
            "disk_full_waits",
            "Writes to the checkpoint directory that waited for disk space",
            ctx.disk_full_waits(),
        )?;

        let last = ctx.recent_batches().last().cloned().unwrap_or(BatchInfo {
            time: freshet::BatchTime(0),
            records: 0,
            scheduling_delay: Default::default(),
            processing_time: Default::default(),
            total_delay: Default::default(),
        });
        gauge(
            &mut e,
            "last_batch_records",
            "Input records of the most recent completed batch",
            None,
            last.records as f64,
        )?;
        gauge(
            &mut e,
            "last_batch_processing",
            "Processing time of the most recent completed batch",
            Some(&Unit::Seconds),
            last.processing_time.as_secs_f64(),
        )?;
        gauge(
            &mut e,
            "last_batch_scheduling_delay",
            "Scheduling delay of the most recent completed batch",
            Some(&Unit::Seconds),
            last.scheduling_delay.as_secs_f64(),
        )?;
        gauge(
            &mut e,
            "last_batch_total_delay",
            "Total delay of the most recent completed batch",
            Some(&Unit::Seconds),
            last.total_delay.as_secs_f64(),
        )?;

        let sources = ctx.sources_status();
        counter(
            &mut e,
            "input_records",
            "Records fed by every source since the start",
            sources.iter().map(|s| s.records_total).sum(),
        )?;
        let labels: Vec<[(&str, String); 2]> = sources
            .iter()
            .map(|s| [("source", s.name.clone()), ("source_id", s.id.to_string())])
            .collect();
        {
            let mut m = e.encode_descriptor(
                "source_records",
                "Records fed by a source since the start",
                None,
                MetricType::Counter,
            )?;
            for (s, l) in sources.iter().zip(&labels) {
                ConstCounter::new(s.records_total).encode(m.encode_family(l)?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "source_rate",
                "Records per second of batch time a source fed over its last 10 batches",
                None,
                MetricType::Gauge,
            )?;
            for (s, l) in sources.iter().zip(&labels) {
                ConstGauge::new(s.rate_per_sec).encode(m.encode_family(l)?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "source_lag_records",
                "How many records a source is behind its input, where it knows",
                None,
                MetricType::Gauge,
            )?;
            for (s, l) in sources.iter().zip(&labels) {
                if let Some(lag) = s.lag {
                    ConstGauge::new(lag as f64).encode(m.encode_family(l)?)?;
                }
            }
        }
        {
            let mut m = e.encode_descriptor(
                "source_partition_lag_records",
                "How many records a source's partition is behind its input (high watermark minus next offset)",
                None,
                MetricType::Gauge,
            )?;
            for (s, [source, id]) in sources.iter().zip(&labels) {
                for (partition, lag) in &s.partition_lag {
                    let l = [source.clone(), id.clone(), ("partition", partition.clone())];
                    ConstGauge::new(*lag as f64).encode(m.encode_family(&l)?)?;
                }
            }
        }
        {
            let mut m = e.encode_descriptor(
                "source_rate_limit_records_per_second",
                "The most records per second a source admits now (its maximum or the backpressure estimate), where it has a limit",
                None,
                MetricType::Gauge,
            )?;
            for (s, l) in sources.iter().zip(&labels) {
                if let Some(limit) = s.rate_limit {
                    ConstGauge::new(limit).encode(m.encode_family(l)?)?;
                }
            }
        }
        {
            let mut m = e.encode_descriptor(
                "receiver_up",
                "1 while a source receives (sources without a receiver: while the job runs)",
                None,
                MetricType::Gauge,
            )?;
            for (s, l) in sources.iter().zip(&labels) {
                let up = match s.state {
                    ReceiverState::Running => true,
                    ReceiverState::NotAReceiver => running,
                    ReceiverState::Restarting | ReceiverState::Stopped => false,
                };
                ConstGauge::new(i64::from(up)).encode(m.encode_family(l)?)?;
            }
        }

        let graph = ctx.pipeline_graph();
        {
            let mut m = e.encode_descriptor(
                "operator_records",
                "Records an operator emitted since the start",
                None,
                MetricType::Counter,
            )?;
            for n in &graph.nodes {
                let l = [
                    ("operator", n.name.clone()),
                    ("node", n.id.to_string()),
                    ("kind", n.kind.as_str().to_string()),
                ];
                ConstCounter::new(n.records_total).encode(m.encode_family(&l)?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "state_keys",
                "Keys held by a stateful operator, summed over the workers",
                None,
                MetricType::Gauge,
            )?;
            for s in ctx.state_sizes() {
                let l = [("operator", s.name.clone()), ("node", s.node.to_string())];
                ConstGauge::new(s.keys as i64).encode(m.encode_family(&l)?)?;
            }
        }
        let (last, written) = ctx.checkpoints_written();
        counter(
            &mut e,
            "checkpoints",
            "Checkpoints written since the start",
            written,
        )?;
        if let Some(c) = last {
            gauge(
                &mut e,
                "last_checkpoint_duration",
                "How long writing the most recent checkpoint took",
                Some(&Unit::Seconds),
                c.duration.as_secs_f64(),
            )?;
            gauge(
                &mut e,
                "last_checkpoint_size",
                "State snapshot bytes of the most recent checkpoint",
                Some(&Unit::Bytes),
                c.bytes as f64,
            )?;
        }
        crate::prom_health::encode(ctx, &mut e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet::source::{DirectSource, ReadContext, SplitReader, StartContext};
    use freshet::{BatchTime, ManualClock, SourceError, StreamingConfig};
    use std::time::Duration;

    /// A source of two partitions that reports how much each holds beyond the offset.
    struct Partitioned {
        sizes: Vec<u64>,
    }

    struct Nothing;

    impl SplitReader for Nothing {
        type Split = ();
        type Item = u64;

        fn read(&self, _: &(), _: &mut Vec<u64>, _: &ReadContext<'_>) -> Result<(), SourceError> {
            Ok(())
        }
    }

    impl DirectSource for Partitioned {
        type Item = u64;
        type Offset = u64;
        type Split = ();
        type Reader = Nothing;

        fn kind(&self) -> &'static str {
            "partitioned"
        }

        fn describe(&self) -> String {
            "two partitions".into()
        }

        fn start(&mut self, _: &StartContext) -> Result<u64, SourceError> {
            Ok(0)
        }

        fn latest(&mut self, from: &u64) -> Result<u64, SourceError> {
            Ok(*from)
        }

        fn splits(&mut self, _: &u64, _: &u64, _: usize) -> Result<Vec<()>, SourceError> {
            Ok(Vec::new())
        }

        fn reader(&self) -> Nothing {
            Nothing
        }

        fn lag(&self, _: &u64) -> Option<u64> {
            Some(self.sizes.iter().sum())
        }

        fn lag_by_partition(&self, _: &u64) -> Vec<(String, u64)> {
            self.sizes
                .iter()
                .enumerate()
                .map(|(p, n)| (format!("t/{p}"), *n))
                .collect()
        }
    }

    #[test]
    fn partition_lag_is_a_gauge_per_partition() {
        let clock = ManualClock::new(0);
        let ctx = StreamingContext::with_clock(
            StreamingConfig::new(Duration::from_millis(100)).stop_on_ctrl_c(false),
            Arc::new(clock.clone()),
        )
        .unwrap();
        ctx.direct_stream(Partitioned { sizes: vec![7, 1] })
            .uid("clicks")
            .foreach_batch(|_, _| {});
        ctx.queue_stream(vec![vec![1u64]]).foreach_batch(|_, _| {});
        let prometheus = Prometheus::new(ctx.clone());
        ctx.start().unwrap();
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100), Duration::from_secs(10))
            .unwrap();
        let text = prometheus.encode().unwrap();
        let (name, id) = ctx
            .sources_status()
            .iter()
            .find(|s| s.name.starts_with("clicks"))
            .map(|s| (s.name.clone(), s.id))
            .unwrap_or_else(|| panic!("no source clicks in\n{text}"));
        ctx.stop(false).unwrap();

        for line in [
            "# HELP freshet_source_partition_lag_records How many records a source's partition is behind its input (high watermark minus next offset)".to_string(),
            "# TYPE freshet_source_partition_lag_records gauge".to_string(),
            format!("freshet_source_partition_lag_records{{source=\"{name}\",source_id=\"{id}\",partition=\"t/0\"}} 7"),
            format!("freshet_source_partition_lag_records{{source=\"{name}\",source_id=\"{id}\",partition=\"t/1\"}} 1"),
            format!("freshet_source_lag_records{{source=\"{name}\",source_id=\"{id}\"}} 8"),
        ] {
            assert!(
                text.lines().any(|l| l == line || l.starts_with(&format!("{line}."))),
                "no line {line:?} in\n{text}"
            );
        }
        let partition_lines = text
            .lines()
            .filter(|l| l.starts_with("freshet_source_partition_lag_records{"))
            .count();
        assert_eq!(partition_lines, 2, "{text}");
    }
}
