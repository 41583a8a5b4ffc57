//! Failing a job from inside an operator closure that cannot return an error.

/// The payload [`fail_job`] unwinds a worker with; the run turns it into
/// [`Error::Function`](crate::Error::Function).
#[derive(Debug, Clone)]
pub struct JobFailure(pub String);

/// Fails the running job from inside an operator closure that has no error in its signature (a
/// reduce function, a state update, a `foreach_batch` body): the worker unwinds without the
/// panic hook's report, the run stops, and `start`, `await_termination`, `run_available_now`
/// or the batch job's action return [`Error::Function`](crate::Error::Function) with `message`.
///
/// Closures that can return an error should rather use
/// [`try_map_partitions`](crate::DStream::try_map_partitions), which also names the operator
/// and the batch. Bindings to other languages use this to turn an exception raised by a user's
/// function into the job's error instead of a crash.
pub fn fail_job(message: impl Into<String>) -> ! {
    std::panic::resume_unwind(Box::new(JobFailure(message.into())))
}
