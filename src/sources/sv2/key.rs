//! Which key vouches for a Stratum V2 pool: the authority key that ends
//! its URL (`stratum2+tcp://HOST:PORT/AUTHORITY_PUBKEY`, the SRI's form,
//! parsed with every pool URL in [`PoolUrl`](crate::sources::pool::PoolUrl)),
//! as base58check of a 2-byte little-endian version, 1, and a 32-byte
//! x-only secp256k1 key, the form the SRI roles print and read.
//!
//! The key is what makes the channel authenticated: the pool's Noise
//! certificate must be signed by it, so a URL without one (and no
//! `--sv2-authority-key`) is refused rather than mined unauthenticated.

use std::fmt;
use std::str::FromStr;

use bitcoin::base58;
use bitcoin::secp256k1::XOnlyPublicKey;

/// A pool's authority public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuthorityKey(XOnlyPublicKey);

/// Why a string is not an authority key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not base58check (a typo, or a truncated key)")]
    Base58,
    #[error("{0} bytes after decoding; an authority key has 34")]
    Length(usize),
    #[error("key version {0}; only version 1 is defined")]
    Version(u16),
    #[error("not a valid secp256k1 x-only public key")]
    Curve,
}

impl AuthorityKey {
    /// The 32 bytes the Noise initiator checks the certificate against.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0.serialize()
    }
}

impl FromStr for AuthorityKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let raw = base58::decode_check(s.trim()).map_err(|_| KeyError::Base58)?;
        if raw.len() != 34 {
            return Err(KeyError::Length(raw.len()));
        }
        let version = u16::from_le_bytes([raw[0], raw[1]]);
        if version != 1 {
            return Err(KeyError::Version(version));
        }
        XOnlyPublicKey::from_slice(&raw[2..])
            .map(AuthorityKey)
            .map_err(|_| KeyError::Curve)
    }
}

impl fmt::Display for AuthorityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 34];
        raw[0] = 1;
        raw[2..].copy_from_slice(&self.0.serialize());
        f.write_str(&base58::encode_check(&raw))
    }
}

impl fmt::Debug for AuthorityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorityKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The authority key of the SRI's example configurations.
    const SRI_EXAMPLE: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";

    #[test]
    fn the_sri_example_key_round_trips() {
        let k: AuthorityKey = SRI_EXAMPLE.parse().unwrap();
        assert_eq!(k.to_string(), SRI_EXAMPLE);
    }

    #[test]
    fn bad_keys_say_why() {
        let mut typo = SRI_EXAMPLE.to_string();
        typo.replace_range(5..6, "x");
        assert_eq!(typo.parse::<AuthorityKey>(), Err(KeyError::Base58));
        let short = base58::encode_check(&[1, 0, 2, 3]);
        assert_eq!(short.parse::<AuthorityKey>(), Err(KeyError::Length(4)));
        let k: AuthorityKey = SRI_EXAMPLE.parse().unwrap();
        let mut v2 = [0u8; 34];
        v2[0] = 2;
        v2[2..].copy_from_slice(&k.to_bytes());
        assert_eq!(
            base58::encode_check(&v2).parse::<AuthorityKey>(),
            Err(KeyError::Version(2))
        );
        // x = 5 is not on the curve (5^3 + 7 = 132 is not a square mod p).
        let mut off = [0u8; 34];
        off[0] = 1;
        off[33] = 5;
        assert_eq!(
            base58::encode_check(&off).parse::<AuthorityKey>(),
            Err(KeyError::Curve)
        );
    }
}
