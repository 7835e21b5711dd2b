//! The SHA-NI kernel: the CPU's SHA-256 instructions, several nonces at once.
//!
//! `sha256rnds2` does two rounds but has a latency of several cycles, so a
//! single hash leaves the SHA unit idle most of the time. This kernel
//! interleaves `WAYS` independent nonces (2, 3 or 4: calibration picks the
//! count that covers the latency on this CPU), instruction by instruction, to
//! keep it busy. Savings over two plain compressions: the midstate, rounds
//! 0-1 of block 2 computed once, constant K+W of the padding words computed
//! once, and the second hash stops after round 61 (only `H7` is needed,
//! which is the `e` of round 60, the F word of that `sha256rnds2`).
//!
//! With version rolling, [`sweep_versions`] interleaves several (2, 4 or 8)
//! *versions* of the header at the same nonce instead: they share block 2,
//! so its `sha256msg1`/`sha256msg2` schedule is computed once per nonce for
//! all 32 versions, and only the rounds run per version.
//!
//! The kernels named `-ahead` compute the second hash's whole message
//! schedule into memory before its rounds ([`second_hash`] with `AHEAD`):
//! with four ways, the states and the schedules do not fit the 16 `xmm`
//! registers together, and LLVM otherwise spills states that are on the
//! rounds' dependency chain. Which is faster depends on the core, so
//! calibration times both.
//!
//! `x4-asm` ([`asm`]) is `x4` written out instruction by instruction: the
//! same work in an order and a register assignment chosen by hand rather
//! than by LLVM, whose choices for these kernels change with the build
//! (see docs/benchmarks.md).
//!
//! Register layout (Intel's): `abef` holds A, B, E, F in lanes 3..0, `cdgh`
//! holds C, D, G, H; message vectors hold W[4g..4g+4] in lanes 0..3.

use core::arch::x86_64::*;

use super::{VersionWork, WorkUnit, IV, K, VERSION_LANES};

mod asm;
pub(crate) use asm::{Asm4, AsmNonces4};

const PAD: u32 = 0x8000_0000;

/// Words 4..15 of block 2: the padding of the 80-byte header.
const BLOCK2_PAD: [u32; 12] = [PAD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 640];

/// Words 8..15 of the second hash's message: the padding of a 32-byte
/// message (a 1 bit, zeros, the length in bits).
const SECOND_PAD: [u32; 8] = [PAD, 0, 0, 0, 0, 0, 0, 256];

/// Group `g` (words 4g..4g+4) of `pad`, whose first word is word `4 first`
/// of its block.
#[inline(always)]
unsafe fn pad_group(pad: &[u32], first: usize, g: usize) -> __m128i {
    let w = &pad[4 * (g - first)..];
    words(w[0], w[1], w[2], w[3])
}

/// Nonce-free values of one work unit. `repr(C)` because the
/// hand-scheduled kernel ([`asm`]) reads the first three fields by offset.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Pre {
    /// The midstate as ABEF / CDGH.
    mid_abef: __m128i,
    mid_cdgh: __m128i,
    /// State after rounds 0-1 of block 2 (ABEF).
    abef1: __m128i,
    /// W0, W1, W2 of block 2 in lanes 0..2 (the nonce goes in lane 3).
    msg0: __m128i,
    /// `W2 + K2` (round 2); round 3 adds the nonce to K3.
    wk2: u32,
}

impl Pre {
    #[inline(always)]
    unsafe fn new(work: &WorkUnit) -> Pre {
        let [w0, w1, w2] = work.tail;
        let (mid_abef, mid_cdgh) = to_abef(&work.midstate);
        let wk01 = words(w0.wrapping_add(K[0]), w1.wrapping_add(K[1]), 0, 0);
        Pre {
            mid_abef,
            mid_cdgh,
            abef1: _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, wk01),
            msg0: words(w0, w1, w2, 0),
            wk2: w2.wrapping_add(K[2]),
        }
    }
}

#[inline(always)]
unsafe fn to_abef(s: &[u32; 8]) -> (__m128i, __m128i) {
    let i = |x: u32| x as i32;
    (
        _mm_set_epi32(i(s[0]), i(s[1]), i(s[4]), i(s[5])),
        _mm_set_epi32(i(s[2]), i(s[3]), i(s[6]), i(s[7])),
    )
}

#[inline(always)]
unsafe fn words(a: u32, b: u32, c: u32, d: u32) -> __m128i {
    _mm_setr_epi32(a as i32, b as i32, c as i32, d as i32)
}

/// `K[4g..4g+4]` as a vector.
#[inline(always)]
unsafe fn k4(g: usize) -> __m128i {
    words(K[4 * g], K[4 * g + 1], K[4 * g + 2], K[4 * g + 3])
}

/// Four rounds on every way with message+constant vectors `wk`.
#[inline(always)]
unsafe fn rounds4<const W: usize>(
    abef: &mut [__m128i; W],
    cdgh: &mut [__m128i; W],
    wk: [__m128i; W],
) {
    rounds4_halves(abef, cdgh, wk, wk.map(|v| _mm_shuffle_epi32::<0x0e>(v)));
}

/// Four rounds on every way, way `j`'s `W + K` given as the two halves
/// `sha256rnds2` takes: `lo[j]` for rounds 0-1 and `hi[j]` for rounds 2-3,
/// each in the low 64 bits.
#[inline(always)]
unsafe fn rounds4_halves<const W: usize>(
    abef: &mut [__m128i; W],
    cdgh: &mut [__m128i; W],
    lo: [__m128i; W],
    hi: [__m128i; W],
) {
    for j in 0..W {
        cdgh[j] = _mm_sha256rnds2_epu32(cdgh[j], abef[j], lo[j]);
    }
    for j in 0..W {
        abef[j] = _mm_sha256rnds2_epu32(abef[j], cdgh[j], hi[j]);
    }
}

/// W[4g..4g+4] from the four previous message vectors.
#[inline(always)]
unsafe fn next_msg(m4: __m128i, m3: __m128i, m2: __m128i, m1: __m128i) -> __m128i {
    let t = _mm_add_epi32(_mm_sha256msg1_epu32(m4, m3), _mm_alignr_epi8::<4>(m1, m2));
    _mm_sha256msg2_epu32(t, m1)
}

/// Message groups 4.. : extend the schedule, then four rounds.
macro_rules! sched_groups {
    ($W:ident, $m:ident, $abef:ident, $cdgh:ident; $($g:literal)*) => {
        $(
            let mut wk = [_mm_setzero_si128(); $W];
            for j in 0..$W {
                $m[$g][j] = next_msg($m[$g - 4][j], $m[$g - 3][j], $m[$g - 2][j], $m[$g - 1][j]);
                wk[j] = _mm_add_epi32($m[$g][j], k4($g));
            }
            rounds4(&mut $abef, &mut $cdgh, wk);
        )*
    };
}

/// `H7` of the double SHA-256 of each way: way `j` hashes header `p[j]`
/// at `nonce[j]`. With `AHEAD`, the second hash's schedule is computed
/// into `scratch` before its rounds (see [`second_hash`]).
#[inline(always)]
unsafe fn h7<const W: usize, const AHEAD: bool>(
    p: &[Pre; W],
    nonce: [u32; W],
    scratch: &mut [[__m128i; 32]; W],
) -> [u32; W] {
    let zero = _mm_setzero_si128();
    let mut abef = [zero; W];
    let mut cdgh: [__m128i; W] = core::array::from_fn(|j| p[j].abef1);
    let mut m = [[zero; W]; 16];
    for j in 0..W {
        abef[j] = _mm_sha256rnds2_epu32(p[j].mid_abef, p[j].abef1, wk23(&p[j], nonce[j]));
        for (g, msg) in block2_msg(&p[j], nonce[j]).into_iter().enumerate() {
            m[g][j] = msg;
        }
    }
    // Groups 1-3 of block 2 are padding: K + W is constant.
    for (g, msg) in m.iter().enumerate().take(4).skip(1) {
        let wk = _mm_add_epi32(msg[0], k4(g));
        rounds4(&mut abef, &mut cdgh, [wk; W]);
    }
    sched_groups!(W, m, abef, cdgh; 4 5 6 7 8 9 10 11 12 13 14 15);
    second_hash::<W, AHEAD>(abef, cdgh, p, scratch)
}

/// `W + K` of rounds 2-3 of block 2 at `nonce`, in the low 64 bits.
#[inline(always)]
unsafe fn wk23(p: &Pre, nonce: u32) -> __m128i {
    let wk3 = nonce.swap_bytes().wrapping_add(K[3]);
    _mm_cvtsi64_si128(((wk3 as u64) << 32 | p.wk2 as u64) as i64)
}

/// `W + K` of all 64 rounds of a block whose message words are `m`
/// (W[4g..4g+4] in `m[g]`), into `wk`: element `2g` feeds rounds
/// `4g, 4g+1` and `2g + 1` rounds `4g+2, 4g+3`, each in its low 64 bits as
/// `sha256rnds2` takes it. Written in place: a copy of the array would be
/// a `memcpy` call, whose 256-bit moves cost the next SHA instruction a
/// state transition of hundreds of cycles on some cores (see
/// docs/benchmarks.md). (Advancing several ways' schedules group by group,
/// so that their `sha256msg2` chains overlap, measured slower.)
#[inline(always)]
unsafe fn schedule_wk(m: [__m128i; 4], wk: &mut [__m128i; 32]) {
    // The last four message vectors, oldest first.
    let mut window = m;
    for g in 0..16 {
        let msg = if g < 4 {
            m[g]
        } else {
            let [m4, m3, m2, m1] = window;
            let next = next_msg(m4, m3, m2, m1);
            window = [m3, m2, m1, next];
            next
        };
        let v = _mm_add_epi32(msg, k4(g));
        wk[2 * g] = v;
        wk[2 * g + 1] = _mm_shuffle_epi32::<0x0e>(v);
    }
}

/// Block 2's message words at `nonce`.
#[inline(always)]
unsafe fn block2_msg(p: &Pre, nonce: u32) -> [__m128i; 4] {
    [
        _mm_insert_epi32::<3>(p.msg0, nonce.swap_bytes() as i32),
        pad_group(&BLOCK2_PAD, 1, 1),
        pad_group(&BLOCK2_PAD, 1, 2),
        pad_group(&BLOCK2_PAD, 1, 3),
    ]
}

/// Rounds `4g..4g+4` for `g` in `groups` on every way, way `j` with the
/// `W + K` of [`schedule_wk`] in `wk[j]`.
#[inline(always)]
unsafe fn rounds_wk<const W: usize>(
    abef: &mut [__m128i; W],
    cdgh: &mut [__m128i; W],
    wk: &[[__m128i; 32]; W],
    groups: core::ops::Range<usize>,
) {
    for g in groups {
        let lo = core::array::from_fn(|j| wk[j][2 * g]);
        let hi = core::array::from_fn(|j| wk[j][2 * g + 1]);
        rounds4_halves(abef, cdgh, lo, hi);
    }
}

/// `H7` of the double SHA-256 of each way: way `j` hashes header `p[j]`,
/// and all have the same block 2, whose `W + K` is `wk` (from
/// [`schedule_wk`], computed once per nonce for all the versions). With
/// `AHEAD`, the second hash's schedule is computed before its rounds.
#[inline(always)]
unsafe fn h7_shared<const W: usize, const AHEAD: bool>(
    p: &[Pre; W],
    wk: &[__m128i; 32],
    scratch: &mut [[__m128i; 32]; W],
) -> [u32; W] {
    let mut abef: [__m128i; W] =
        core::array::from_fn(|j| _mm_sha256rnds2_epu32(p[j].mid_abef, p[j].abef1, wk[1]));
    let mut cdgh: [__m128i; W] = core::array::from_fn(|j| p[j].abef1);
    for g in 1..16 {
        rounds4_halves(&mut abef, &mut cdgh, [wk[2 * g]; W], [wk[2 * g + 1]; W]);
    }
    second_hash::<W, AHEAD>(abef, cdgh, p, scratch)
}

/// The second hash of each way, from block 2's state after round 63: its
/// `H7`. With `AHEAD`, its whole message schedule is computed into `wk`
/// before its rounds, which then need registers only for the state (the
/// schedule waits in memory); otherwise each group of four words is
/// computed just before its rounds, and `wk` is not touched.
#[inline(always)]
unsafe fn second_hash<const W: usize, const AHEAD: bool>(
    mut abef: [__m128i; W],
    mut cdgh: [__m128i; W],
    p: &[Pre; W],
    wk: &mut [[__m128i; 32]; W],
) -> [u32; W] {
    let zero = _mm_setzero_si128();
    // Feed-forward, then the first digest becomes W0..W7 of the second hash.
    let (iv_abef, iv_cdgh) = to_abef(&IV);
    let digest: [[__m128i; 2]; W] = core::array::from_fn(|j| {
        let s0 = _mm_add_epi32(abef[j], p[j].mid_abef);
        let s1 = _mm_add_epi32(cdgh[j], p[j].mid_cdgh);
        let feba = _mm_shuffle_epi32::<0x1b>(s0);
        let dchg = _mm_shuffle_epi32::<0xb1>(s1);
        [
            _mm_blend_epi16::<0xf0>(feba, dchg),
            _mm_alignr_epi8::<8>(dchg, feba),
        ]
    });
    abef = [iv_abef; W];
    cdgh = [iv_cdgh; W];
    let pad = [pad_group(&SECOND_PAD, 2, 2), pad_group(&SECOND_PAD, 2, 3)];
    if AHEAD {
        for j in 0..W {
            let [x0, x1] = digest[j];
            schedule_wk([x0, x1, pad[0], pad[1]], &mut wk[j]);
        }
        rounds_wk(&mut abef, &mut cdgh, wk, 0..15);
        // Rounds 60-61 only, as below.
        return core::array::from_fn(|j| {
            let last = _mm_sha256rnds2_epu32(cdgh[j], abef[j], wk[j][30]);
            (_mm_cvtsi128_si32(last) as u32).wrapping_add(IV[7])
        });
    }
    let mut x = [[zero; W]; 16];
    for j in 0..W {
        [x[0][j], x[1][j]] = digest[j];
        [x[2][j], x[3][j]] = pad;
    }
    for (g, msg) in x.iter().enumerate().take(2) {
        let wk = msg.map(|v| _mm_add_epi32(v, k4(g)));
        rounds4(&mut abef, &mut cdgh, wk);
    }
    for (g, msg) in x.iter().enumerate().take(4).skip(2) {
        let wk = _mm_add_epi32(msg[0], k4(g));
        rounds4(&mut abef, &mut cdgh, [wk; W]);
    }
    sched_groups!(W, x, abef, cdgh; 4 5 6 7 8 9 10 11 12 13 14);
    // Rounds 60-61 only: their F word is the e of round 60, which becomes
    // H after three more rounds that are not run.
    let mut out = [0u32; W];
    for j in 0..W {
        let m15 = next_msg(x[11][j], x[12][j], x[13][j], x[14][j]);
        let wk = _mm_add_epi32(m15, k4(15));
        let last = _mm_sha256rnds2_epu32(cdgh[j], abef[j], wk);
        out[j] = (_mm_cvtsi128_si32(last) as u32).wrapping_add(IV[7]);
    }
    out
}

/// How a group of nonces of one header is hashed: the intrinsics of [`h7`]
/// ([`Intrinsics`]) or the hand-scheduled [`AsmNonces4`].
pub(crate) trait NonceGroup<const WAYS: usize> {
    /// The group's working memory, made once per sweep.
    fn new() -> Self;

    /// `H7` of the double SHA-256 of each way, as [`h7`].
    ///
    /// # Safety
    /// The CPU must support the features of [`is_supported`].
    unsafe fn h7(&mut self, p: &[Pre; WAYS], nonce: [u32; WAYS]) -> [u32; WAYS];
}

impl<const WAYS: usize, const AHEAD: bool> NonceGroup<WAYS> for Intrinsics<WAYS, AHEAD> {
    fn new() -> Self {
        <Self as VersionGroup<WAYS>>::new()
    }

    #[inline(always)]
    unsafe fn h7(&mut self, p: &[Pre; WAYS], nonce: [u32; WAYS]) -> [u32; WAYS] {
        h7::<WAYS, AHEAD>(p, nonce, &mut self.scratch)
    }
}

/// Sweep `first..=last`, `WAYS` nonces interleaved, each group hashed by
/// `G`.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
pub(crate) unsafe fn sweep<const WAYS: usize, G: NonceGroup<WAYS>>(
    work: &WorkUnit,
    first: u32,
    last: u32,
    hits: &mut Vec<u32>,
) {
    // Every way hashes the same header.
    let p = [Pre::new(work); WAYS];
    let top = work.target.top();
    let mut group = G::new();
    let mut base = first;
    loop {
        let remaining = last - base;
        let mut nonces = [0u32; WAYS];
        for (j, n) in nonces.iter_mut().enumerate() {
            // Past `last`, repeat it: the extra ways are ignored below.
            *n = base.wrapping_add((j as u32).min(remaining));
        }
        let h = group.h7(&p, nonces);
        for j in 0..WAYS {
            let candidate = if top == 0 {
                h[j] == 0
            } else {
                h[j].swap_bytes() <= top
            };
            if candidate
                && (j as u32) <= remaining
                && work.target.is_met_by_state(&work.hash_state(nonces[j]))
            {
                hits.push(nonces[j]);
            }
        }
        if remaining < WAYS as u32 {
            break;
        }
        base += WAYS as u32;
    }
}

/// How a group of versions sharing block 2 is hashed: the intrinsics of
/// [`h7_shared`] ([`Intrinsics`]) or the hand-scheduled [`Asm4`].
pub(crate) trait VersionGroup<const WAYS: usize> {
    /// The group's working memory, made once per sweep.
    fn new() -> Self;

    /// `H7` of the double SHA-256 of each way, as [`h7_shared`].
    ///
    /// # Safety
    /// The CPU must support the features of [`is_supported`].
    unsafe fn h7(&mut self, p: &[Pre; WAYS], wk: &[__m128i; 32]) -> [u32; WAYS];
}

/// [`h7_shared`], with or without the schedule computed `AHEAD`.
pub(crate) struct Intrinsics<const WAYS: usize, const AHEAD: bool> {
    scratch: [[__m128i; 32]; WAYS],
}

impl<const WAYS: usize, const AHEAD: bool> VersionGroup<WAYS> for Intrinsics<WAYS, AHEAD> {
    fn new() -> Self {
        Intrinsics {
            // SAFETY: an all-zero bit pattern is a valid `__m128i`.
            scratch: unsafe { core::mem::zeroed() },
        }
    }

    #[inline(always)]
    unsafe fn h7(&mut self, p: &[Pre; WAYS], wk: &[__m128i; 32]) -> [u32; WAYS] {
        h7_shared::<WAYS, AHEAD>(p, wk, &mut self.scratch)
    }
}

/// Sweep `first..=last` for the 32 headers of `work`, `VERSION_WAYS`
/// (a divisor of 32) versions at a time sharing block 2's message
/// schedule, each group hashed by `G`.
///
/// # Safety
/// The CPU must support the enabled target features ([`is_supported`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
pub(crate) unsafe fn sweep_versions<const VERSION_WAYS: usize, G: VersionGroup<VERSION_WAYS>>(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    let pres: [Pre; VERSION_LANES] = core::array::from_fn(|lane| Pre::new(&work.unit(lane)));
    let top = work.target.top();
    let mut wk = [_mm_setzero_si128(); 32];
    let mut group = G::new();
    let mut nonce = first;
    loop {
        schedule_wk(block2_msg(&pres[0], nonce), &mut wk);
        for (g, p) in pres.chunks_exact(VERSION_WAYS).enumerate() {
            let p: &[Pre; VERSION_WAYS] = p.try_into().expect("chunks of VERSION_WAYS");
            let h = group.h7(p, &wk);
            for (j, h) in h.into_iter().enumerate() {
                let candidate = if top == 0 {
                    h == 0
                } else {
                    h.swap_bytes() <= top
                };
                let lane = g * VERSION_WAYS + j;
                if candidate
                    && work
                        .target
                        .is_met_by_state(&work.unit(lane).hash_state(nonce))
                {
                    hits.push((lane, nonce));
                }
            }
        }
        if nonce == last {
            break;
        }
        nonce += 1;
    }
}

/// Whether this CPU and OS support the kernel.
pub(crate) fn is_supported() -> bool {
    std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("sse4.1")
        && std::arch::is_x86_feature_detected!("ssse3")
}
