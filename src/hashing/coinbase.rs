//! Coinbase transactions and the merkle path from the coinbase to the root,
//! in the two shapes a miner meets.
//!
//! - Pool style: the pool sends `coinb1` and `coinb2`, and the miner
//!   assembles `coinb1 || extranonce1 || extranonce2 || coinb2`.
//! - Template style (getblocktemplate): the miner builds the coinbase with
//!   the `bitcoin` crate: BIP34 height, extranonce slot, tag, payout and the
//!   BIP141 witness commitment; it then splits the legacy serialization
//!   around the extranonce so both shapes share one fast path.
//!
//! Changing the extranonce changes the coinbase txid only, so the merkle
//! root is recomputed from the coinbase's *branch* (its sibling hashes):
//! one coinbase hash plus one hash per branch entry, never a rebuild.

use bitcoin::absolute::LockTime;
use bitcoin::blockdata::script::{Builder, PushBytesBuf};
use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode, TxOut, Txid,
    Witness, WitnessMerkleNode, Wtxid,
};

/// Size of the extranonce slot noncesweep reserves in its own coinbases.
pub const DEFAULT_EXTRANONCE_LEN: usize = 8;

/// Consensus limits on the coinbase scriptSig length.
pub const SCRIPT_SIG_MIN: usize = 2;
pub const SCRIPT_SIG_MAX: usize = 100;

/// A coinbase that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoinbaseError {
    #[error("coinbase scriptSig would be {0} bytes; consensus allows 2 to 100 (shorten --coinbase-message)")]
    ScriptSigLength(usize),
    #[error("extranonce is {got} bytes but the slot holds {want}")]
    ExtranonceLength { got: usize, want: usize },
    #[error("block height {0} is out of range for a BIP34 push")]
    Height(u32),
}

/// A coinbase split around its extranonce: `coinb1 || extranonce1 ||
/// extranonce2 || coinb2` is the legacy (non-witness) serialization, the
/// bytes whose double SHA-256 is the txid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinbaseParts {
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
}

impl CoinbaseParts {
    /// The full legacy serialization for these extranonces.
    pub fn assemble(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(
            self.coinb1.len() + extranonce1.len() + extranonce2.len() + self.coinb2.len(),
        );
        v.extend_from_slice(&self.coinb1);
        v.extend_from_slice(extranonce1);
        v.extend_from_slice(extranonce2);
        v.extend_from_slice(&self.coinb2);
        v
    }

    /// The txid for these extranonces: one double SHA-256 of the coinbase.
    pub fn txid(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Txid {
        Txid::from_raw_hash(sha256d::Hash::hash(
            &self.assemble(extranonce1, extranonce2),
        ))
    }
}

/// Builds noncesweep's own coinbase from a block template's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinbaseBuilder {
    /// Height of the block being mined (BIP34).
    pub height: u32,
    /// Length of the extranonce slot in bytes.
    pub extranonce_len: usize,
    /// Optional tag pushed after the extranonce (e.g. `/noncesweep/`).
    pub tag: Vec<u8>,
    /// Where the reward goes.
    pub payout_script: ScriptBuf,
    /// The template's `coinbasevalue` (subsidy plus fees).
    pub value: Amount,
    /// The BIP141 commitment output script, when the block commits to
    /// witnesses. The coinbase then carries the 32-byte reserved value.
    pub witness_commitment: Option<ScriptBuf>,
}

/// The BIP34 height push, as minimal CScriptNum (OP_1..OP_16 for 1..16).
pub fn bip34_height_push(height: u32) -> ScriptBuf {
    Builder::new().push_int(i64::from(height)).into_script()
}

impl CoinbaseBuilder {
    fn script_sig(&self, extranonce: &[u8]) -> Result<ScriptBuf, CoinbaseError> {
        if extranonce.len() != self.extranonce_len {
            return Err(CoinbaseError::ExtranonceLength {
                got: extranonce.len(),
                want: self.extranonce_len,
            });
        }
        let mut b = Builder::new().push_int(i64::from(self.height));
        if !extranonce.is_empty() {
            let en = PushBytesBuf::try_from(extranonce.to_vec())
                .map_err(|_| CoinbaseError::ScriptSigLength(extranonce.len()))?;
            b = b.push_slice(en);
        }
        if !self.tag.is_empty() {
            let tag = PushBytesBuf::try_from(self.tag.clone())
                .map_err(|_| CoinbaseError::ScriptSigLength(self.tag.len()))?;
            b = b.push_slice(tag);
        }
        let s = b.into_script();
        if !(SCRIPT_SIG_MIN..=SCRIPT_SIG_MAX).contains(&s.len()) {
            return Err(CoinbaseError::ScriptSigLength(s.len()));
        }
        Ok(s)
    }

    /// Check that the scriptSig fits the consensus limits with any extranonce.
    pub fn validate(&self) -> Result<(), CoinbaseError> {
        self.script_sig(&vec![0u8; self.extranonce_len]).map(|_| ())
    }

    /// The coinbase transaction with `extranonce` in its slot. It uses
    /// version 2, `nSequence = 0xfffffffe` and `nLockTime = height - 1`, as
    /// Bitcoin Core's own block assembler does.
    pub fn build(&self, extranonce: &[u8]) -> Result<Transaction, CoinbaseError> {
        let script_sig = self.script_sig(extranonce)?;
        let mut witness = Witness::new();
        let mut output = vec![TxOut {
            value: self.value,
            script_pubkey: self.payout_script.clone(),
        }];
        if let Some(commitment) = &self.witness_commitment {
            witness.push([0u8; 32]);
            output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: commitment.clone(),
            });
        }
        Ok(Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(self.height.saturating_sub(1)),
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig,
                sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                witness,
            }],
            output,
        })
    }

    /// The legacy serialization split around the extranonce slot, so the
    /// engine can change the extranonce exactly as it does for a pool job.
    pub fn parts(&self) -> Result<CoinbaseParts, CoinbaseError> {
        let tx = self.build(&vec![0u8; self.extranonce_len])?;
        // Legacy serialization: version (4), input count (1), prevout (36),
        // scriptSig length (1: it is at most 100), then the scriptSig, whose
        // first push is the height and second the extranonce.
        let legacy = serialize(&LegacyView(&tx));
        let height_push = bip34_height_push(self.height).len();
        let start = 4 + 1 + 36 + 1 + height_push + usize::from(self.extranonce_len > 0);
        let end = start + self.extranonce_len;
        Ok(CoinbaseParts {
            coinb1: legacy[..start].to_vec(),
            coinb2: legacy[end..].to_vec(),
        })
    }
}

/// Serializes a transaction without its witness (the txid preimage).
struct LegacyView<'a>(&'a Transaction);

impl bitcoin::consensus::Encodable for LegacyView<'_> {
    fn consensus_encode<W: bitcoin::io::Write + ?Sized>(
        &self,
        w: &mut W,
    ) -> Result<usize, bitcoin::io::Error> {
        let mut tx = self.0.clone();
        for input in &mut tx.input {
            input.witness.clear();
        }
        tx.consensus_encode(w)
    }
}

/// The legacy (txid) serialization of a transaction.
pub fn serialize_legacy(tx: &Transaction) -> Vec<u8> {
    serialize(&LegacyView(tx))
}

/// The BIP141 witness commitment output script for a block whose
/// non-coinbase transactions have `wtxids`, with the coinbase's wtxid
/// counted as zero and a zero 32-byte reserved value.
pub fn witness_commitment_script(wtxids: &[Wtxid]) -> ScriptBuf {
    let hashes = std::iter::once(Wtxid::all_zeros())
        .chain(wtxids.iter().copied())
        .map(|w| w.to_raw_hash());
    let root = bitcoin::merkle_tree::calculate_root(hashes).expect("at least the coinbase");
    let root = WitnessMerkleNode::from_raw_hash(root);
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    ScriptBuf::from_bytes(script)
}

fn hash_pair(a: &sha256d::Hash, b: &sha256d::Hash) -> sha256d::Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(a.as_byte_array());
    buf[32..].copy_from_slice(b.as_byte_array());
    sha256d::Hash::hash(&buf)
}

/// The merkle branch of the coinbase (position 0) given the txids of the
/// other transactions in block order: at each level, the coinbase's
/// sibling. Odd levels duplicate their last node, as Bitcoin does.
pub fn merkle_branch(txids: &[Txid]) -> Vec<TxMerkleNode> {
    let mut branch = Vec::new();
    // Level without its first element (the coinbase's own running hash).
    let mut rest: Vec<sha256d::Hash> = txids.iter().map(|t| t.to_raw_hash()).collect();
    while !rest.is_empty() {
        branch.push(TxMerkleNode::from_raw_hash(rest[0]));
        rest = rest[1..]
            .chunks(2)
            .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&pair[0])))
            .collect();
    }
    branch
}

/// The merkle root from the coinbase txid and its branch.
pub fn merkle_root(coinbase_txid: Txid, branch: &[TxMerkleNode]) -> TxMerkleNode {
    let root = branch.iter().fold(coinbase_txid.to_raw_hash(), |acc, b| {
        hash_pair(&acc, &b.to_raw_hash())
    });
    TxMerkleNode::from_raw_hash(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip34_pushes_are_minimal_scriptnums() {
        let cases: &[(u32, &str)] = &[
            (1, "51"),
            (16, "60"),
            (17, "0111"),
            (127, "017f"),
            (128, "028000"),
            (255, "02ff00"),
            (256, "020001"),
            (32767, "02ff7f"),
            (32768, "03008000"),
            (8388608, "0400008000"),
        ];
        for (h, want) in cases {
            assert_eq!(
                hex::encode(bip34_height_push(*h).as_bytes()),
                *want,
                "height {h}"
            );
        }
    }

    #[test]
    fn branch_and_root_match_the_crate() {
        for n in 0..12usize {
            let txids: Vec<Txid> = (0..n)
                .map(|i| Txid::from_raw_hash(sha256d::Hash::hash(&[i as u8 + 1])))
                .collect();
            let cb = Txid::from_raw_hash(sha256d::Hash::hash(b"coinbase"));
            let expected = bitcoin::merkle_tree::calculate_root(
                std::iter::once(cb)
                    .chain(txids.iter().copied())
                    .map(|t| t.to_raw_hash()),
            )
            .unwrap();
            let branch = merkle_branch(&txids);
            assert_eq!(merkle_root(cb, &branch).to_raw_hash(), expected, "n = {n}");
        }
    }

    #[test]
    fn parts_reassemble_to_the_txid() {
        let b = CoinbaseBuilder {
            height: 5,
            extranonce_len: 8,
            tag: b"/noncesweep/".to_vec(),
            payout_script: ScriptBuf::from_bytes(vec![0x51]),
            value: Amount::from_sat(5_000_000_000),
            witness_commitment: Some(witness_commitment_script(&[])),
        };
        let en = [1, 2, 3, 4, 5, 6, 7, 8];
        let tx = b.build(&en).unwrap();
        let parts = b.parts().unwrap();
        assert_eq!(parts.assemble(&en[..4], &en[4..]), serialize_legacy(&tx));
        assert_eq!(parts.txid(&en[..4], &en[4..]), tx.compute_txid());
        assert!(tx.is_coinbase());
        assert_eq!(tx.input[0].script_sig.as_bytes()[0], 0x55); // OP_5
    }

    #[test]
    fn script_sig_limits() {
        let mut b = CoinbaseBuilder {
            height: 1,
            extranonce_len: 0,
            tag: vec![],
            payout_script: ScriptBuf::new(),
            value: Amount::ZERO,
            witness_commitment: None,
        };
        // OP_1 alone is one byte: too short.
        assert_eq!(b.validate(), Err(CoinbaseError::ScriptSigLength(1)));
        b.extranonce_len = 8;
        assert!(b.validate().is_ok());
        b.tag = vec![b'x'; 95];
        assert!(matches!(
            b.validate(),
            Err(CoinbaseError::ScriptSigLength(_))
        ));
    }
}
