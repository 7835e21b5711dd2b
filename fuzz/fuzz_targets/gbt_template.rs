//! cargo-fuzz target: `noncesweep::fuzz_targets::gbt_template`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    noncesweep::fuzz_targets::gbt_template(data);
});
