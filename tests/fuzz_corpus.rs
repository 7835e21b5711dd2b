//! A short fuzz smoke pass on stable Rust: every file of the kept fuzz
//! corpus (`fuzz/corpus/<target>/`) goes through its target's entry point,
//! plus a few thousand mutations of each, so the test command catches a
//! regression on any input the fuzzers have found interesting.

use std::path::Path;

type Target = fn(&[u8]);

fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("header_hex", noncesweep::fuzz_targets::header_hex as Target),
        (
            "api_request",
            noncesweep::fuzz_targets::api_request as Target,
        ),
    ]
}

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

#[test]
fn corpus_smoke_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in targets() {
        let dir = root.join(name);
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            target(&data);
            for m in mutations(&data, files as u64 + 1, 200) {
                target(&m);
            }
            files += 1;
        }
        assert!(files > 0, "empty corpus for {name}");
    }
}
