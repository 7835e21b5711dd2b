//! The AVX-512 kernel: 16 nonces per 512-bit register.
//!
//! Rotations are single `vprord` instructions (`_mm512_ror_epi32`), and
//! Ch, Maj and the three-way XORs of the sigma functions are single
//! `vpternlogd` instructions (`_mm512_ternarylogic_epi32`), which is why
//! this kernel beats SHA-NI on CPUs that have both. The algorithm itself is
//! [`super::lanes`]; this module only supplies the lane operations.
//!
//! With version rolling, three kernels hash 32 versions of one header per
//! nonce, and calibration times them on the CPU at hand: [`sweep_versions`]
//! drives two registers of 16 side by side (more independent work, some
//! spills), [`sweep_versions_one`] one register at a time (no spills), and
//! [`sweep_versions_pipelined`] one register's block 2 interleaved round by
//! round with the second hash of the 16 versions before it, kept
//! interleaved by an ordering point per round ([`Lanes::order`]).

use core::arch::x86_64::*;

use super::lanes::{self, Lanes};
use super::{VersionWork, WorkUnit};

/// Three-way XOR as a `vpternlogd` truth table.
const XOR3: i32 = 0x96;
/// `a ? b : c`.
const SELECT: i32 = 0xca;
/// Majority of three.
const MAJORITY: i32 = 0xe8;

#[derive(Clone, Copy)]
struct Zmm(__m512i);

impl Lanes for Zmm {
    const N: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Zmm(_mm512_set1_epi32(x as i32))
    }
    #[inline(always)]
    unsafe fn load(p: &[u32]) -> Self {
        assert!(p.len() >= 16);
        Zmm(_mm512_loadu_si512(p.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn store(self, p: &mut [u32]) {
        assert!(p.len() >= 16);
        _mm512_storeu_si512(p.as_mut_ptr().cast(), self.0)
    }
    #[inline(always)]
    unsafe fn iota(base: u32) -> Self {
        let idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        Zmm(_mm512_add_epi32(_mm512_set1_epi32(base as i32), idx))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Zmm(_mm512_add_epi32(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn bsig0(self) -> Self {
        let x = self.0;
        Zmm(_mm512_ternarylogic_epi32::<XOR3>(
            _mm512_ror_epi32::<2>(x),
            _mm512_ror_epi32::<13>(x),
            _mm512_ror_epi32::<22>(x),
        ))
    }
    #[inline(always)]
    unsafe fn bsig1(self) -> Self {
        let x = self.0;
        Zmm(_mm512_ternarylogic_epi32::<XOR3>(
            _mm512_ror_epi32::<6>(x),
            _mm512_ror_epi32::<11>(x),
            _mm512_ror_epi32::<25>(x),
        ))
    }
    #[inline(always)]
    unsafe fn ssig0(self) -> Self {
        let x = self.0;
        Zmm(_mm512_ternarylogic_epi32::<XOR3>(
            _mm512_ror_epi32::<7>(x),
            _mm512_ror_epi32::<18>(x),
            _mm512_srli_epi32::<3>(x),
        ))
    }
    #[inline(always)]
    unsafe fn ssig1(self) -> Self {
        let x = self.0;
        Zmm(_mm512_ternarylogic_epi32::<XOR3>(
            _mm512_ror_epi32::<17>(x),
            _mm512_ror_epi32::<19>(x),
            _mm512_srli_epi32::<10>(x),
        ))
    }
    #[inline(always)]
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self {
        Zmm(_mm512_ternarylogic_epi32::<SELECT>(e.0, f.0, g.0))
    }
    #[inline(always)]
    unsafe fn maj(a: Self, b: Self, c: Self, carry: Self) -> (Self, Self) {
        // One instruction; nothing to carry. (Carrying `a ^ b` instead
        // saves the register copy `vpternlogd` needs but costs a `vpxord`.)
        (
            Zmm(_mm512_ternarylogic_epi32::<MAJORITY>(a.0, b.0, c.0)),
            carry,
        )
    }
    #[inline(always)]
    unsafe fn bswap(self) -> Self {
        // Bytes 0 and 2 come from the rotation left by 8, bytes 1 and 3
        // from the rotation right by 8 (AVX-512F only, no vpshufb needed).
        Zmm(_mm512_ternarylogic_epi32::<SELECT>(
            _mm512_set1_epi32(0x00ff_00ff),
            _mm512_rol_epi32::<8>(self.0),
            _mm512_ror_epi32::<8>(self.0),
        ))
    }
    #[inline(always)]
    unsafe fn le_mask(self, o: Self) -> u32 {
        _mm512_cmple_epu32_mask(self.0, o.0) as u32
    }
    #[inline(always)]
    unsafe fn eq_mask(self, o: Self) -> u32 {
        _mm512_cmpeq_epi32_mask(self.0, o.0) as u32
    }
    #[inline(always)]
    unsafe fn order(a: &mut Self, b: &mut Self) {
        order_zmm(&mut a.0, &mut b.0)
    }
}

/// [`Lanes::order`] for `Zmm`: an empty `asm!` block (not `pure`, so such
/// blocks keep their order) that takes and gives back both registers.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn order_zmm(a: &mut __m512i, b: &mut __m512i) {
    // SAFETY: the block contains no instruction; it only names the two
    // registers, which it leaves unchanged.
    unsafe {
        core::arch::asm!(
            "/* {0} {1} */",
            inout(zmm_reg) * a,
            inout(zmm_reg) * b,
            options(nostack, preserves_flags)
        )
    }
}

/// Sweep `first..=last`.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(crate) unsafe fn sweep(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    // SAFETY: this function only runs with AVX-512F enabled, which is all
    // `Zmm`'s operations use.
    unsafe { lanes::sweep::<Zmm>(work, first, last, hits) }
}

/// Sweep `first..=last` with two registers of 16 nonces driven side by
/// side (see [`lanes::Pair`]): more independent work per instruction
/// stream, at the price of twice the registers.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(crate) unsafe fn sweep_pair(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    // SAFETY: as in `sweep`.
    unsafe { lanes::sweep::<lanes::Pair<Zmm>>(work, first, last, hits) }
}

/// Whether this CPU and OS support the kernel.
pub(crate) fn is_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Sweep `first..=last` for the 32 headers of `work`: two registers of 16
/// versions each, driven side by side (see [`lanes::Pair`]).
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(crate) unsafe fn sweep_versions(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    // SAFETY: as in `sweep`.
    unsafe { lanes::sweep_versions::<lanes::Pair<Zmm>, false>(work, first, last, hits) }
}

/// Sweep `first..=last` for the 32 headers of `work`, one register of 16
/// versions at a time: half the live registers of [`sweep_versions`], so
/// nothing is spilled, with less independent work in flight.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(crate) unsafe fn sweep_versions_one(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    // SAFETY: as in `sweep`.
    unsafe { lanes::sweep_versions::<Zmm, false>(work, first, last, hits) }
}

/// Sweep `first..=last` for the 32 headers of `work`, one register of 16
/// versions in block 2 while another finishes the second hash of the 16
/// before them (see `lanes::sweep_versions`): two dependency chains, one
/// rotate-light and one rotate-heavy, in one instruction stream.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(crate) unsafe fn sweep_versions_pipelined(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    // SAFETY: as in `sweep`.
    unsafe { lanes::sweep_versions::<Zmm, true>(work, first, last, hits) }
}
