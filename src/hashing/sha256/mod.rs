//! SHA-256d nonce-sweep kernels and the one place that knows which exist.
//!
//! Every backend is a private module with the same signature,
//! `fn sweep(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>)`:
//! it hashes the header of `work` for every nonce in `first..=last` and
//! pushes each nonce whose double SHA-256, read as a little-endian 256-bit
//! integer, is `<=` the target. The portable `soft` kernel is the
//! fallback for every CPU and the oracle the SIMD kernels are tested against.

use std::fmt;
use std::str::FromStr;

mod kernel;
mod lanes;
mod select;
pub(crate) mod soft;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_shani;

pub use kernel::{LaneMode, NonceKernel, VersionKernel};
pub use select::{
    calibrate, select, select_fresh, self_test, Candidate, Selection, CALIBRATION_BUDGET,
};

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
pub const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
pub const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The SHA-256 compression function over one 64-byte block given as 16
/// big-endian words. Plain Rust; used off the hot path (midstates, teaching).
pub fn compress(state: &mut [u32; 8], block: &[u32; 16]) {
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(block);
    for i in 16..64 {
        w[i] = small_sigma1(w[i - 2])
            .wrapping_add(w[i - 7])
            .wrapping_add(small_sigma0(w[i - 15]))
            .wrapping_add(w[i - 16]);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for i in 0..64 {
        let t1 = h
            .wrapping_add(big_sigma1(e))
            .wrapping_add(ch(e, f, g))
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let t2 = big_sigma0(a).wrapping_add(maj(a, b, c));
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[inline(always)]
pub(crate) const fn ch(e: u32, f: u32, g: u32) -> u32 {
    (e & f) ^ (!e & g)
}
#[inline(always)]
pub(crate) const fn maj(a: u32, b: u32, c: u32) -> u32 {
    (a & b) ^ (a & c) ^ (b & c)
}
#[inline(always)]
pub(crate) const fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
#[inline(always)]
pub(crate) const fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
#[inline(always)]
pub(crate) const fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
#[inline(always)]
pub(crate) const fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// A 256-bit target as eight 32-bit words, least significant first, so
/// `words[7]` is the top word. A digest meets it when the digest, read as
/// a little-endian integer, is `<=` the target. Because the digest is the
/// eight state words written big-endian, digest word `i` read little-endian
/// is `H[i].swap_bytes()`: the top word of the hash is `bswap(H7)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TargetWords(pub [u32; 8]);

impl TargetWords {
    /// From the 32 little-endian bytes of a target (`bitcoin::Target::to_le_bytes`).
    pub fn from_le_bytes(b: [u8; 32]) -> Self {
        let mut w = [0u32; 8];
        for (i, chunk) in b.chunks_exact(4).enumerate() {
            w[i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        TargetWords(w)
    }

    /// The 32 little-endian bytes of this target.
    pub fn to_le_bytes(self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, w) in self.0.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// The top 32 bits, compared against `bswap(H7)` by the early exit.
    #[inline(always)]
    pub fn top(&self) -> u32 {
        self.0[7]
    }

    /// Whether the final state `h` (digest words, big-endian order) meets
    /// this target. This is the full 256-bit comparison.
    #[inline]
    pub fn is_met_by_state(&self, h: &[u32; 8]) -> bool {
        for i in (0..8).rev() {
            let v = h[i].swap_bytes();
            if v != self.0[i] {
                return v < self.0[i];
            }
        }
        true
    }
}

/// Everything a kernel needs to sweep the nonces of one header, and
/// nothing it does not: the header enters as the state after its first 64
/// bytes (the midstate) and the three words of the second block that are
/// not the nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkUnit {
    /// SHA-256 state after compressing header bytes 0..64.
    pub midstate: [u32; 8],
    /// Words 0..3 of block 2 as SHA-256 reads them (big-endian): the last
    /// 4 bytes of the merkle root, the time and the bits.
    pub tail: [u32; 3],
    /// The target hits must meet.
    pub target: TargetWords,
}

impl WorkUnit {
    /// Words of the padded block 2 for `nonce`: tail, the nonce
    /// (byte-swapped, since the header stores it little-endian), `0x80`
    /// padding and the 640-bit length.
    pub fn block2(&self, nonce: u32) -> [u32; 16] {
        let mut w = [0u32; 16];
        w[..3].copy_from_slice(&self.tail);
        w[3] = nonce.swap_bytes();
        w[4] = 0x8000_0000;
        w[15] = 640;
        w
    }

    /// The full double SHA-256 state of the header with `nonce`, computed
    /// the plain way. Used to re-check candidates and by the teaching code.
    pub fn hash_state(&self, nonce: u32) -> [u32; 8] {
        let mut s = self.midstate;
        compress(&mut s, &self.block2(nonce));
        second_hash(&s)
    }
}

/// How many headers a [`VersionWork`] holds: 32 rolled versions, which
/// needs at least five bits of version-rolling mask (BIP320 gives 16).
pub const VERSION_LANES: usize = 32;

/// [`VERSION_LANES`] headers that differ only in their version field
/// (BIP320 version rolling). Their first 64 bytes differ, so each has its
/// own midstate; their second block is the same, so the SIMD kernels
/// compute its message schedule once for all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionWork {
    /// Midstate of header `i`.
    pub midstates: [[u32; 8]; VERSION_LANES],
    /// Words 0..3 of block 2, shared (see [`WorkUnit::tail`]).
    pub tail: [u32; 3],
    /// The target hits must meet, the same for every lane.
    pub target: TargetWords,
}

impl VersionWork {
    /// Header `lane` as a plain work unit.
    pub fn unit(&self, lane: usize) -> WorkUnit {
        WorkUnit {
            midstate: self.midstates[lane],
            tail: self.tail,
            target: self.target,
        }
    }
}

/// SHA-256 of a 32-byte digest given as its 8 state words.
pub fn second_hash(first: &[u32; 8]) -> [u32; 8] {
    let mut w = [0u32; 16];
    w[..8].copy_from_slice(first);
    w[8] = 0x8000_0000;
    w[15] = 256;
    let mut s = IV;
    compress(&mut s, &w);
    s
}

/// The state words of a SHA-256 digest written as bytes, i.e. the block
/// hash in internal (little-endian integer) byte order.
pub fn state_to_bytes(h: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, w) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// A nonce-sweep implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// AVX-512F, 16 nonces per register.
    Avx512,
    /// The SHA-NI instructions, several nonces interleaved.
    Shani,
    /// AVX2, 8 nonces per register.
    Avx2,
    /// Portable Rust, one nonce at a time.
    Soft,
}

/// The `--backend` choice: a specific backend, or pick the best one here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Fixed(Backend),
}

/// A backend name that is not known, or not supported by this CPU.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    #[error("unknown backend {0:?}: expected one of auto, {names}", names = Backend::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("backend {name} is not supported on this CPU (available here: {available})")]
    Unsupported {
        name: &'static str,
        available: String,
    },
}

impl Backend {
    /// Every backend this build knows, best first on a typical CPU; a
    /// backend that fails its self-test falls back to the next one.
    pub const ALL: &'static [Backend] = &[
        Backend::Avx512,
        Backend::Shani,
        Backend::Avx2,
        Backend::Soft,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Avx512 => "avx512",
            Backend::Shani => "shani",
            Backend::Avx2 => "avx2",
            Backend::Soft => "soft",
        }
    }

    /// Whether this CPU and OS can run the backend (checked at run time).
    pub fn is_supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Backend::Avx512 => x86_avx512::is_supported(),
                Backend::Shani => x86_shani::is_supported(),
                Backend::Avx2 => x86_avx2::is_supported(),
                Backend::Soft => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Backend::Soft
        }
    }

    /// Every backend this CPU and OS support.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .iter()
            .copied()
            .filter(|b| b.is_supported())
            .collect()
    }

    /// Sweep `first..=last`, pushing every nonce that meets `work.target`
    /// onto `hits` in increasing order.
    #[inline]
    pub fn sweep(self, work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
        debug_assert!(first <= last);
        if first > last {
            return;
        }
        if self != Backend::Soft {
            // The reference kernel (it checks that the CPU supports it).
            self.nonce_kernels()[0].sweep(work, first, last, hits);
            return;
        }
        soft::sweep(work, first, last, hits)
    }
}

impl Backend {
    /// Whether this backend's [`Backend::sweep_versions`] computes block
    /// 2's message schedule once for all the versions (the SIMD kernels),
    /// rather than sweeping them one after another.
    pub fn shares_versions(self) -> bool {
        !self.version_kernels().is_empty()
    }

    /// Sweep `first..=last` for every header of `work`, pushing each
    /// `(lane, nonce)` whose hash meets `work.target` onto `hits`, in
    /// increasing nonce order and lane order within a nonce.
    pub fn sweep_versions(
        self,
        work: &VersionWork,
        first: u32,
        last: u32,
        hits: &mut Vec<(usize, u32)>,
    ) {
        debug_assert!(first <= last);
        if first > last {
            return;
        }
        if let Some(kernel) = self.version_kernels().first() {
            // The reference kernel (it checks that the CPU supports it).
            kernel.sweep_versions(work, first, last, hits);
            return;
        }
        let start = hits.len();
        let mut found = Vec::new();
        for lane in 0..VERSION_LANES {
            found.clear();
            self.sweep(&work.unit(lane), first, last, &mut found);
            hits.extend(found.iter().map(|&n| (lane, n)));
        }
        hits[start..].sort_unstable_by_key(|&(lane, nonce)| (nonce, lane));
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = Backend::ALL
            .iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| BackendError::Unknown(s.to_string()))?;
        if !b.is_supported() {
            return Err(BackendError::Unsupported {
                name: b.name(),
                available: Backend::available()
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(b)
    }
}

impl FromStr for BackendChoice {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            Ok(BackendChoice::Auto)
        } else {
            s.parse().map(BackendChoice::Fixed)
        }
    }
}

impl BackendChoice {
    /// Resolve to a concrete backend that passed its self-test. `Auto`
    /// calibrates and picks the fastest; see [`select`], which also gives
    /// the reason.
    pub fn resolve(self) -> Backend {
        select(self).backend()
    }
}

/// CPU features relevant to hashing, detected at run time, for reports.
pub fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sha") {
            v.push("sha-ni");
        }
        if std::arch::is_x86_feature_detected!("sse4.1") {
            v.push("sse4.1");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            v.push("avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx512vl") {
            v.push("avx512vl");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("sha2") {
            v.push("sha2");
        }
        if std::arch::is_aarch64_feature_detected!("neon") {
            v.push("neon");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn compress_matches_sha2_crate() {
        // "abc" padded into one block.
        let mut block = [0u32; 16];
        block[0] = 0x6162_6380;
        block[15] = 24;
        let mut s = IV;
        compress(&mut s, &block);
        let expected = sha2::Sha256::digest(b"abc");
        assert_eq!(&state_to_bytes(&s)[..], &expected[..]);
    }

    #[test]
    fn target_words_round_trip_and_compare() {
        let mut b = [0u8; 32];
        b[31] = 0x12;
        b[0] = 0x34;
        let t = TargetWords::from_le_bytes(b);
        assert_eq!(t.to_le_bytes(), b);
        assert_eq!(t.top(), 0x1200_0000);
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!("soft".parse::<Backend>(), Ok(Backend::Soft));
        assert!(matches!(
            "bogus".parse::<Backend>(),
            Err(BackendError::Unknown(_))
        ));
        assert_eq!("auto".parse::<BackendChoice>(), Ok(BackendChoice::Auto));
    }
}
