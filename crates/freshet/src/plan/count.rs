//! Counting the records each plan node emits, per batch, for the pipeline graph's figures.

use super::TStream;
use crate::metrics::local;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator;

/// Passes `stream` through, counting the records of each batch for plan node `node`.
pub(crate) fn count_records<'s, T: 'static>(stream: TStream<'s, T>, node: u64) -> TStream<'s, T> {
    stream.unary::<CapacityContainerBuilder<Vec<T>>, _, _, _>(
        Pipeline,
        "count-records",
        move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    if let Some(&t) = cap.least() {
                        local::records(node, t, data.len() as u64);
                    }
                    output.session(&cap).give_container(data);
                });
            }
        },
    )
}
