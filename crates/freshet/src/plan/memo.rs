//! Remembers the stream each plan node produced in the dataflow being built.

use super::TStream;
use crate::data::Data;
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;

/// The streams installed so far in one dataflow, by plan node id.
///
/// `Any` requires `'static`, while a timely stream borrows its scope for `'s`. The memo stores each
/// stream with its scope lifetime erased to `'static` and restores `'s` when it hands a stream
/// out; the memo itself is bounded by `'s`, so no stream it stores outlives its scope.
pub(crate) struct Memo<'s> {
    streams: HashMap<u64, Box<dyn Any>>,
    _scope: PhantomData<&'s ()>,
}

impl<'s> Memo<'s> {
    pub fn new() -> Self {
        Memo {
            streams: HashMap::new(),
            _scope: PhantomData,
        }
    }

    /// The stream installed for node `id`, if any.
    pub fn get<T: Data>(&self, id: u64) -> Option<TStream<'s, T>> {
        let stored = self
            .streams
            .get(&id)?
            .downcast_ref::<TStream<'static, T>>()?;
        let copy = ManuallyDrop::new(stored.clone());
        // SAFETY: every `TStream<'static, T>` in the map was made by `insert` from a
        // `TStream<'s, T>` of this same memo; the two types differ only in that lifetime, so they
        // have the same layout, and `'s` is still live because `self: Memo<'s>` is.
        Some(unsafe {
            std::ptr::read(&*copy as *const TStream<'static, T> as *const TStream<'s, T>)
        })
    }

    /// Records the stream installed for node `id`.
    pub fn insert<T: Data>(&mut self, id: u64, stream: TStream<'s, T>) {
        let stream = ManuallyDrop::new(stream);
        // SAFETY: see `get`; the `'static` stream never leaves the memo with that lifetime, and
        // the memo is dropped before the scope it borrows.
        let erased: TStream<'static, T> = unsafe {
            std::ptr::read(&*stream as *const TStream<'s, T> as *const TStream<'static, T>)
        };
        self.streams.insert(id, Box::new(erased));
    }
}
