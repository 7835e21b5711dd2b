//! A short fuzz smoke pass on stable Rust: every file of the kept fuzz
//! corpus (`fuzz/corpus/<target>/`) goes through its target's entry point,
//! plus a few thousand mutations of each, so the test command catches a
//! regression on any input the fuzzers have found interesting.

use std::path::Path;

type Target = fn(&[u8]);

/// Deterministic byte mutations (flip, insert, delete, truncate).
fn mutations(input: &[u8], seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let mut v = input.to_vec();
            match next() % 4 {
                0 if !v.is_empty() => {
                    let i = (next() as usize) % v.len();
                    v[i] ^= 1 << (next() % 8);
                }
                1 => {
                    let i = (next() as usize) % (v.len() + 1);
                    v.insert(i, next() as u8);
                }
                2 if !v.is_empty() => {
                    let i = (next() as usize) % v.len();
                    v.remove(i);
                }
                _ => v.truncate((next() as usize) % (v.len() + 1)),
            }
            v
        })
        .collect()
}

/// Every file of `fuzz/corpus/<name>/` and 200 mutations of each through
/// `target`; returns how many files there were.
fn smoke(name: &str, target: Target) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        target(&data);
        for m in mutations(&data, files as u64 + 1, 200) {
            target(&m);
        }
        files += 1;
    }
    files
}

/// The four targets of `fuzz/fuzz_targets/`, each with the size of its
/// kept corpus (so a corpus that goes missing fails here).
#[test]
fn header_hex_corpus() {
    assert_eq!(
        smoke("header_hex", noncesweep::fuzz_targets::header_hex),
        192
    );
}

#[test]
fn api_request_corpus() {
    assert_eq!(
        smoke("api_request", noncesweep::fuzz_targets::api_request),
        1322
    );
}

#[test]
fn stratum_line_corpus() {
    assert_eq!(
        smoke("stratum_line", noncesweep::fuzz_targets::stratum_line),
        1659
    );
}

#[test]
fn gbt_template_corpus() {
    assert_eq!(
        smoke("gbt_template", noncesweep::fuzz_targets::gbt_template),
        1323
    );
}
