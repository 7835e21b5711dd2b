//! `noncesweep remine`: re-mine a real block header. The header's own nonce
//! is ignored; the lowest nonce in the range that meets the header's own
//! `bits` target is found, whatever the thread count.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bitcoin::BlockHash;

use crate::hashing::engine::{self, EngineError};
use crate::hashing::header::HeaderTemplate;
use crate::hashing::sha256::Backend;

/// Why a re-mine gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum RemineError {
    #[error("--from {from} is greater than --to {to}")]
    EmptyRange { from: u32, to: u32 },
    #[error("no nonce from {from} to {to} meets the header's target (bits {bits:#010x}); {hashes} hashes swept")]
    NoHit {
        from: u32,
        to: u32,
        bits: u32,
        hashes: u64,
    },
    #[error("interrupted after {hashes} hashes")]
    Interrupted { hashes: u64 },
    #[error("backend {backend} reported nonce {nonce}, which fails the full re-check: the kernel is faulty, try --backend soft")]
    KernelFault { backend: Backend, nonce: u32 },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The answer of a re-mine.
#[derive(Clone, Debug)]
pub struct Remined {
    pub nonce: u32,
    pub hash: BlockHash,
    pub hashes: u64,
    pub elapsed: Duration,
}

/// Find the lowest nonce in `from..=to` whose hash meets the header's target.
pub fn remine(
    header: &HeaderTemplate,
    from: u32,
    to: u32,
    backend: Backend,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<Remined, RemineError> {
    if from > to {
        return Err(RemineError::EmptyRange { from, to });
    }
    let work = header.work_unit(header.block_target());
    let t0 = Instant::now();
    let r = engine::search_lowest(backend, threads, &work, from, to, progress, cancel)?;
    let elapsed = t0.elapsed();
    let Some(nonce) = r.nonce else {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(RemineError::Interrupted { hashes: r.hashes });
        }
        return Err(RemineError::NoHit {
            from,
            to,
            bits: header.header.bits.to_consensus(),
            hashes: r.hashes,
        });
    };
    // Re-check with the bitcoin crate before reporting.
    let mut h = *header;
    h.set_nonce(nonce);
    let hash = h.block_hash();
    if !crate::hashing::pow::meets(&hash, h.block_target()) {
        return Err(RemineError::KernelFault { backend, nonce });
    }
    Ok(Remined {
        nonce,
        hash,
        hashes: r.hashes,
        elapsed,
    })
}
