//! Fuzzes the decoder of the values kept in logs and checkpoints (batch records, offsets,
//! receiver blocks, state).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    freshet_durable::fuzz_entry::codec_reader(data);
});
