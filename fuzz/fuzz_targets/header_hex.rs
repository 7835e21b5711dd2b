//! cargo-fuzz target: `noncesweep::fuzz_targets::header_hex`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    noncesweep::fuzz_targets::header_hex(data);
});
