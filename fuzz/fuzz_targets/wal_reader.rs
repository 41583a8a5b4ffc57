//! Fuzzes the WAL / batch-log segment decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    freshet_durable::fuzz_entry::wal_reader(data);
});
