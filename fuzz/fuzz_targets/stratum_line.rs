//! cargo-fuzz target: `noncesweep::fuzz_targets::stratum_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    noncesweep::fuzz_targets::stratum_line(data);
});
