//! The types the engine sees: a [`Job`] from any work source, the header
//! variants it expands into (extranonce2 and version-rolling bits), and the
//! [`Share`] the engine reports after re-checking a hit.
//!
//! A job is in pool shape whatever its source: coinbase parts around an
//! `extranonce1 || extranonce2` slot, a merkle branch, and the header fields.
//! A getblocktemplate job uses an empty extranonce1 and noncesweep's own
//! 8-byte slot as extranonce2.

use bitcoin::{BlockHash, Target, TxMerkleNode};

use crate::hashing::coinbase::{self, CoinbaseParts};
use crate::hashing::header::HeaderTemplate;
use crate::hashing::sha256::VERSION_LANES;

/// The version bits BIP320 leaves free for rolling (13..28).
pub const BIP320_MASK: u32 = 0x1fff_e000;

/// One unit of work from a work source.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The source's name for the job (Stratum job id, template id).
    pub id: String,
    pub version: i32,
    /// Version bits the miner may roll (BIP310 mask granted by the pool); 0
    /// for none.
    pub version_mask: u32,
    pub prev_hash: BlockHash,
    pub coinbase: CoinbaseParts,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    /// The first extranonce2 value to use (as a little-endian counter).
    pub extranonce2_start: u64,
    pub merkle_branch: Vec<TxMerkleNode>,
    /// A merkle root fixed by the source (Stratum V2 standard channels,
    /// header-only mining): the coinbase, extranonces and branch are then
    /// not used, and only the version and nonce move.
    pub merkle_root: Option<TxMerkleNode>,
    pub time: u32,
    pub bits: u32,
    /// What counts as a share (the block target for solo mining).
    pub share_target: Target,
}

/// One header of a job: a specific extranonce2 and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub header: HeaderTemplate,
    pub extranonce2: Vec<u8>,
}

/// A hit the engine re-checked with a full `block_hash()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    /// The full header that was hashed (nonce, time and rolled version in it).
    pub header: HeaderTemplate,
    pub hash: BlockHash,
    /// The share's own difficulty (`DIFF1 / hash`).
    pub difficulty: f64,
    /// Whether the hash also meets the block target in `bits`.
    pub is_block: bool,
    /// The version bits rolled within the job's mask (BIP310's sixth
    /// submit parameter).
    pub version_bits: u32,
}

impl Job {
    /// How many versions one extranonce2 value yields: `2^popcount(mask)`,
    /// capped at 2^16 so that the extranonce still moves.
    pub fn versions_per_extranonce(&self) -> u64 {
        1u64 << self.version_mask.count_ones().min(16)
    }

    /// The largest extranonce2 value that fits its size (the counter is
    /// the low 8 bytes of extranonce2; wider ones keep zeros above).
    pub fn extranonce2_max(&self) -> u64 {
        if self.extranonce2_size >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.extranonce2_size)) - 1
        }
    }

    /// The extranonce2 counter value of step `step` of the job: from
    /// `extranonce2_start` upwards, wrapping past the largest value to 0,
    /// so that every value of the space is used exactly once wherever the
    /// job starts. `None` once every value has been used.
    pub fn extranonce2_at(&self, step: u64) -> Option<u64> {
        let max = self.extranonce2_max();
        if step > max {
            return None;
        }
        Some(self.extranonce2_start.wrapping_add(step) & max)
    }

    /// Header variant number `index`: each extranonce2 value is used with
    /// every rolled version before the extranonce2 moves on (rolling the
    /// version costs one midstate, the extranonce2 a coinbase hash plus the
    /// branch). `None` when the job's space is exhausted.
    pub fn variant(&self, index: u64) -> Option<Variant> {
        let per = self.versions_per_extranonce();
        let en2 = self.extranonce2_at(index / per)?;
        let roll = deposit_bits(index % per, self.version_mask);
        let mut extranonce2 = vec![0u8; self.extranonce2_size];
        let n = self.extranonce2_size.min(8);
        extranonce2[..n].copy_from_slice(&en2.to_le_bytes()[..n]);
        let root = match self.merkle_root {
            Some(root) => root,
            None => coinbase::merkle_root(
                self.coinbase.txid(&self.extranonce1, &extranonce2),
                &self.merkle_branch,
            ),
        };
        let mut header =
            HeaderTemplate::new(self.version, self.prev_hash, root, self.time, self.bits, 0);
        if self.version_mask != 0 {
            // Roll relative to the job's own bits so variant 0 is the job as sent.
            let base = self.version as u32 & self.version_mask;
            header.set_version_bits(self.version_mask, base ^ roll);
        }
        Some(Variant {
            header,
            extranonce2,
        })
    }

    /// Whether the job's mask yields whole groups of [`VERSION_LANES`]
    /// versions per extranonce2 (five or more bits), which the vector
    /// kernels hash side by side ([`Job::version_group`]).
    pub fn has_version_groups(&self) -> bool {
        self.versions_per_extranonce() >= VERSION_LANES as u64
    }

    /// Variants `group * VERSION_LANES ..` (the same as [`Job::variant`]
    /// gives one by one): one extranonce2, consecutive rolled versions. The
    /// coinbase and merkle root are computed once for the group. `None` when
    /// the job's space is exhausted or its mask is too narrow for groups.
    pub fn version_group(&self, group: u64) -> Option<Vec<Variant>> {
        if !self.has_version_groups() {
            return None;
        }
        let first = group.checked_mul(VERSION_LANES as u64)?;
        let v0 = self.variant(first)?;
        let per = self.versions_per_extranonce();
        let base = self.version as u32 & self.version_mask;
        Some(
            (first..first + VERSION_LANES as u64)
                .map(|index| {
                    let mut v = v0.clone();
                    let roll = deposit_bits(index % per, self.version_mask);
                    v.header.set_version_bits(self.version_mask, base ^ roll);
                    v
                })
                .collect(),
        )
    }

    /// The block target from the job's `bits`.
    pub fn block_target(&self) -> Target {
        crate::hashing::pow::target_from_bits(self.bits)
    }
}

/// Spread the low bits of `value` over the set bits of `mask` (like x86 PDEP).
pub fn deposit_bits(mut value: u64, mask: u32) -> u32 {
    let mut out = 0u32;
    let mut m = mask;
    while m != 0 && value != 0 {
        let bit = m & m.wrapping_neg();
        if value & 1 == 1 {
            out |= bit;
        }
        value >>= 1;
        m &= m - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deposit() {
        assert_eq!(deposit_bits(0, 0x1fffe000), 0);
        assert_eq!(deposit_bits(1, 0x1fffe000), 0x2000);
        assert_eq!(deposit_bits(0xffff, 0x1fffe000), 0x1fffe000);
        assert_eq!(deposit_bits(0b101, 0b1011_0000), 0b1000_0000 | 0b1_0000);
    }

    #[test]
    fn extranonce_space_is_bounded() {
        use bitcoin::hashes::Hash;
        let job = Job {
            id: "j".into(),
            version: 0x2000_0000,
            version_mask: 0,
            prev_hash: BlockHash::all_zeros(),
            coinbase: CoinbaseParts {
                coinb1: vec![1],
                coinb2: vec![2],
            },
            extranonce1: vec![],
            extranonce2_size: 1,
            extranonce2_start: 254,
            merkle_branch: vec![],
            merkle_root: None,
            time: 0,
            bits: 0x207fffff,
            share_target: Target::MAX_ATTAINABLE_REGTEST,
        };
        // From the start, wrapping through 0, each value once, then none.
        let used: Vec<u8> = (0..)
            .map_while(|i| job.variant(i))
            .map(|v| v.extranonce2[0])
            .collect();
        assert_eq!(&used[..3], &[254, 255, 0]);
        assert_eq!(used.len(), 256);
        let distinct: std::collections::HashSet<u8> = used.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert!(job.variant(256).is_none());
        assert!(!job.has_version_groups());
        assert!(job.version_group(0).is_none());
    }

    #[test]
    fn version_groups_are_the_variants_in_order() {
        let mut job = crate::hashing::engine::synthetic_job(Target::MAX_ATTAINABLE_REGTEST);
        job.extranonce2_size = 1;
        job.extranonce2_start = 254;
        for mask in [BIP320_MASK, 0x0000_3e00, 0x1f00_0000] {
            job.version_mask = mask;
            job.version = 0x2000_0000 | (0x5555_5555 & mask as i32);
            assert!(job.has_version_groups());
            let groups = job.versions_per_extranonce() / VERSION_LANES as u64;
            for g in [0, 1, groups - 1, groups, 2 * groups - 1] {
                let group = job.version_group(g).expect("group");
                assert_eq!(group.len(), VERSION_LANES);
                for (i, v) in group.iter().enumerate() {
                    assert_eq!(
                        Some(v),
                        job.variant(g * VERSION_LANES as u64 + i as u64).as_ref()
                    );
                }
            }
            // Variant 0 is the job as sent; versions in a group all differ.
            let g0 = job.version_group(0).unwrap();
            assert_eq!(g0[0].header.header.version.to_consensus(), job.version);
            let mut versions: Vec<i32> = g0
                .iter()
                .map(|v| v.header.header.version.to_consensus())
                .collect();
            versions.sort_unstable();
            versions.dedup();
            assert_eq!(versions.len(), VERSION_LANES);
            // 256 extranonce2 values (254, 255, 0, ..., 253), then nothing.
            assert!(job.version_group(256 * groups - 1).is_some());
            assert!(job.version_group(256 * groups).is_none());
            let wrapped = job.version_group(2 * groups).expect("wrapped to 0");
            assert_eq!(wrapped[0].extranonce2, vec![0]);
        }
        job.version_mask = 0x0000_1e00;
        assert!(!job.has_version_groups());
        assert!(job.version_group(0).is_none());
    }
}
