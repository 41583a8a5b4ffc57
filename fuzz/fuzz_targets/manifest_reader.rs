//! Fuzzes the checkpoint manifest and part decoders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    freshet_durable::fuzz_entry::manifest_reader(data);
});
