//! Property tests: the coinbase and merkle builders against the `bitcoin`
//! crate's own serialization and merkle computation, and target /
//! difficulty round trips, over generated inputs.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Amount, ScriptBuf, Target, Txid, Wtxid};
use noncesweep::hashing::coinbase::{self, CoinbaseBuilder};
use noncesweep::hashing::pow;
use noncesweep::hashing::sha256::TargetWords;
use proptest::prelude::*;

fn txid(seed: u64) -> Txid {
    Txid::from_raw_hash(sha256d::Hash::hash(&seed.to_le_bytes()))
}

/// Reads a byte string front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
}

/// BIP34's height push, written from the rule: OP_1..OP_16 for 1..16,
/// else the minimal little-endian number with a sign byte when needed,
/// after its length.
fn minimal_height_push(height: u32) -> Vec<u8> {
    if (1..=16).contains(&height) {
        return vec![0x50 + height as u8];
    }
    let mut n = height.to_le_bytes().to_vec();
    while n.last() == Some(&0) {
        n.pop();
    }
    if n.last().is_some_and(|&b| b & 0x80 != 0) {
        n.push(0);
    }
    let mut push = vec![n.len() as u8];
    push.extend(n);
    push
}

/// BIP141's commitment, written from the rule with plain SHA-256: the
/// witness merkle root (the coinbase's wtxid counted as zero, last node
/// doubled on odd levels), then SHA-256d of it and a zero reserved value.
fn witness_commitment(wtxids: &[Wtxid]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let d = |data: &[u8]| -> [u8; 32] { Sha256::digest(Sha256::digest(data)).into() };
    let mut level: Vec<[u8; 32]> = std::iter::once([0u8; 32])
        .chain(wtxids.iter().map(|w| w.to_byte_array()))
        .collect();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().unwrap());
        }
        level = level.chunks(2).map(|p| d(&[p[0], p[1]].concat())).collect();
    }
    d(&[level[0], [0u8; 32]].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merkle_root_from_branch_equals_the_crate(n in 0usize..40, seed in any::<u64>()) {
        let txids: Vec<Txid> = (0..n as u64).map(|i| txid(seed ^ (i + 1))).collect();
        let cb = txid(seed);
        let want = bitcoin::merkle_tree::calculate_root(
            std::iter::once(cb).chain(txids.iter().copied()).map(|t| t.to_raw_hash()),
        ).unwrap();
        let got = coinbase::merkle_root(cb, &coinbase::merkle_branch(&txids));
        prop_assert_eq!(got.to_raw_hash(), want);
    }

    #[test]
    fn coinbase_builder_matches_the_crate_serialization(
        height in 1u32..10_000_000,
        extranonce in proptest::collection::vec(any::<u8>(), 8),
        tag in proptest::collection::vec(any::<u8>(), 0..60),
        value in 0u64..2_100_000_000_000_000,
        segwit in any::<bool>(),
        wtxid_seeds in proptest::collection::vec(any::<u64>(), 0..8),
    ) {
        let wtxids: Vec<Wtxid> = wtxid_seeds.iter().map(|&s| Wtxid::from_raw_hash(sha256d::Hash::hash(&s.to_le_bytes()))).collect();
        let b = CoinbaseBuilder {
            height,
            extranonce_len: 8,
            tag: tag.clone(),
            payout_script: ScriptBuf::from_bytes(vec![0x00, 0x14].into_iter().chain([7u8; 20]).collect()),
            value: Amount::from_sat(value),
            witness_commitment: segwit.then(|| coinbase::witness_commitment_script(&wtxids)),
        };
        let tx = b.build(&extranonce).unwrap();
        prop_assert!(tx.is_coinbase());
        // The split parts reassemble to the crate's txid preimage.
        let parts = b.parts().unwrap();
        prop_assert_eq!(parts.txid(&extranonce[..3], &extranonce[3..]), tx.compute_txid());
        // The legacy serialization, read byte by byte against the rules
        // (PROTOCOLS.md, BIP34), with the height push from an encoder
        // written here, independently of the crate's script builder.
        let bytes = coinbase::serialize_legacy(&tx);
        let mut r = Reader(&bytes);
        prop_assert_eq!(r.take(4), &2u32.to_le_bytes()[..]); // version 2
        prop_assert_eq!(r.take(1), &[1u8][..]); // one input
        prop_assert_eq!(r.take(32), &[0u8; 32][..]); // null prevout
        prop_assert_eq!(r.take(4), &[0xff; 4][..]);
        let script_len = r.take(1)[0] as usize;
        prop_assert!((2..=100).contains(&script_len), "scriptSig of {} bytes", script_len);
        let script = r.take(script_len);
        let push = minimal_height_push(height);
        prop_assert_eq!(&script[..push.len()], &push[..]);
        // Then the 8-byte extranonce push and the tag push (a tag of up to
        // 75 bytes is pushed with its length as the opcode).
        let mut want = vec![8u8];
        want.extend(&extranonce);
        if !tag.is_empty() {
            want.push(tag.len() as u8);
            want.extend(&tag);
        }
        prop_assert_eq!(&script[push.len()..], &want[..]);
        let sequence = u32::from_le_bytes(r.take(4).try_into().unwrap());
        prop_assert_ne!(sequence, 0xffff_ffff);
        let outputs = r.take(1)[0] as usize;
        prop_assert_eq!(outputs, 1 + usize::from(segwit));
        prop_assert_eq!(u64::from_le_bytes(r.take(8).try_into().unwrap()), value);
        let payout_len = r.take(1)[0] as usize;
        prop_assert_eq!(r.take(payout_len), b.payout_script.as_bytes());
        if segwit {
            prop_assert_eq!(r.take(8), &[0u8; 8][..]);
            let len = r.take(1)[0] as usize;
            let commitment = r.take(len);
            prop_assert_eq!(&commitment[..6], &[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed][..]);
            prop_assert_eq!(&commitment[6..], &witness_commitment(&wtxids)[..]);
            // The coinbase witness: exactly one 32-byte zero item.
            prop_assert_eq!(tx.input[0].witness.len(), 1);
            prop_assert_eq!(tx.input[0].witness.nth(0).unwrap(), &[0u8; 32][..]);
        } else {
            prop_assert!(tx.input[0].witness.is_empty());
        }
        prop_assert_eq!(u32::from_le_bytes(r.take(4).try_into().unwrap()), height - 1);
        prop_assert!(r.0.is_empty());
    }

    #[test]
    fn compact_targets_round_trip(exp in 4u32..=0x1d, mant in 0x8000u32..0x7f_ffff) {
        let bits = (exp << 24) | mant;
        let t = pow::target_from_bits(bits);
        prop_assert_eq!(t.to_compact_lossy().to_consensus(), bits);
        prop_assert_eq!(pow::target_from_bits(t.to_compact_lossy().to_consensus()), t);
    }

    #[test]
    fn share_target_and_difficulty_round_trip(d in 1e-6f64..1e12) {
        let t = pow::share_target(d).unwrap();
        let back = pow::target_difficulty(t);
        prop_assert!((back - d).abs() / d < 1e-9, "{} -> {}", d, back);
        // Larger difficulty, smaller (or equal) target.
        prop_assert!(pow::share_target(d * 2.0).unwrap() <= t);
    }

    #[test]
    fn target_words_compare_like_the_crate(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        // `b` as a digest: state words are its bytes read big-endian.
        let mut state = [0u32; 8];
        for (i, w) in state.iter_mut().enumerate() {
            *w = u32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
        }
        let words = TargetWords::from_le_bytes(a);
        prop_assert_eq!(words.is_met_by_state(&state), Target::from_le_bytes(b) <= Target::from_le_bytes(a));
    }
}
