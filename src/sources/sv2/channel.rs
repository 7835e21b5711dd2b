//! One Stratum V2 mining channel's state, without I/O: the channel the pool
//! opened (extended: coinbase parts, an extranonce prefix and a slot the
//! miner fills; standard: a merkle root, header-only mining), its jobs
//! (future ones wait for the `SetNewPrevHash` that names them), its target,
//! and the shares in flight by sequence number.
//!
//! What goes in is [`FromPool`] values; what comes out is engine
//! [`Job`]s to mine, `SubmitShares*` messages, and each share's outcome.
//! Every rule the pool enforces is also checked here first, so a share of a
//! job the pool has already dropped is counted stale and never sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Target, TxMerkleNode};

use super::wire::{ExtendedJob, FromPool, StandardJob, ToPool};
use crate::hashing::coinbase::CoinbaseParts;
use crate::hashing::work::{Job, Share, BIP320_MASK};

/// How many jobs (future and active) a channel keeps; the oldest go first.
pub const MAX_JOBS: usize = 64;
/// How many submitted shares may wait for their answer; past that the
/// oldest are given up as unanswered.
pub const MAX_INFLIGHT: usize = 4096;

/// Which kind of channel the pool opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Coinbase parts and an extranonce slot: the miner rolls the
    /// extranonce (and versions where allowed).
    Extended,
    /// A merkle root: header-only mining, versions and nonces.
    Standard,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Extended => "extended",
            Kind::Standard => "standard",
        }
    }
}

/// A job as the pool sent it, before a previous hash makes it mineable.
#[derive(Clone, Debug, PartialEq)]
enum Spec {
    Extended(ExtendedJob),
    Standard(StandardJob),
}

impl Spec {
    fn job_id(&self) -> u32 {
        match self {
            Spec::Extended(j) => j.job_id,
            Spec::Standard(j) => j.job_id,
        }
    }
    fn min_ntime(&self) -> Option<u32> {
        match self {
            Spec::Extended(j) => j.min_ntime,
            Spec::Standard(j) => j.min_ntime,
        }
    }
}

/// The chain tip the pool's jobs build on (`SetNewPrevHash`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tip {
    prev_hash: [u8; 32],
    min_ntime: u32,
    nbits: u32,
}

/// What happened to a submitted share.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Accepted {
        share: Share,
        latency: Duration,
    },
    Rejected {
        share: Share,
        latency: Duration,
        code: String,
    },
}

/// Why a share was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotSent {
    #[error("its job is gone (a new block, or another connection)")]
    Stale,
}

/// Pool error codes that mean the share came too late rather than wrong.
pub fn is_stale_code(code: &str) -> bool {
    let c = code.to_ascii_lowercase();
    c.contains("stale") || c.contains("invalid-job-id") || c.contains("job-id")
}

/// Connections get distinct serials so that engine job ids (`serial/job`)
/// of one connection never match another's.
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// The state of one open channel.
pub struct Channel {
    pub id: u32,
    /// The group the pool put the channel in: jobs and new tips sent to
    /// the group are this channel's too.
    pub group: u32,
    pub kind: Kind,
    serial: u64,
    extranonce_prefix: Vec<u8>,
    /// The miner's part of the extranonce (0 on a standard channel).
    extranonce_size: usize,
    target: Target,
    /// The version bits the miner may roll when a job allows it.
    mask: u32,
    /// Jobs by id, oldest first.
    specs: VecDeque<Spec>,
    tip: Option<Tip>,
    /// Jobs that may be mined now, built for the engine.
    active: HashMap<u32, Arc<Job>>,
    /// The job being mined.
    current: Option<u32>,
    /// Jobs made so far (spreads extranonce starts).
    made: u64,
    next_seq: u32,
    inflight: BTreeMap<u32, (Share, Instant)>,
}

impl Channel {
    /// A channel from the pool's `Open*MiningChannelSuccess`; `mask` is the
    /// version bits to roll where jobs allow it (0: never).
    pub fn opened(msg: &FromPool, mask: u32) -> Option<Channel> {
        let (id, group, kind, target, prefix, size) = match msg {
            FromPool::ExtendedOpened {
                channel_id,
                target,
                extranonce_size,
                extranonce_prefix,
                group_channel_id,
                ..
            } => (
                *channel_id,
                *group_channel_id,
                Kind::Extended,
                target,
                extranonce_prefix,
                *extranonce_size as usize,
            ),
            // A standard channel's extranonce is all the pool's: jobs sent
            // to its group are finished with the prefix alone.
            FromPool::StandardOpened {
                channel_id,
                target,
                extranonce_prefix,
                group_channel_id,
                ..
            } => (
                *channel_id,
                *group_channel_id,
                Kind::Standard,
                target,
                extranonce_prefix,
                0,
            ),
            _ => return None,
        };
        Some(Channel {
            id,
            group,
            kind,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            extranonce_prefix: prefix.clone(),
            extranonce_size: size,
            target: Target::from_le_bytes(*target),
            mask: mask & BIP320_MASK,
            specs: VecDeque::new(),
            tip: None,
            active: HashMap::new(),
            current: None,
            made: 0,
            next_seq: 0,
            inflight: BTreeMap::new(),
        })
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// Whether a message to `channel_id` is for this channel (its own id,
    /// or its group's).
    pub fn accepts(&self, channel_id: u32) -> bool {
        channel_id == self.id || channel_id == self.group
    }

    pub fn extranonce_prefix(&self) -> &[u8] {
        &self.extranonce_prefix
    }

    pub fn extranonce_size(&self) -> usize {
        self.extranonce_size
    }

    /// The job being mined.
    pub fn current(&self) -> Option<Arc<Job>> {
        self.current.and_then(|id| self.active.get(&id).cloned())
    }

    /// A new job. Returns it built for the engine when it is to be mined
    /// now (it carries a `min_ntime` and the channel has a tip); a future
    /// job waits for its `SetNewPrevHash`.
    pub fn on_job(&mut self, msg: &FromPool) -> Option<Arc<Job>> {
        let spec = match msg {
            FromPool::ExtendedJob(j) if self.accepts(j.channel_id) => Spec::Extended(j.clone()),
            FromPool::StandardJob(j) if self.accepts(j.channel_id) => Spec::Standard(j.clone()),
            _ => return None,
        };
        let id = spec.job_id();
        self.specs.retain(|s| s.job_id() != id);
        self.specs.push_back(spec.clone());
        while self.specs.len() > MAX_JOBS {
            if let Some(old) = self.specs.pop_front() {
                self.active.remove(&old.job_id());
            }
        }
        let ntime = spec.min_ntime()?;
        let tip = self.tip?;
        let job = self.build(&spec, tip, ntime);
        self.active.insert(id, Arc::clone(&job));
        self.current = Some(id);
        Some(job)
    }

    /// `SetNewPrevHash`: every job built on the old tip is gone; the named
    /// job is mined on the new one. `Err` names a job the channel never
    /// got.
    pub fn on_prev_hash(
        &mut self,
        job_id: u32,
        prev_hash: [u8; 32],
        min_ntime: u32,
        nbits: u32,
    ) -> Result<Arc<Job>, String> {
        let tip = Tip {
            prev_hash,
            min_ntime,
            nbits,
        };
        self.tip = Some(tip);
        self.active.clear();
        self.current = None;
        // Jobs sent for the old tip can never be mined again; future jobs
        // (no min_ntime) wait for their own SetNewPrevHash.
        self.specs
            .retain(|s| s.job_id() == job_id || s.min_ntime().is_none());
        let spec = self
            .specs
            .iter()
            .find(|s| s.job_id() == job_id)
            .cloned()
            .ok_or_else(|| {
                format!("SetNewPrevHash names job {job_id}, which the pool never sent")
            })?;
        let job = self.build(&spec, tip, min_ntime.max(spec.min_ntime().unwrap_or(0)));
        self.active.insert(job_id, Arc::clone(&job));
        self.current = Some(job_id);
        Ok(job)
    }

    /// `SetTarget`: shares from now on must meet `target`. Returns the
    /// current job with the new target, to continue where it was.
    pub fn on_target(&mut self, target: [u8; 32]) -> Option<Arc<Job>> {
        self.target = Target::from_le_bytes(target);
        let t = self.target;
        for job in self.active.values_mut() {
            let mut j = (**job).clone();
            j.share_target = t;
            *job = Arc::new(j);
        }
        self.current()
    }

    /// `SetExtranoncePrefix`: later jobs use the new prefix; the current
    /// one is rebuilt with it (a new extranonce space, mined from its
    /// start).
    pub fn on_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Option<Arc<Job>> {
        self.extranonce_prefix = prefix;
        let tip = self.tip?;
        let id = self.current?;
        let spec = self.specs.iter().find(|s| s.job_id() == id)?.clone();
        let ntime = spec.min_ntime().unwrap_or(tip.min_ntime).max(tip.min_ntime);
        let job = self.build(&spec, tip, ntime);
        self.active.clear();
        self.active.insert(id, Arc::clone(&job));
        Some(job)
    }

    fn build(&mut self, spec: &Spec, tip: Tip, ntime: u32) -> Arc<Job> {
        self.made += 1;
        let prev_hash = BlockHash::from_byte_array(tip.prev_hash);
        let job = match spec {
            Spec::Extended(j) => Job {
                id: format!("{}/{}", self.serial, j.job_id),
                version: j.version as i32,
                version_mask: if j.version_rolling_allowed {
                    self.mask
                } else {
                    0
                },
                prev_hash,
                coinbase: CoinbaseParts {
                    coinb1: j.coinbase_prefix.clone(),
                    coinb2: j.coinbase_suffix.clone(),
                },
                extranonce1: self.extranonce_prefix.clone(),
                extranonce2_size: self.extranonce_size,
                extranonce2_start: crate::sources::stratum::job::extranonce2_start(
                    self.made,
                    self.extranonce_size,
                ),
                merkle_branch: j
                    .merkle_path
                    .iter()
                    .map(|h| TxMerkleNode::from_byte_array(*h))
                    .collect(),
                merkle_root: None,
                time: ntime,
                bits: tip.nbits,
                share_target: self.target,
            },
            // Header-only mining: the pool's merkle root; BIP320's bits may
            // be rolled (the specification gives them to the miner).
            Spec::Standard(j) => Job {
                id: format!("{}/{}", self.serial, j.job_id),
                version: j.version as i32,
                version_mask: self.mask,
                prev_hash,
                coinbase: CoinbaseParts {
                    coinb1: Vec::new(),
                    coinb2: Vec::new(),
                },
                extranonce1: Vec::new(),
                extranonce2_size: 0,
                extranonce2_start: 0,
                merkle_branch: Vec::new(),
                merkle_root: Some(TxMerkleNode::from_byte_array(j.merkle_root)),
                time: ntime,
                bits: tip.nbits,
                share_target: self.target,
            },
        };
        Arc::new(job)
    }

    /// The pool's job id of an engine job id, if it is this channel's.
    fn own_job(&self, engine_id: &str) -> Option<u32> {
        let (serial, id) = engine_id.split_once('/')?;
        if serial.parse::<u64>().ok()? != self.serial {
            return None;
        }
        id.parse().ok()
    }

    /// The submission for `share`, recorded as in flight; `Err` when its
    /// job is no longer valid (the share is stale, not sent).
    pub fn submit(&mut self, share: Share) -> Result<ToPool, NotSent> {
        let job_id = self.own_job(&share.job_id).ok_or(NotSent::Stale)?;
        let job = self.active.get(&job_id).ok_or(NotSent::Stale)?;
        let h = &share.header.header;
        let sequence_number = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let msg = match self.kind {
            Kind::Extended => ToPool::SubmitExtended {
                channel_id: self.id,
                sequence_number,
                job_id,
                nonce: h.nonce,
                ntime: h.time,
                version: h.version.to_consensus() as u32,
                extranonce: share.extranonce2.clone(),
            },
            Kind::Standard => ToPool::SubmitStandard {
                channel_id: self.id,
                sequence_number,
                job_id,
                nonce: h.nonce,
                ntime: h.time,
                version: h.version.to_consensus() as u32,
            },
        };
        debug_assert_eq!(job.id, share.job_id);
        self.inflight
            .insert(sequence_number, (share, Instant::now()));
        Ok(msg)
    }

    /// Give up the oldest shares in flight while too many wait; how many.
    pub fn overflow(&mut self) -> usize {
        let mut n = 0;
        while self.inflight.len() > MAX_INFLIGHT && self.inflight.pop_first().is_some() {
            n += 1;
        }
        n
    }

    /// `SubmitShares.Success`: every share in flight up to
    /// `last_sequence_number` (not already answered with an error) was
    /// accepted.
    pub fn on_success(&mut self, last_sequence_number: u32) -> Vec<Outcome> {
        let now = Instant::now();
        let done: Vec<u32> = self
            .inflight
            .range(..=last_sequence_number)
            .map(|(k, _)| *k)
            .collect();
        done.into_iter()
            .filter_map(|k| self.inflight.remove(&k))
            .map(|(share, at)| Outcome::Accepted {
                share,
                latency: now - at,
            })
            .collect()
    }

    /// `SubmitShares.Error` for one share.
    pub fn on_error(&mut self, sequence_number: u32, code: &str) -> Option<Outcome> {
        let (share, at) = self.inflight.remove(&sequence_number)?;
        Some(Outcome::Rejected {
            share,
            latency: at.elapsed(),
            code: code.to_string(),
        })
    }

    /// Give up every share still waiting for an answer (the connection
    /// ended); how many.
    pub fn forget_inflight(&mut self) -> usize {
        std::mem::take(&mut self.inflight).len()
    }

    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::header::HeaderTemplate;

    /// Standard channel 3 in group 1, with an 8-byte extranonce prefix.
    fn standard_opened(prefix: [u8; 8]) -> FromPool {
        FromPool::StandardOpened {
            request_id: 1,
            channel_id: 3,
            target: [0xff; 32],
            extranonce_prefix: prefix.to_vec(),
            group_channel_id: 1,
        }
    }

    fn extended_opened() -> FromPool {
        FromPool::ExtendedOpened {
            request_id: 1,
            channel_id: 7,
            target: [0xff; 32],
            extranonce_size: 4,
            extranonce_prefix: vec![0xaa, 0xbb],
            group_channel_id: 1,
        }
    }

    fn ext_job(job_id: u32, min_ntime: Option<u32>, rolling: bool) -> FromPool {
        FromPool::ExtendedJob(ExtendedJob {
            channel_id: 7,
            job_id,
            min_ntime,
            version: 0x2000_0000,
            version_rolling_allowed: rolling,
            merkle_path: vec![[3; 32]],
            coinbase_prefix: vec![1, 2, 3],
            coinbase_suffix: vec![4, 5],
        })
    }

    fn share_of(job: &Job) -> Share {
        let v = job.variant(0).unwrap();
        Share {
            job_id: job.id.clone(),
            extranonce2: v.extranonce2.clone(),
            header: v.header,
            hash: BlockHash::all_zeros(),
            difficulty: 1.0,
            is_block: false,
            version_bits: 0,
        }
    }

    #[test]
    fn a_future_job_waits_for_its_prev_hash() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        assert_eq!(ch.on_job(&ext_job(1, None, true)), None);
        let job = ch
            .on_prev_hash(1, [9; 32], 1_700_000_000, 0x207f_ffff)
            .unwrap();
        assert_eq!(job.time, 1_700_000_000);
        assert_eq!(job.bits, 0x207f_ffff);
        assert_eq!(job.prev_hash.to_byte_array(), [9; 32]);
        assert_eq!(job.extranonce1, vec![0xaa, 0xbb]);
        assert_eq!(job.extranonce2_size, 4);
        assert_eq!(job.version_mask, BIP320_MASK);
        assert_eq!(job.share_target, Target::from_le_bytes([0xff; 32]));
        assert!(ch.on_prev_hash(5, [9; 32], 0, 0).is_err());
    }

    #[test]
    fn an_active_job_is_mined_at_once_and_rolling_follows_the_job() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        ch.on_job(&ext_job(1, None, true));
        ch.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        let job = ch.on_job(&ext_job(2, Some(150), false)).unwrap();
        assert_eq!(job.time, 150);
        assert_eq!(job.version_mask, 0);
        assert_eq!(ch.current().unwrap().id, job.id);
    }

    #[test]
    fn shares_of_jobs_on_an_old_tip_are_stale_and_never_sent() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        ch.on_job(&ext_job(1, None, true));
        let old = ch.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        ch.on_job(&ext_job(2, None, true));
        ch.on_prev_hash(2, [8; 32], 200, 0x207f_ffff).unwrap();
        assert_eq!(ch.submit(share_of(&old)), Err(NotSent::Stale));
        assert_eq!(ch.inflight(), 0);
    }

    #[test]
    fn submissions_carry_the_header_and_answers_settle_them_by_sequence() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        ch.on_job(&ext_job(1, None, true));
        let job = ch.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        let mut shares = Vec::new();
        for n in 0..3u32 {
            let mut s = share_of(&job);
            s.header.set_nonce(n);
            shares.push(s.clone());
            match ch.submit(s).unwrap() {
                ToPool::SubmitExtended {
                    sequence_number,
                    job_id,
                    nonce,
                    ntime,
                    extranonce,
                    ..
                } => {
                    assert_eq!((sequence_number, job_id, nonce, ntime), (n, 1, n, 100));
                    assert_eq!(extranonce, shares[0].extranonce2);
                }
                other => panic!("{other:?}"),
            }
        }
        let rejected = ch.on_error(1, "difficulty-too-low").unwrap();
        assert!(
            matches!(rejected, Outcome::Rejected { ref code, .. } if code == "difficulty-too-low")
        );
        let accepted = ch.on_success(2);
        assert_eq!(accepted.len(), 2);
        assert_eq!(ch.inflight(), 0);
        assert!(ch.on_success(2).is_empty());
    }

    #[test]
    fn another_connection_s_shares_are_stale_even_with_the_same_job_id() {
        let mut a = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        let mut b = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        for ch in [&mut a, &mut b] {
            ch.on_job(&ext_job(1, None, true));
        }
        let job_a = a.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        b.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        assert_eq!(b.submit(share_of(&job_a)), Err(NotSent::Stale));
    }

    #[test]
    fn a_standard_channel_mines_the_pool_s_merkle_root() {
        let mut ch = Channel::opened(&standard_opened([1; 8]), BIP320_MASK).unwrap();
        assert_eq!(ch.kind, Kind::Standard);
        ch.on_job(&FromPool::StandardJob(StandardJob {
            channel_id: 3,
            job_id: 4,
            min_ntime: None,
            version: 0x2000_0000,
            merkle_root: [5; 32],
        }));
        let job = ch.on_prev_hash(4, [9; 32], 100, 0x207f_ffff).unwrap();
        let v = job.variant(0).unwrap();
        let want = HeaderTemplate::new(
            0x2000_0000,
            BlockHash::from_byte_array([9; 32]),
            TxMerkleNode::from_byte_array([5; 32]),
            100,
            0x207f_ffff,
            0,
        );
        assert_eq!(v.header.header.merkle_root, want.header.merkle_root);
        assert!(v.extranonce2.is_empty());
        assert!(matches!(
            ch.submit(share_of(&job)).unwrap(),
            ToPool::SubmitStandard { job_id: 4, .. }
        ));
    }

    #[test]
    fn jobs_sent_to_the_group_are_the_channel_s_and_a_standard_channel_finishes_them_with_its_prefix(
    ) {
        let mut ch = Channel::opened(&standard_opened([7; 8]), BIP320_MASK).unwrap();
        // ext_job addresses channel 7: neither the channel nor its group.
        assert_eq!(ch.on_job(&ext_job(1, None, true)), None);
        assert!(ch.specs.is_empty());
        let mut to_group = ext_job(2, None, true);
        if let FromPool::ExtendedJob(j) = &mut to_group {
            j.channel_id = 1;
        }
        ch.on_job(&to_group);
        let job = ch.on_prev_hash(2, [9; 32], 100, 0x207f_ffff).unwrap();
        assert_eq!(job.extranonce1, vec![7; 8]);
        assert_eq!(job.extranonce2_size, 0);
        let v = job.variant(0).unwrap();
        let txid = job.coinbase.txid(&[7; 8], &[]);
        let root = crate::hashing::coinbase::merkle_root(txid, &job.merkle_branch);
        assert_eq!(v.header.header.merkle_root, root);
    }

    #[test]
    fn a_new_target_applies_to_the_current_job() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        ch.on_job(&ext_job(1, None, true));
        ch.on_prev_hash(1, [9; 32], 100, 0x207f_ffff).unwrap();
        let mut t = [0u8; 32];
        t[30] = 0xff;
        let job = ch.on_target(t).unwrap();
        assert_eq!(job.share_target, Target::from_le_bytes(t));
    }

    #[test]
    fn the_job_list_is_bounded() {
        let mut ch = Channel::opened(&extended_opened(), BIP320_MASK).unwrap();
        for id in 0..(MAX_JOBS as u32 * 3) {
            ch.on_job(&ext_job(id, None, true));
        }
        assert_eq!(ch.specs.len(), MAX_JOBS);
    }

    #[test]
    fn stale_codes_are_recognised() {
        assert!(is_stale_code("stale-share"));
        assert!(is_stale_code("invalid-job-id"));
        assert!(!is_stale_code("difficulty-too-low"));
    }
}
