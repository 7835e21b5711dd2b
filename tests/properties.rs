//! Property tests: the coinbase and merkle builders against the `bitcoin`
//! crate's own serialization and merkle computation, and target /
//! difficulty round trips, over generated inputs.

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Amount, ScriptBuf, Target, Transaction, Txid, Wtxid};
use noncesweep::coinbase::{self, CoinbaseBuilder};
use noncesweep::pow;
use noncesweep::sha256::TargetWords;
use proptest::prelude::*;

fn txid(seed: u64) -> Txid {
    Txid::from_raw_hash(sha256d::Hash::hash(&seed.to_le_bytes()))
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
            tag,
            payout_script: ScriptBuf::from_bytes(vec![0x00, 0x14].into_iter().chain([7u8; 20]).collect()),
            value: Amount::from_sat(value),
            witness_commitment: segwit.then(|| coinbase::witness_commitment_script(&wtxids)),
        };
        let tx = b.build(&extranonce).unwrap();
        // It round-trips through the crate's consensus encoding.
        let back: Transaction = deserialize(&serialize(&tx)).unwrap();
        prop_assert_eq!(&back, &tx);
        prop_assert!(tx.is_coinbase());
        // The split parts reassemble to the crate's txid preimage.
        let parts = b.parts().unwrap();
        prop_assert_eq!(parts.txid(&extranonce[..3], &extranonce[3..]), tx.compute_txid());
        // The height push is what the crate's builder makes.
        let push = coinbase::bip34_height_push(height);
        prop_assert!(tx.input[0].script_sig.as_bytes().starts_with(push.as_bytes()));
        prop_assert_eq!(tx.input[0].witness.len(), usize::from(segwit));
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
        prop_assert_eq!(words.is_met_by_state(&state), words.is_met_by_state(&state));
    }
}
