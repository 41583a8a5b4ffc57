//! `Context`: the native side of `freshet.StreamingContext`.

use crate::coll::{seconds, Base, Coll};
use crate::convert::from_py_iter;
use crate::errors::{to_py_err, FreshetError};
use crate::function::PyFunction;
use crate::value::Value;
use freshet::source::file_stream::FileStreamOptions;
use freshet::source::generator::GeneratorOptions;
use freshet::{Clock, ManualClock, StreamingConfig, StreamingContext};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most workers a context takes.
const MAX_WORKERS: i64 = 1024;

/// A streaming context: its sources, its life cycle, and the optional web UI.
#[pyclass(frozen, module = "freshet._native")]
pub struct Context {
    ctx: StreamingContext,
    /// The manual clock driving batches, when the context was made with one (tests).
    manual: Option<Arc<ManualClock>>,
    ui: Mutex<Option<freshet_ui::UiServer>>,
}

impl Context {
    fn stream(&self, s: freshet::DStream<Value>) -> Coll {
        Coll::new(Base::Stream(s))
    }

    /// The engine's context.
    pub(crate) fn context(&self) -> &StreamingContext {
        &self.ctx
    }
}

#[pymethods]
impl Context {
    #[new]
    #[pyo3(signature = (batch_interval, workers=1, checkpoint_interval=None, manual_clock_start_ms=None))]
    fn new(
        batch_interval: f64,
        workers: i64,
        checkpoint_interval: Option<i64>,
        manual_clock_start_ms: Option<u64>,
    ) -> PyResult<Context> {
        let interval = seconds("batch_interval", batch_interval)?;
        if interval < Duration::from_millis(1) {
            return Err(PyValueError::new_err(format!(
                "batch_interval must be at least 0.001 s, got {batch_interval}"
            )));
        }
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(PyValueError::new_err(format!(
                "workers must be between 1 and {MAX_WORKERS}, got {workers}"
            )));
        }
        let mut config = StreamingConfig::new(interval)
            .workers(workers as usize)
            .stop_on_ctrl_c(false);
        if let Some(n) = checkpoint_interval {
            if !(1..=1_000_000).contains(&n) {
                return Err(PyValueError::new_err(format!(
                    "checkpoint_interval must be between 1 and 1000000 batches, got {n}"
                )));
            }
            config = config.checkpoint_interval(n as u64);
        }
        let (ctx, manual) = match manual_clock_start_ms {
            Some(start) => {
                let clock = Arc::new(ManualClock::new(start));
                let as_clock: Arc<dyn Clock> = clock.clone();
                (StreamingContext::with_clock(config, as_clock), Some(clock))
            }
            None => (StreamingContext::new(config), None),
        };
        Ok(Context {
            ctx: ctx.map_err(to_py_err)?,
            manual,
            ui: Mutex::new(None),
        })
    }

    /// The batch interval in seconds.
    fn batch_interval(&self) -> f64 {
        self.ctx.batch_interval().as_secs_f64()
    }

    fn workers(&self) -> usize {
        self.ctx.config().worker_count()
    }

    // ---- sources ----

    fn queue_stream(&self, batches: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let batches = batches
            .try_iter()?
            .map(|b| from_py_iter(&b?))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(self.stream(self.ctx.queue_stream(batches)))
    }

    #[pyo3(signature = (directory, include_existing=false, max_files_per_batch=None))]
    fn text_file_stream(
        &self,
        directory: String,
        include_existing: bool,
        max_files_per_batch: Option<i64>,
    ) -> PyResult<Coll> {
        let mut options = FileStreamOptions::new().include_existing(include_existing);
        if let Some(n) = max_files_per_batch {
            if !(1..=1_000_000).contains(&n) {
                return Err(PyValueError::new_err(format!(
                    "max_files_per_batch must be between 1 and 1000000, got {n}"
                )));
            }
            options = options.max_files_per_batch(n as usize);
        }
        let lines = self.ctx.text_file_stream_with(directory, options);
        Ok(self.stream(lines.map(Value::Str)))
    }

    fn socket_text_stream(&self, hostname: String, port: u16) -> PyResult<Coll> {
        let lines = self.ctx.socket_text_stream(format!("{hostname}:{port}"));
        Ok(self.stream(lines.map(Value::Str)))
    }

    /// Records `f(i)` for i = 0, 1, 2, ... at `rate` records per second (`limit` in all).
    #[pyo3(signature = (f, rate, limit=None))]
    fn generator_stream(
        &self,
        f: &Bound<'_, PyAny>,
        rate: i64,
        limit: Option<i64>,
    ) -> PyResult<Coll> {
        if !(1..=1_000_000_000).contains(&rate) {
            return Err(PyValueError::new_err(format!(
                "rate must be between 1 and 1000000000 records per second, got {rate}"
            )));
        }
        let mut options = GeneratorOptions::rate(rate as u64);
        if let Some(n) = limit {
            if n < 0 {
                return Err(PyValueError::new_err(format!(
                    "limit must be 0 or more, got {n}"
                )));
            }
            options = options.limit(n as u64);
        }
        let make = crate::calls::unary(&PyFunction::new(f)?);
        Ok(self.stream(
            self.ctx
                .generator_stream(options, move |i| make(Value::Int(i as i64))),
        ))
    }

    fn union(&self, streams: Vec<PyRef<'_, Coll>>) -> PyResult<Coll> {
        let mut bases = Vec::new();
        for s in &streams {
            match s.base() {
                Base::Stream(s) => bases.push(s),
                Base::Batch(_) => {
                    return Err(pyo3::exceptions::PyTypeError::new_err(
                        "union takes streams (DStream), not datasets",
                    ))
                }
            }
        }
        if bases.is_empty() {
            return Err(PyValueError::new_err("union needs at least one stream"));
        }
        Ok(self.stream(self.ctx.union(&bases)))
    }

    // ---- life cycle ----

    fn checkpoint(&self, directory: String) -> PyResult<()> {
        self.ctx.checkpoint(directory).map_err(to_py_err)
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.ctx.start()).map_err(to_py_err)
    }

    fn run_available_now(&self, py: Python<'_>) -> PyResult<()> {
        let ctx = self.ctx.clone();
        py.detach(|| ctx.start_available_now()).map_err(to_py_err)?;
        self.wait(py, None).map(|_| ())
    }

    /// Waits for the run to end (or `timeout` seconds); `True` when it ended. Ctrl-C stops the
    /// run and raises `KeyboardInterrupt`.
    #[pyo3(signature = (timeout=None))]
    fn await_termination(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = match timeout {
            Some(t) => Some(seconds("timeout", t)?),
            None => None,
        };
        self.wait(py, timeout)
    }

    #[pyo3(signature = (graceful=true))]
    fn stop(&self, py: Python<'_>, graceful: bool) -> PyResult<()> {
        py.detach(|| self.ctx.stop(graceful)).map_err(to_py_err)
    }

    fn is_running(&self) -> bool {
        self.ctx.is_running()
    }

    fn batches_completed(&self) -> u64 {
        self.ctx.batches_completed()
    }

    /// Moves the manual clock on by `seconds` (contexts made with a manual clock only).
    fn advance_clock(&self, secs: f64) -> PyResult<()> {
        let clock = self.manual.as_ref().ok_or_else(|| {
            FreshetError::new_err("advance_clock needs a context made with a manual clock")
        })?;
        clock.advance(seconds("seconds", secs)?);
        Ok(())
    }

    /// Waits until the batch of time `millis` is complete (at most `timeout` seconds).
    fn await_batch(&self, py: Python<'_>, millis: u64, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        py.detach(|| self.ctx.await_batch(freshet::BatchTime(millis), timeout))
            .map_err(to_py_err)
    }

    /// Serves the web UI (and the JSON API and Prometheus metrics) at `addr`; returns its URL.
    #[pyo3(signature = (addr="127.0.0.1:4040", token=None))]
    fn serve_ui(&self, addr: &str, token: Option<String>) -> PyResult<String> {
        let addr = addr.parse().map_err(|e| {
            PyValueError::new_err(format!(
                "addr must be HOST:PORT (an IP address), got {addr:?}: {e}"
            ))
        })?;
        let mut config = freshet_ui::UiConfig::new(addr);
        if let Some(t) = token {
            config = config.token(t);
        }
        let server = freshet_ui::UiServer::start(&self.ctx, config)
            .map_err(|e| FreshetError::new_err(format!("cannot start the web UI: {e}")))?;
        let url = server.url();
        *self.ui.lock().unwrap_or_else(|p| p.into_inner()) = Some(server);
        Ok(url)
    }
}

impl Context {
    /// Waits for the run to end, checking for Ctrl-C every 100 ms.
    fn wait(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let step = match deadline {
                Some(d) => d
                    .saturating_duration_since(std::time::Instant::now())
                    .min(Duration::from_millis(100)),
                None => Duration::from_millis(100),
            };
            let ended = py
                .detach(|| self.ctx.await_termination_or_timeout(step))
                .map_err(to_py_err)?;
            if ended {
                return Ok(true);
            }
            if let Err(e) = py.check_signals() {
                let _ = py.detach(|| self.ctx.stop(false));
                return Err(e);
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(false);
            }
        }
    }
}
