//! Spark's `TestSuiteBase.testOperation` in one call: queued input batches through a pipeline
//! on a manual clock, every output batch collected.

use super::BatchStepper;
use crate::config::StreamingConfig;
use crate::data::Data;
use crate::dstream::DStream;
use crate::error::Result;
use crate::time::BatchTime;
use std::time::Duration;

/// The batch interval of [`run_operation`]'s context: batches are at 100, 200, 300, ... ms.
pub const OPERATION_INTERVAL: Duration = Duration::from_millis(100);

/// What a pipeline emitted, batch by batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationOutput<U> {
    batches: Vec<(BatchTime, Vec<U>)>,
}

impl<U: Clone> OperationOutput<U> {
    /// Every batch with its time and records (worker 0's first, then worker 1's, ...).
    pub fn batches(&self) -> Vec<(BatchTime, Vec<U>)> {
        self.batches.clone()
    }

    /// Every batch's records, each batch sorted: what a test compares, since the order of
    /// records across workers is not defined.
    pub fn sorted(&self) -> Vec<Vec<U>>
    where
        U: Ord,
    {
        self.batches
            .iter()
            .map(|(_, b)| {
                let mut b = b.clone();
                b.sort();
                b
            })
            .collect()
    }
}

/// Runs `operation` over `input` (one queued batch per interval) with `workers` workers on a
/// manual clock, for as many batches as `input` has, and returns every output batch.
///
/// ```
/// use freshet::testing::run_operation;
/// use freshet::DStream;
///
/// let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// let out = run_operation(
///     vec![lines(&["a b", "a"]), vec![], lines(&["b"])],
///     2,
///     |lines: DStream<String>| {
///         lines
///             .flat_map(|l: String| l.split(' ').map(String::from).collect::<Vec<_>>())
///             .map(|w| (w, 1u32))
///             .reduce_by_key(|a, b| a + b)
///     },
/// )?;
/// let w = |s: &str, n| (s.to_string(), n);
/// assert_eq!(out.sorted(), vec![vec![w("a", 2), w("b", 1)], vec![], vec![w("b", 1)]]);
/// # Ok::<(), freshet::Error>(())
/// ```
pub fn run_operation<T, U, F>(
    input: Vec<Vec<T>>,
    workers: usize,
    operation: F,
) -> Result<OperationOutput<U>>
where
    T: Data,
    U: Data,
    F: FnOnce(DStream<T>) -> DStream<U>,
{
    let batches = input.len() as u64;
    run_with(workers, batches, |stepper| {
        operation(stepper.context().queue_stream(input))
    })
}

/// [`run_operation`] with two input streams (Spark's two-input `testOperation`): batch `i` of
/// each is queued at the same batch time; the shorter input gives empty batches.
pub fn run_operation2<T, V, U, F>(
    input1: Vec<Vec<T>>,
    input2: Vec<Vec<V>>,
    workers: usize,
    operation: F,
) -> Result<OperationOutput<U>>
where
    T: Data,
    V: Data,
    U: Data,
    F: FnOnce(DStream<T>, DStream<V>) -> DStream<U>,
{
    let batches = input1.len().max(input2.len()) as u64;
    run_with(workers, batches, |stepper| {
        let ctx = stepper.context();
        operation(ctx.queue_stream(input1), ctx.queue_stream(input2))
    })
}

fn run_with<U: Data>(
    workers: usize,
    batches: u64,
    build: impl FnOnce(&BatchStepper) -> DStream<U>,
) -> Result<OperationOutput<U>> {
    let mut stepper = BatchStepper::new(StreamingConfig::new(OPERATION_INTERVAL).workers(workers))?;
    let out = build(&stepper).collect_batches();
    stepper.start()?;
    stepper.steps(batches)?;
    stepper.stop()?;
    // The input's batches only (a graceful stop may add one for receivers' leftovers).
    let last = BatchTime(0).plus(OPERATION_INTERVAL * u32::try_from(batches).unwrap_or(u32::MAX));
    let mut batches = out.batches();
    batches.retain(|(t, _)| *t <= last);
    Ok(OperationOutput { batches })
}
