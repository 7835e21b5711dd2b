//! The AVX2 kernel: 8 nonces per 256-bit register.
//!
//! For CPUs without AVX-512, and a fallback when SHA-NI is missing. AVX2
//! has no rotate and no three-input logic, so each rotation is two shifts
//! and an OR, Ch is `((f ^ g) & e) ^ g` and Maj is `b ^ ((a ^ b) & (b ^ c))` with `b ^ c` kept from the previous
//! round.
//! The algorithm itself is [`super::lanes`].

use core::arch::x86_64::*;

use super::lanes::{self, Lanes};
use super::{VersionWork, WorkUnit};

#[derive(Clone, Copy)]
struct Ymm(__m256i);

/// Rotate every lane right by `R` (`L` must be `32 - R`).
#[inline(always)]
unsafe fn ror<const R: i32, const L: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<R>(x), _mm256_slli_epi32::<L>(x))
}

#[inline(always)]
unsafe fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
    _mm256_xor_si256(_mm256_xor_si256(a, b), c)
}

impl Lanes for Ymm {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Ymm(_mm256_set1_epi32(x as i32))
    }
    #[inline(always)]
    unsafe fn load(p: &[u32]) -> Self {
        assert!(p.len() >= 8);
        Ymm(_mm256_loadu_si256(p.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn store(self, p: &mut [u32]) {
        assert!(p.len() >= 8);
        _mm256_storeu_si256(p.as_mut_ptr().cast(), self.0)
    }
    #[inline(always)]
    unsafe fn iota(base: u32) -> Self {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        Ymm(_mm256_add_epi32(_mm256_set1_epi32(base as i32), idx))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Ymm(_mm256_add_epi32(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn bsig0(self) -> Self {
        let x = self.0;
        Ymm(xor3(ror::<2, 30>(x), ror::<13, 19>(x), ror::<22, 10>(x)))
    }
    #[inline(always)]
    unsafe fn bsig1(self) -> Self {
        let x = self.0;
        Ymm(xor3(ror::<6, 26>(x), ror::<11, 21>(x), ror::<25, 7>(x)))
    }
    #[inline(always)]
    unsafe fn ssig0(self) -> Self {
        let x = self.0;
        Ymm(xor3(
            ror::<7, 25>(x),
            ror::<18, 14>(x),
            _mm256_srli_epi32::<3>(x),
        ))
    }
    #[inline(always)]
    unsafe fn ssig1(self) -> Self {
        let x = self.0;
        Ymm(xor3(
            ror::<17, 15>(x),
            ror::<19, 13>(x),
            _mm256_srli_epi32::<10>(x),
        ))
    }
    #[inline(always)]
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self {
        Ymm(_mm256_xor_si256(
            _mm256_and_si256(_mm256_xor_si256(f.0, g.0), e.0),
            g.0,
        ))
    }
    #[inline(always)]
    unsafe fn maj(a: Self, b: Self, _c: Self, bc: Self) -> (Self, Self) {
        let ab = _mm256_xor_si256(a.0, b.0);
        (
            Ymm(_mm256_xor_si256(_mm256_and_si256(bc.0, ab), b.0)),
            Ymm(ab),
        )
    }
    #[inline(always)]
    unsafe fn bswap(self) -> Self {
        let m = _mm256_setr_epi8(
            3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10,
            9, 8, 15, 14, 13, 12,
        );
        Ymm(_mm256_shuffle_epi8(self.0, m))
    }
    #[inline(always)]
    unsafe fn le_mask(self, o: Self) -> u32 {
        let le = _mm256_cmpeq_epi32(_mm256_min_epu32(self.0, o.0), self.0);
        _mm256_movemask_ps(_mm256_castsi256_ps(le)) as u32
    }
    #[inline(always)]
    unsafe fn eq_mask(self, o: Self) -> u32 {
        let eq = _mm256_cmpeq_epi32(self.0, o.0);
        _mm256_movemask_ps(_mm256_castsi256_ps(eq)) as u32
    }
}

/// Sweep `first..=last`.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx2")]
#[inline(never)]
pub(crate) unsafe fn sweep(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    // SAFETY: this function only runs with AVX2 enabled, which is all
    // `Ymm`'s operations use.
    unsafe { lanes::sweep::<Ymm>(work, first, last, hits) }
}

/// Whether this CPU and OS support the kernel.
pub(crate) fn is_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Sweep `first..=last` for the 32 headers of `work`, 8 per pass.
/// (Two registers side by side, as AVX-512 does, would need more than
/// AVX2's 16 registers.)
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx2")]
#[inline(never)]
pub(crate) unsafe fn sweep_versions(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    // SAFETY: as in `sweep`.
    unsafe { lanes::sweep_versions::<Ymm, false>(work, first, last, hits) }
}
