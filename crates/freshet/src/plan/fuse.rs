//! Fused chains of narrow operators.
//!
//! `map`, `filter`, `flat_map` and the like do not become timely operators of their own. Each
//! is a [`Step`] that the operator consuming the chain runs record by record on the records of
//! the chain's input: `lines.flat_map(..).map(..).reduce_by_key(..)` is one operator reading
//! lines, in which every word goes from the user's `flat_map` through `map` into the combining
//! map before the next word is made. No container is built between steps, and a record's
//! memory is freed soon after it is allocated, while it is still in cache (which is what makes
//! a string per record cheap, whatever the allocator).
//!
//! A chain is fused only into its single consumer: a node that several operators read is
//! installed once, as an operator of its own, so that no user function runs twice for a record.
//! The records each step emits are still counted for the pipeline graph; the time the steps take
//! is the consuming operator's.

use super::Builder;
use crate::metrics::local;
use std::sync::Arc;
use timely::communication::Pull;
use timely::dataflow::channels::Message;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::InputHandleCore;
use timely::dataflow::operators::InputCapability;

/// One narrow step as one worker runs it: turns a record into zero or more records, each given
/// to the sink, and returns how many it gave.
pub(crate) type StepFn<T, U> = Box<dyn FnMut(T, &mut dyn FnMut(U)) -> usize>;

/// Makes a worker's instance of a narrow step (which may keep scratch space of its own).
pub(crate) type Step<T, U> = Arc<dyn Fn() -> StepFn<T, U> + Send + Sync>;

/// The records of one container: pushes each of them, as the chain makes them, into the sink.
pub(crate) type Records<'a, T> = &'a mut dyn FnMut(&mut dyn FnMut(T));

/// An input of an operator being built whose records pass through a chain of steps.
pub(crate) trait ChainInput<T> {
    /// Takes every container that has arrived: calls `f` with its capability and its records.
    fn for_each(&mut self, f: &mut dyn FnMut(InputCapability<u64>, Records<'_, T>));
}

/// Adds the input of a fused chain to the operator being built, installing what the chain
/// reads from first if needed.
pub(crate) type AttachFn<T> = dyn for<'s> Fn(&mut Builder<'s>, &mut OperatorBuilder<'s, u64>) -> Box<dyn ChainInput<T>>
    + Send
    + Sync;

/// The chain's start: a timely input of the operator, its records passed on as they are.
pub(crate) struct Head<T, P: Pull<Message<u64, Vec<T>>>> {
    handle: InputHandleCore<u64, Vec<T>, P>,
}

impl<T, P: Pull<Message<u64, Vec<T>>>> Head<T, P> {
    /// The chain that starts at `handle`.
    pub fn new(handle: InputHandleCore<u64, Vec<T>, P>) -> Self {
        Head { handle }
    }
}

impl<T: 'static, P: Pull<Message<u64, Vec<T>>>> ChainInput<T> for Head<T, P> {
    fn for_each(&mut self, f: &mut dyn FnMut(InputCapability<u64>, Records<'_, T>)) {
        self.handle.for_each(|cap, data| {
            f(cap, &mut |sink: &mut dyn FnMut(T)| {
                for x in data.drain(..) {
                    sink(x);
                }
            })
        });
    }
}

/// A chain followed by one more step, whose records are counted for plan node `node`.
pub(crate) struct Then<T, U> {
    inner: Box<dyn ChainInput<T>>,
    step: StepFn<T, U>,
    node: u64,
}

impl<T, U> Then<T, U> {
    /// `inner` followed by `step`, the step of plan node `node`.
    pub fn new(inner: Box<dyn ChainInput<T>>, step: &Step<T, U>, node: u64) -> Self {
        Then {
            inner,
            step: step(),
            node,
        }
    }
}

impl<T: 'static, U: 'static> ChainInput<U> for Then<T, U> {
    fn for_each(&mut self, f: &mut dyn FnMut(InputCapability<u64>, Records<'_, U>)) {
        let (step, node) = (&mut self.step, self.node);
        self.inner.for_each(&mut |cap, records| {
            let time = cap.least().copied();
            let mut emitted = 0usize;
            f(cap, &mut |sink: &mut dyn FnMut(U)| {
                records(&mut |x| emitted += step(x, &mut *sink))
            });
            if let (Some(t), true) = (time, emitted > 0) {
                local::records(node, t, emitted as u64);
            }
        });
    }
}
