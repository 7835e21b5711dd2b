//! The portable nonce-sweep kernel: plain Rust, one nonce at a time.
//!
//! It is the fallback for any CPU and the oracle that every SIMD kernel is
//! tested against, so it favours being obviously right over being fast:
//! the midstate is reused, but each nonce gets a straight compression of
//! block 2 and of the second hash, and every candidate is compared with the
//! target over all 256 bits (no `H7 == 0` shortcut, which would miss hits
//! for targets whose top word is not zero, such as regtest's).

use super::WorkUnit;

/// Push every nonce in `first..=last` whose SHA-256d meets `work.target`.
pub(crate) fn sweep(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    let mut nonce = first;
    loop {
        let h = work.hash_state(nonce);
        if work.target.is_met_by_state(&h) {
            hits.push(nonce);
        }
        if nonce == last {
            break;
        }
        nonce += 1;
    }
}
