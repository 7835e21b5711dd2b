//! Where a Stratum V2 pool is and which key vouches for it:
//! `stratum2+tcp://HOST:PORT/AUTHORITY_PUBKEY`, the SRI's URL form, and the
//! authority key itself (base58check of a 2-byte little-endian version, 1,
//! and a 32-byte x-only secp256k1 key, the form the SRI roles print and
//! read).
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

/// A `stratum2+tcp://` pool address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sv2Url {
    pub host: String,
    pub port: u16,
    /// The key from the URL's path, if it has one.
    pub key: Option<AuthorityKey>,
}

/// The URL schemes that mean Stratum V2.
pub const SCHEMES: &[&str] = &["stratum2+tcp", "stratum2", "sv2"];

/// Why a `stratum2+tcp://` value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Sv2UrlError {
    #[error("{0} (expected stratum2+tcp://host:port/AUTHORITY_PUBKEY)")]
    Shape(&'static str),
    #[error("bad authority key {key:?} in the URL: {why}")]
    Key { key: String, why: KeyError },
}

impl FromStr for Sv2Url {
    type Err = Sv2UrlError;

    fn from_str(s: &str) -> Result<Self, Sv2UrlError> {
        let shape = Sv2UrlError::Shape;
        let (scheme, rest) = s.split_once("://").ok_or(shape("no scheme"))?;
        if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(shape("not a Stratum V2 scheme"));
        }
        let (hostport, path) = match rest.split_once('/') {
            Some((hp, p)) => (hp, p.trim_end_matches('/')),
            None => (rest, ""),
        };
        if hostport.contains('@') || path.contains('/') {
            return Err(shape("only host:port and the key may follow the scheme"));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            v6.split_once("]:").ok_or(shape("missing port"))?
        } else {
            hostport.rsplit_once(':').ok_or(shape("missing port"))?
        };
        if host.is_empty() || !host.is_ascii() {
            return Err(shape("bad host"));
        }
        let port: u16 = port.parse().map_err(|_| shape("bad port"))?;
        if port == 0 {
            return Err(shape("bad port"));
        }
        let key = if path.is_empty() {
            None
        } else {
            Some(path.parse().map_err(|why| Sv2UrlError::Key {
                key: path.to_string(),
                why,
            })?)
        };
        Ok(Sv2Url {
            host: host.to_string(),
            port,
            key,
        })
    }
}

impl fmt::Display for Sv2Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "stratum2+tcp://[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "stratum2+tcp://{}:{}", self.host, self.port)?;
        }
        if let Some(k) = &self.key {
            write!(f, "/{k}")?;
        }
        Ok(())
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

    #[test]
    fn urls_parse_with_and_without_a_key() {
        let u: Sv2Url = format!("stratum2+tcp://127.0.0.1:34254/{SRI_EXAMPLE}")
            .parse()
            .unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 34254);
        assert_eq!(u.key.unwrap().to_string(), SRI_EXAMPLE);
        assert_eq!(
            u.to_string(),
            format!("stratum2+tcp://127.0.0.1:34254/{SRI_EXAMPLE}")
        );
        let bare: Sv2Url = "stratum2+tcp://[::1]:3333/".parse().unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.key),
            ("::1", 3333, None)
        );
        assert_eq!(bare.to_string(), "stratum2+tcp://[::1]:3333");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, want) in [
            ("stratum+tcp://h:1", "not a Stratum V2 scheme"),
            ("stratum2+tcp://h", "missing port"),
            ("stratum2+tcp://h:0", "bad port"),
            ("stratum2+tcp://u@h:1", "only host:port"),
            ("stratum2+tcp://h:1/a/b", "only host:port"),
        ] {
            let e = url.parse::<Sv2Url>().unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
        let e = "stratum2+tcp://h:1/notakey".parse::<Sv2Url>().unwrap_err();
        assert!(matches!(e, Sv2UrlError::Key { .. }), "{e}");
    }
}
