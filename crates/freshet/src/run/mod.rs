//! Run-wide types: what the driver, the workers, the sources and the run's owner share while a
//! pipeline runs. This module is a leaf: it imports none of the modules that use it (context,
//! runtime, plan, operators, sources), so they all depend on it and never on each other for it.

mod dead_letters;
mod shared;
mod status;

pub(crate) use shared::{RuntimeEvent, Shared};
pub(crate) use status::{InFlight, Phase, RunStatus, StatusCell, StopKind};
