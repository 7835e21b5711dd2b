//! From Stratum state to engine work and back: a [`JobBook`] turns each
//! `mining.notify` (with the session's extranonce1, extranonce2 size,
//! difficulty and version mask) into a [`Job`], remembers which jobs
//! the pool still accepts shares for, and turns a [`Share`] into the
//! `mining.submit` parameters.
//!
//! Rules it follows (see `docs/pool-mining.md`):
//! - `mining.set_difficulty` applies to the next job, not the current one;
//! - a notify with `clean_jobs = false` leaves the older jobs valid: shares
//!   found for them are still submitted;
//! - `clean_jobs`, a new difficulty (from the next notify on) and a new
//!   extranonce1 (a new session, or `mining.set_extranonce`, which applies
//!   from the next notify) forget every older job at once;
//! - `mining.set_version_mask` takes effect at once;
//! - the mask rolled is the pool's granted mask within the requested one
//!   (`granted & requested`), never a bit the miner did not ask for.
//!
//! Each job gets an engine id `"<seq>/<pool job id>"`, unique for the life
//! of the process, so a share can never be mistaken for one of a job that a
//! restarted pool happens to call by the same name.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bitcoin::Target;

use super::codec::{Notify, Submit};
use crate::hashing::coinbase::{self, CoinbaseParts};
use crate::hashing::header::HeaderTemplate;
use crate::hashing::pow;
use crate::hashing::work::{deposit_bits, Job, Share};

/// How many jobs are kept valid at most (pools keep a few minutes' worth).
pub const MAX_JOBS: usize = 32;

/// A job the pool still accepts shares for.
#[derive(Clone, Debug)]
pub struct BookEntry {
    pub pool_job_id: String,
    pub job: Arc<Job>,
    /// The mask the pool granted when the job was made; the sixth submit
    /// parameter is the version within it (the job's own bits outside the
    /// rolled mask, the rolled bits inside), so a pool rebuilding
    /// `(job & !granted) | (bits & granted)` gets the header hashed.
    pub granted_mask: u32,
}

/// The jobs of one pool session.
#[derive(Debug)]
pub struct JobBook {
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    pending_extranonce: Option<(Vec<u8>, usize)>,
    difficulty: f64,
    share_target: Target,
    /// The bits the miner asked to roll.
    requested_mask: u32,
    /// The bits the pool granted.
    granted_mask: u32,
    /// The bits rolled: `granted & requested`.
    version_mask: u32,
    jobs: HashMap<String, BookEntry>,
    order: VecDeque<String>,
    current: Option<String>,
    seq: u64,
}

impl Default for JobBook {
    fn default() -> Self {
        JobBook::new()
    }
}

impl JobBook {
    /// A book for a miner that asks to roll BIP320's bits.
    pub fn new() -> Self {
        JobBook::with_requested_mask(crate::hashing::work::BIP320_MASK)
    }

    /// A book for a miner that asks to roll `requested` (`--version-mask`).
    pub fn with_requested_mask(requested: u32) -> Self {
        JobBook {
            extranonce1: Vec::new(),
            extranonce2_size: 4,
            pending_extranonce: None,
            difficulty: 1.0,
            share_target: pow::DIFF1,
            requested_mask: requested,
            granted_mask: 0,
            version_mask: 0,
            jobs: HashMap::new(),
            order: VecDeque::new(),
            current: None,
            seq: 0,
        }
    }

    /// A new session's extranonce: every older job is stale. The
    /// difficulty goes back to 1 until the pool says otherwise.
    pub fn new_session(&mut self, extranonce1: &[u8], extranonce2_size: usize) {
        self.extranonce1 = extranonce1.to_vec();
        self.extranonce2_size = extranonce2_size;
        self.pending_extranonce = None;
        self.set_difficulty(1.0);
        self.forget_all();
    }

    /// `mining.set_extranonce`: applies from the next notify.
    pub fn set_extranonce(&mut self, extranonce1: &[u8], extranonce2_size: usize) {
        self.pending_extranonce = Some((extranonce1.to_vec(), extranonce2_size));
    }

    /// `mining.set_difficulty`: applies to the next job. Invalid values are
    /// refused by the codec, so any `d` here is finite and positive.
    pub fn set_difficulty(&mut self, d: f64) {
        if let Ok(t) = pow::share_target(d) {
            self.difficulty = d;
            self.share_target = t;
        }
    }

    /// The difficulty the next job will get.
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// The mask rolled: the pool's grant within the request (0: no
    /// rolling).
    pub fn version_mask(&self) -> u32 {
        self.version_mask
    }

    /// The mask the miner asks for.
    pub fn requested_mask(&self) -> u32 {
        self.requested_mask
    }

    /// Take the mask the pool granted (`mining.configure`'s answer or
    /// `mining.set_version_mask`); the mask rolled is `granted & requested`.
    /// Returns the current job rebuilt with it (to mine at once), if there
    /// is one and the rolled mask changed.
    pub fn set_version_mask(&mut self, granted: u32) -> Option<Arc<Job>> {
        let mask = granted & self.requested_mask;
        let granted_changed = granted != self.granted_mask;
        self.granted_mask = granted;
        if mask == self.version_mask {
            if granted_changed {
                // Same bits rolled; the submit parameter follows the grant.
                for e in self.jobs.values_mut() {
                    e.granted_mask = granted;
                }
            }
            return None;
        }
        self.version_mask = mask;
        // The rebuilt job gets a new engine id, so shares rolled with the
        // old mask that are still on their way count as stale.
        let old = self.current.clone()?;
        let entry = self.jobs.remove(&old)?;
        self.order.retain(|k| *k != old);
        self.seq += 1;
        let key = format!("{}/{}", self.seq, entry.pool_job_id);
        let mut job = (*entry.job).clone();
        job.id = key.clone();
        job.version_mask = mask;
        job.version = seeded_version(job.version as u32, mask, self.seq) as i32;
        let job = Arc::new(job);
        self.jobs.insert(
            key.clone(),
            BookEntry {
                pool_job_id: entry.pool_job_id,
                job: Arc::clone(&job),
                granted_mask: granted,
            },
        );
        self.order.push_back(key.clone());
        self.current = Some(key);
        Some(job)
    }

    fn forget_all(&mut self) {
        self.jobs.clear();
        self.order.clear();
        self.current = None;
    }

    /// Take a notify: build its job, forget older jobs if it says
    /// `clean_jobs` or the extranonce or difficulty changed, and return the
    /// job to mine.
    pub fn on_notify(&mut self, n: &Notify) -> Arc<Job> {
        if let Some((en1, size)) = self.pending_extranonce.take() {
            self.extranonce1 = en1;
            self.extranonce2_size = size;
            self.forget_all();
        }
        let difficulty_changed = self
            .current()
            .is_some_and(|j| j.share_target != self.share_target);
        if n.clean_jobs || difficulty_changed {
            self.forget_all();
        }
        self.seq += 1;
        let key = format!("{}/{}", self.seq, n.job_id);
        let job = Arc::new(Job {
            id: key.clone(),
            version: seeded_version(n.version, self.version_mask, self.seq) as i32,
            version_mask: self.version_mask,
            prev_hash: n.prev_hash.0,
            coinbase: CoinbaseParts {
                coinb1: n.coinb1.clone(),
                coinb2: n.coinb2.clone(),
            },
            extranonce1: self.extranonce1.clone(),
            extranonce2_size: self.extranonce2_size,
            extranonce2_start: extranonce2_start(self.seq, self.extranonce2_size),
            merkle_branch: n.merkle_branch.clone(),
            merkle_root: None,
            time: n.ntime,
            bits: n.nbits,
            share_target: self.share_target,
        });
        self.jobs.insert(
            key.clone(),
            BookEntry {
                pool_job_id: n.job_id.clone(),
                job: Arc::clone(&job),
                granted_mask: self.granted_mask,
            },
        );
        self.order.push_back(key.clone());
        while self.order.len() > MAX_JOBS {
            if let Some(old) = self.order.pop_front() {
                self.jobs.remove(&old);
            }
        }
        self.current = Some(key);
        job
    }

    /// The job being mined, if any.
    pub fn current(&self) -> Option<Arc<Job>> {
        self.current
            .as_ref()
            .and_then(|k| self.jobs.get(k))
            .map(|e| Arc::clone(&e.job))
    }

    /// The entry for an engine job id, if the pool still accepts it.
    pub fn entry(&self, engine_job_id: &str) -> Option<&BookEntry> {
        self.jobs.get(engine_job_id)
    }

    /// The `mining.submit` for a share, or `None` if its job is stale.
    /// When rolling, the sixth parameter is the version within the mask
    /// the pool granted (the rolled mask's bits and, should the pool have
    /// granted more than was asked, the job's own bits there).
    pub fn submit_for(&self, share: &Share, worker: &str) -> Option<Submit> {
        let entry = self.entry(&share.job_id)?;
        let rolling = entry.job.version_mask != 0;
        Some(submit_params(
            share,
            worker,
            &entry.pool_job_id,
            rolling.then_some(entry.granted_mask | entry.job.version_mask),
        ))
    }
}

/// The job's version with some rolled bits already set within `mask`, so
/// that every job starts at a different point of the version space and
/// the pool sees rolled bits from the first share on (BIP310 lets the
/// miner choose any bits within the mask).
fn seeded_version(version: u32, mask: u32, seq: u64) -> u32 {
    if mask == 0 {
        return version;
    }
    // A fixed odd multiplier spreads consecutive job numbers over the mask.
    let mut seed = deposit_bits(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40, mask);
    if seed == 0 {
        seed = mask & mask.wrapping_neg();
    }
    (version & !mask) | seed
}

/// Where a job's extranonce2 counter starts: a different point for every
/// notify, so that a job sent again (for example a pool that repeats a
/// job) does not re-mine the shares already submitted for it. The counter
/// wraps ([`Job::extranonce2_at`]), so every value of the space is used
/// once wherever it starts; with 3 bytes or more, jobs start 2^20 values
/// apart, far more than a CPU uses.
pub(crate) fn extranonce2_start(seq: u64, size: usize) -> u64 {
    let bits = 8 * size.min(8) as u32;
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    if bits >= 24 {
        (seq << 20) & max
    } else {
        seq & max
    }
}

/// `mining.submit` parameters for a share: ntime and nonce as 8 hex digits
/// big-endian, extranonce2 as the hex of its bytes in coinbase order, and
/// the rolled version bits as the sixth parameter when rolling.
pub fn submit_params(share: &Share, worker: &str, pool_job_id: &str, mask: Option<u32>) -> Submit {
    let h = &share.header.header;
    Submit {
        worker: worker.to_string(),
        job_id: pool_job_id.to_string(),
        extranonce2: share.extranonce2.clone(),
        ntime: h.time,
        nonce: h.nonce,
        version_bits: mask.map(|m| h.version.to_consensus() as u32 & m),
    }
}

/// The header a pool rebuilds from a job and a submission: coinbase =
/// coinb1 || extranonce1 || extranonce2 || coinb2, root folded with the
/// branch, version `(job & !mask) | (bits & mask)`.
pub fn rebuild_header(job: &Job, submit: &Submit) -> HeaderTemplate {
    let txid = job.coinbase.txid(&job.extranonce1, &submit.extranonce2);
    let root = coinbase::merkle_root(txid, &job.merkle_branch);
    let mut h = HeaderTemplate::new(
        job.version,
        job.prev_hash,
        root,
        submit.ntime,
        job.bits,
        submit.nonce,
    );
    if let Some(bits) = submit.version_bits {
        h.set_version_bits(job.version_mask, bits);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn notify() -> Notify {
        Notify {
            job_id: "same".into(),
            prev_hash: super::super::wire::PrevHash(bitcoin::BlockHash::all_zeros()),
            coinb1: vec![1],
            coinb2: vec![2],
            merkle_branch: vec![],
            version: 0x2000_0000,
            nbits: 0x207f_ffff,
            ntime: 1,
            clean_jobs: true,
        }
    }

    #[test]
    fn a_job_sent_again_starts_elsewhere() {
        let mut book = JobBook::new();
        book.new_session(&[1, 2, 3, 4], 4);
        book.set_version_mask(0x1fff_e000);
        let a = book.on_notify(&notify());
        let b = book.on_notify(&notify());
        assert_ne!(a.id, b.id);
        assert_ne!(a.extranonce2_start, b.extranonce2_start);
        assert_ne!(a.variant(0).unwrap().header, b.variant(0).unwrap().header);
        // The first header already has rolled bits, all inside the mask.
        for j in [&a, &b] {
            let bits = j.version as u32 & 0x1fff_e000;
            assert_ne!(bits, 0);
            assert_eq!(j.version as u32 & !0x1fff_e000, 0x2000_0000);
        }
        // A one-byte extranonce2 still leaves room to mine.
        book.new_session(&[1], 1);
        let c = book.on_notify(&notify());
        assert!(c.variant(0).is_some());
    }

    #[test]
    fn seeded_bits_are_never_zero() {
        for seq in 0..5000 {
            let v = seeded_version(0x2000_0000, 0x0000_6000, seq);
            assert_ne!(v & 0x6000, 0);
            assert_eq!(v & !0x6000, 0x2000_0000);
        }
        assert_eq!(seeded_version(0x2000_0000, 0, 7), 0x2000_0000);
    }
}
