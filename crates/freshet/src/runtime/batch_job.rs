//! Runs a batch job: a plan over static datasets, executed once as a single batch (time 0).

use super::{abandon_dataflows, unwind_error};
use crate::error::{Error, Result};
use crate::plan::{Builder, WorkerEnv};
use crate::run::Shared;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Installs what a batch job computes (a plan and the sink that receives its result).
pub(crate) type InstallJob = Arc<dyn for<'s> Fn(&mut Builder<'s>) + Send + Sync>;

/// Runs `install` on `workers` threads as one batch and returns once every worker is done.
pub(crate) fn run_batch_job(workers: usize, install: InstallJob) -> Result<()> {
    let shared = Arc::new(Shared::default());
    // The single batch is also the last: operators holding open (event-time) windows emit them.
    shared.set_final_batch(0);
    let sh = Arc::clone(&shared);
    let body = move |worker: &mut timely::worker::Worker| {
        let index = worker.index();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let env = Rc::new(WorkerEnv::new(index, worker.peers(), 0, 1, Arc::clone(&sh)));
            let installed = worker.dataflow::<u64, _, _>(|scope| {
                let mut b = Builder::new(scope, Rc::clone(&env), false);
                install(&mut b);
                b.finish()
            });
            let (mut inputs, probe) = (installed.inputs, installed.probe);
            env.set_last_fed(0);
            for input in inputs.iter_mut() {
                input.feed(0, None, &env);
            }
            loop {
                let mut more = false;
                for input in inputs.iter_mut() {
                    more |= input.pump(super::worker::CHUNK, &env).1;
                }
                if !more || sh.stopping_now() {
                    break;
                }
                worker.step();
            }
            for input in inputs.iter_mut() {
                input.close();
            }
            while !probe.done() && !sh.stopping_now() {
                worker.step_or_park(Some(Duration::from_millis(1)));
            }
            crate::metrics::local::discard();
        }));
        if let Err(payload) = result {
            sh.fail(unwind_error(index, &*payload));
        }
        if sh.stopping_now() {
            abandon_dataflows(worker);
        }
    };
    if workers <= 1 {
        timely::execute_directly(body);
    } else {
        let guards =
            timely::execute(timely::Config::process(workers), body).map_err(Error::Runtime)?;
        for (i, r) in guards.join().into_iter().enumerate() {
            if let Err(message) = r {
                shared.fail(Error::WorkerPanicked { worker: i, message });
            }
        }
    }
    match shared.failure() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
