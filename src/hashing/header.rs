//! The 80-byte block header a miner hashes, and what the hashing core
//! takes from it: the midstate of its first 64 bytes and the fixed words
//! of the second SHA-256 block.
//!
//! Field layout (all integers little-endian): version 0..4, previous block
//! hash 4..36, merkle root 36..68, time 68..72, bits 72..76, nonce 76..80.

use bitcoin::block::{Header, Version};
use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, Target, TxMerkleNode};

use crate::hashing::pow;
use crate::hashing::sha256::{self, TargetWords, WorkUnit};

/// Byte offsets of the header fields.
pub mod offset {
    pub const VERSION: usize = 0;
    pub const PREV_HASH: usize = 4;
    pub const MERKLE_ROOT: usize = 36;
    pub const TIME: usize = 68;
    pub const BITS: usize = 72;
    pub const NONCE: usize = 76;
}

/// A header string that is not 80 bytes of hex.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderParseError {
    #[error("header is not valid hex: {0}")]
    Hex(String),
    #[error("header must be 80 bytes (160 hex characters), got {0} bytes")]
    Length(usize),
}

/// An 80-byte block header being mined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderTemplate {
    pub header: Header,
}

impl HeaderTemplate {
    /// A header from its fields. `prev_hash` and `merkle_root` are in
    /// internal byte order (the `bitcoin` crate's types take care of it).
    pub fn new(
        version: i32,
        prev_hash: BlockHash,
        merkle_root: TxMerkleNode,
        time: u32,
        bits: u32,
        nonce: u32,
    ) -> Self {
        HeaderTemplate {
            header: Header {
                version: Version::from_consensus(version),
                prev_blockhash: prev_hash,
                merkle_root,
                time,
                bits: CompactTarget::from_consensus(bits),
                nonce,
            },
        }
    }

    /// Parse 160 hex characters (surrounding whitespace is ignored).
    pub fn from_hex(s: &str) -> Result<Self, HeaderParseError> {
        let bytes = hex::decode(s.trim()).map_err(|e| HeaderParseError::Hex(e.to_string()))?;
        let arr: [u8; 80] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| HeaderParseError::Length(bytes.len()))?;
        Ok(Self::from_bytes(&arr))
    }

    /// From the 80 serialized bytes.
    pub fn from_bytes(b: &[u8; 80]) -> Self {
        let le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let h32 = |o: usize| -> [u8; 32] { b[o..o + 32].try_into().expect("32 bytes") };
        Self::new(
            le(offset::VERSION) as i32,
            BlockHash::from_byte_array(h32(offset::PREV_HASH)),
            TxMerkleNode::from_byte_array(h32(offset::MERKLE_ROOT)),
            le(offset::TIME),
            le(offset::BITS),
            le(offset::NONCE),
        )
    }

    /// The 80 serialized bytes.
    pub fn to_bytes(&self) -> [u8; 80] {
        serialize(&self.header)
            .try_into()
            .expect("a header serializes to 80 bytes")
    }

    pub fn set_nonce(&mut self, nonce: u32) {
        self.header.nonce = nonce;
    }

    pub fn set_time(&mut self, time: u32) {
        self.header.time = time;
    }

    pub fn set_version(&mut self, version: i32) {
        self.header.version = Version::from_consensus(version);
    }

    /// Set the bits selected by `mask` to `bits` (BIP310 version rolling):
    /// `(version & !mask) | (bits & mask)`.
    pub fn set_version_bits(&mut self, mask: u32, bits: u32) {
        let v = self.header.version.to_consensus() as u32;
        self.set_version(((v & !mask) | (bits & mask)) as i32);
    }

    /// The target encoded by the header's own `bits`.
    pub fn block_target(&self) -> Target {
        pow::target_from_bits(self.header.bits.to_consensus())
    }

    /// SHA-256 state after the first 64 bytes: version, previous hash and
    /// the first 28 bytes of the merkle root. It does not depend on the
    /// nonce, time or bits, so it is computed once per header.
    pub fn midstate(&self) -> [u32; 8] {
        let bytes = self.to_bytes();
        let mut block = [0u32; 16];
        for (i, w) in block.iter_mut().enumerate() {
            *w = u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"));
        }
        let mut s = sha256::IV;
        sha256::compress(&mut s, &block);
        s
    }

    /// The three words of block 2 that are not the nonce: the merkle root's
    /// last 4 bytes, time and bits, as SHA-256 reads them (big-endian).
    pub fn tail_words(&self) -> [u32; 3] {
        let b = self.to_bytes();
        let be = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        [be(64), be(68), be(72)]
    }

    /// What a kernel needs to sweep this header's nonces against `target`.
    pub fn work_unit(&self, target: Target) -> WorkUnit {
        WorkUnit {
            midstate: self.midstate(),
            tail: self.tail_words(),
            target: TargetWords::from_le_bytes(target.to_le_bytes()),
        }
    }

    /// The block hash, computed in full by the `bitcoin` crate.
    pub fn block_hash(&self) -> BlockHash {
        self.header.block_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const GENESIS: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

    #[test]
    fn genesis_fields_and_hash() {
        let h = HeaderTemplate::from_hex(GENESIS).unwrap();
        assert_eq!(h.header.nonce, 2083236893);
        assert_eq!(h.header.bits.to_consensus(), 0x1d00ffff);
        assert_eq!(hex::encode(h.to_bytes()), GENESIS);
        assert_eq!(
            h.block_hash().to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        let wu = h.work_unit(h.block_target());
        let state = wu.hash_state(h.header.nonce);
        assert_eq!(
            sha256::state_to_bytes(&state),
            h.block_hash().to_byte_array()
        );
        assert!(wu.target.is_met_by_state(&state));
    }

    #[test]
    fn bad_header_hex() {
        assert!(matches!(
            HeaderTemplate::from_hex("zz"),
            Err(HeaderParseError::Hex(_))
        ));
        assert_eq!(
            HeaderTemplate::from_hex("00"),
            Err(HeaderParseError::Length(1))
        );
    }

    #[test]
    fn version_bits() {
        let mut h = HeaderTemplate::from_hex(GENESIS).unwrap();
        h.set_version(0x2000_0000);
        h.set_version_bits(0x1fffe000, 0xffff_ffff);
        assert_eq!(h.header.version.to_consensus() as u32, 0x3fffe000);
        h.set_version_bits(0x1fffe000, 0x0000_2000);
        assert_eq!(h.header.version.to_consensus() as u32, 0x2000_2000);
    }
}
