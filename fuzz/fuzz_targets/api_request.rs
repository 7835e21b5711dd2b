//! cargo-fuzz target: `noncesweep::fuzz_targets::api_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    noncesweep::fuzz_targets::api_request(data);
});
