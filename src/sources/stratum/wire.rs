//! Newtypes for the quirks of Stratum v1 fields on the wire, so that no
//! other code has to remember them:
//!
//! - [`PrevHash`]: the previous block hash with every 4-byte word
//!   byte-swapped relative to the header's internal order;
//! - [`HexU32Be`]: version, nbits, ntime, nonce and version bits as 8 hex
//!   digits, big-endian (they enter the header little-endian);
//! - [`Extranonce1`] and [`Extranonce2Size`]: bounded extranonce data;
//! - [`Difficulty`]: a finite, positive (possibly fractional) difficulty.
//!
//! Every parser returns a [`WireError`] naming the field and the input;
//! none of them panics on any input.

use std::fmt;

use bitcoin::hashes::Hash;
use bitcoin::BlockHash;

/// Longest extranonce1 accepted from a pool (real pools use 4 to 8 bytes).
pub const MAX_EXTRANONCE1: usize = 32;
/// The extranonce2 sizes accepted (real pools use 4 to 8 bytes).
pub const EXTRANONCE2_SIZES: std::ops::RangeInclusive<usize> = 1..=16;
/// Longest job id accepted.
pub const MAX_JOB_ID: usize = 128;

/// A field that does not have the shape Stratum requires.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    #[error("{field}: expected {expected}, got {got}")]
    Type {
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{field}: {input:?} is not valid hex ({why})")]
    Hex {
        field: &'static str,
        input: String,
        why: String,
    },
    #[error("{field}: {got} bytes, expected {expected}")]
    Length {
        field: &'static str,
        got: usize,
        expected: String,
    },
    #[error("{field}: invalid value {value}")]
    Value { field: &'static str, value: String },
}

/// A short, printable rendering of a JSON value for error messages.
pub(crate) fn show(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let cut = (0..=80).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// The JSON value as a string, or a type error.
pub(crate) fn as_str<'a>(
    field: &'static str,
    v: &'a serde_json::Value,
) -> Result<&'a str, WireError> {
    v.as_str().ok_or_else(|| WireError::Type {
        field,
        expected: "a string",
        got: show(v),
    })
}

/// Decode hex of at most `max` bytes. Odd lengths, non-hex and non-ASCII
/// characters are errors.
pub fn decode_hex(field: &'static str, s: &str, max: usize) -> Result<Vec<u8>, WireError> {
    if s.len() > 2 * max {
        return Err(WireError::Length {
            field,
            got: s.len() / 2,
            expected: format!("at most {max}"),
        });
    }
    hex::decode(s).map_err(|e| WireError::Hex {
        field,
        input: s.chars().take(80).collect(),
        why: e.to_string(),
    })
}

/// The JSON value as hex bytes (at most `max`).
pub(crate) fn hex_field(
    field: &'static str,
    v: &serde_json::Value,
    max: usize,
) -> Result<Vec<u8>, WireError> {
    decode_hex(field, as_str(field, v)?, max)
}

/// A 32-bit integer sent as exactly 8 big-endian hex digits
/// (`"20000000"` is version `0x20000000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HexU32Be(pub u32);

impl HexU32Be {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, WireError> {
        let b = decode_hex(field, s, 4)?;
        let arr: [u8; 4] = b.as_slice().try_into().map_err(|_| WireError::Length {
            field,
            got: b.len(),
            expected: "4 (8 hex digits)".into(),
        })?;
        Ok(HexU32Be(u32::from_be_bytes(arr)))
    }

    pub(crate) fn from_json(field: &'static str, v: &serde_json::Value) -> Result<Self, WireError> {
        Self::parse(field, as_str(field, v)?)
    }
}

impl fmt::Display for HexU32Be {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The previous block hash as `mining.notify` sends it: the 32 internal
/// bytes with each 4-byte word byte-swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrevHash(pub BlockHash);

impl PrevHash {
    /// Swap the bytes of every 4-byte word (its own inverse).
    fn swap_words(b: [u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, i) in out.chunks_exact_mut(4).zip(b.chunks_exact(4)) {
            o.copy_from_slice(&[i[3], i[2], i[1], i[0]]);
        }
        out
    }

    pub fn parse(s: &str) -> Result<Self, WireError> {
        let b = decode_hex("prevhash", s, 32)?;
        let arr: [u8; 32] = b.as_slice().try_into().map_err(|_| WireError::Length {
            field: "prevhash",
            got: b.len(),
            expected: "32".into(),
        })?;
        Ok(PrevHash(BlockHash::from_byte_array(Self::swap_words(arr))))
    }

    /// The wire form (64 hex digits, word-swapped).
    pub fn to_wire(&self) -> String {
        hex::encode(Self::swap_words(self.0.to_byte_array()))
    }
}

/// The pool's per-connection extranonce1 (bounded).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extranonce1(Vec<u8>);

impl Extranonce1 {
    pub fn new(bytes: Vec<u8>) -> Result<Self, WireError> {
        if bytes.len() > MAX_EXTRANONCE1 {
            return Err(WireError::Length {
                field: "extranonce1",
                got: bytes.len(),
                expected: format!("at most {MAX_EXTRANONCE1}"),
            });
        }
        Ok(Extranonce1(bytes))
    }

    pub fn parse(s: &str) -> Result<Self, WireError> {
        Self::new(decode_hex("extranonce1", s, MAX_EXTRANONCE1)?)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Extranonce1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

/// How many extranonce2 bytes the miner fills in: 1 to 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extranonce2Size(u8);

impl Extranonce2Size {
    pub fn new(n: u64) -> Result<Self, WireError> {
        if !EXTRANONCE2_SIZES.contains(&(n as usize)) || n > 16 {
            return Err(WireError::Value {
                field: "extranonce2_size",
                value: format!("{n} (must be 1 to 16)"),
            });
        }
        Ok(Extranonce2Size(n as u8))
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Self, WireError> {
        let n = v.as_u64().ok_or_else(|| WireError::Type {
            field: "extranonce2_size",
            expected: "a non-negative integer",
            got: show(v),
        })?;
        Self::new(n)
    }

    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// A share difficulty: finite and greater than zero; fractions allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Difficulty(f64);

impl Difficulty {
    pub fn new(d: f64) -> Result<Self, WireError> {
        if !d.is_finite() || d <= 0.0 {
            return Err(WireError::Value {
                field: "difficulty",
                value: d.to_string(),
            });
        }
        Ok(Difficulty(d))
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Self, WireError> {
        let d = v.as_f64().ok_or_else(|| WireError::Type {
            field: "difficulty",
            expected: "a number",
            got: show(v),
        })?;
        Self::new(d)
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// As JSON: an integer when the value is whole (as pools send `1`).
    pub(crate) fn to_json(self) -> serde_json::Value {
        if self.0.fract() == 0.0 && self.0 < 9.0e15 {
            serde_json::json!(self.0 as u64)
        } else {
            serde_json::json!(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prevhash_is_word_swapped() {
        let wire = "00010203".to_string() + &"0".repeat(56);
        let p = PrevHash::parse(&wire).unwrap();
        assert_eq!(&p.0.to_byte_array()[..4], &[3, 2, 1, 0]);
        assert_eq!(p.to_wire(), wire);
    }

    #[test]
    fn hex_u32_is_big_endian() {
        assert_eq!(HexU32Be::parse("f", "207fffff").unwrap().0, 0x207fffff);
        assert_eq!(HexU32Be(0x2000).to_string(), "00002000");
        assert!(HexU32Be::parse("f", "2000").is_err());
        assert!(HexU32Be::parse("f", "20000000ff").is_err());
        assert!(HexU32Be::parse("f", "2000000").is_err());
    }

    #[test]
    fn sizes_are_bounded() {
        assert!(Extranonce2Size::new(0).is_err());
        assert!(Extranonce2Size::new(17).is_err());
        assert_eq!(Extranonce2Size::new(16).unwrap().get(), 16);
        assert!(Extranonce1::new(vec![0; 33]).is_err());
        assert!(Difficulty::new(f64::NAN).is_err());
        assert!(Difficulty::new(-1.0).is_err());
        assert!(Difficulty::new(0.0).is_err());
        assert!(Difficulty::new(0.001).is_ok());
    }
}
