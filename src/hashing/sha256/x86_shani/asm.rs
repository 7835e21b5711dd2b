//! `shani versions x4-asm` and `shani nonces x4-asm`: the `x4` kernels
//! written out in assembly, because how fast SHA-NI runs depends on the
//! instruction order and register assignment, which LLVM changes from
//! build to build.
//!
//! The work is [`super::h7_shared`]'s for four versions (block 2's rounds
//! 2-63 with the `W + K` the sweep computes once per nonce) or [`super::h7`]'s
//! for four nonces (block 2's message schedule per nonce), then the
//! feed-forward and the second hash, stopping after round 61. Every
//! per-way message schedule is computed group by group just before the
//! rounds that use it. What is chosen by hand:
//! - Registers. `xmm1`..`xmm8` hold the four states (ABEF in the odd,
//!   CDGH in the even ones) for the whole function; `xmm0` is the
//!   `sha256rnds2` operand; `xmm9`..`xmm12` keep each way's newest message
//!   group, the only one the schedule's dependency chain runs through
//!   (`sha256msg2` needs it, and the next group's `palignr`), so that chain
//!   never waits on a load; the three older groups a step needs are read
//!   from memory, where each was stored at least one group earlier.
//! - Order. Each group's four ways go one after another, each way's
//!   schedule step straight before its two `sha256rnds2`, so the four
//!   round chains (`sha256rnds2` latency 4, one issued per cycle on the
//!   cores measured) always have one way ready.
//! - Size. The functions are not inlined: one copy each, of about 900
//!   and 1,300 instructions. Inlined into the sweep's loop over the eight
//!   groups of versions, LLVM unrolled the version kernel eight times, more
//!   than the op cache holds, and the same code ran 40% slower
//!   (docs/benchmarks.md).
//!
//! The readable kernels stay the reference; all pass the same tests.

use core::arch::asm;
use core::arch::x86_64::*;

use super::{NonceGroup, Pre, VersionGroup, BLOCK2_PAD, IV, K, SECOND_PAD};

/// Constants the assembly reads, in one block: `K`, the IV as ABEF and
/// CDGH, and `W + K` of the padding: the second hash's groups 2 and 3
/// (rounds 8-15) and block 2's groups 1-3 (rounds 4-15), each as the two
/// halves `sha256rnds2` takes in its low 64 bits.
#[repr(C, align(16))]
struct Consts {
    /// Offset 0.
    k: [u32; 64],
    /// Offset 256: ABEF and CDGH, lanes 0..3.
    iv: [[u32; 4]; 2],
    /// Offset 288: group 2 rounds 8-9, 10-11; group 3 rounds 12-13, 14-15.
    pad_wk: [[u32; 4]; 4],
    /// Offset 352: block 2's rounds 4-5, 6-7, ..., 14-15.
    block2_pad_wk: [[u32; 4]; 6],
}

/// `W + K` of words `first..first + 2N` whose message words are `w`, in
/// pairs: pair `j` in lanes 0-1 of element `j`.
const fn wk_pairs<const N: usize>(w: &[u32], first: usize) -> [[u32; 4]; N] {
    let mut out = [[0u32; 4]; N];
    let mut j = 0;
    while j < N {
        out[j][0] = w[2 * j].wrapping_add(K[first + 2 * j]);
        out[j][1] = w[2 * j + 1].wrapping_add(K[first + 2 * j + 1]);
        j += 1;
    }
    out
}

static CONSTS: Consts = Consts {
    k: K,
    iv: [[IV[5], IV[4], IV[1], IV[0]], [IV[7], IV[6], IV[3], IV[2]]],
    pad_wk: wk_pairs(&SECOND_PAD, 8),
    block2_pad_wk: wk_pairs(&BLOCK2_PAD, 4),
};

// The assembly addresses `Consts` and `Pre` by offset: `Pre`'s ABEF,
// CDGH and state after round 1.
const _: () = {
    assert!(core::mem::offset_of!(Consts, k) == 0);
    assert!(core::mem::offset_of!(Consts, iv) == 256);
    assert!(core::mem::offset_of!(Consts, pad_wk) == 288);
    assert!(core::mem::offset_of!(Consts, block2_pad_wk) == 352);
    assert!(core::mem::offset_of!(Pre, mid_abef) == 0);
    assert!(core::mem::offset_of!(Pre, mid_cdgh) == 16);
    assert!(core::mem::offset_of!(Pre, abef1) == 32);
    assert!(core::mem::size_of::<Pre>() == 80);
};

/// Four message schedules, way `i`'s group `g` (W[4g..4g+4]) at byte
/// `256 i + 16 g`.
type Schedules = [[__m128i; 16]; 4];

/// Schedules whose groups from `first` on are the constant `words` (the
/// padding, which the assembly reads and never writes).
fn padded(first: usize, words: &[u32]) -> Schedules {
    // SAFETY: an all-zero bit pattern is a valid `__m128i`.
    let mut s: Schedules = unsafe { core::mem::zeroed() };
    for way in &mut s {
        for (g, w) in words.chunks_exact(4).enumerate() {
            let w: [u32; 4] = w.try_into().expect("chunks of 4");
            // SAFETY: four `u32`s and one `__m128i` have the same size,
            // and every bit pattern is valid for both.
            way[first + g] = unsafe { core::mem::transmute::<[u32; 4], __m128i>(w) };
        }
    }
    s
}

/// `x4-asm` for version lanes: the second hash's schedules.
pub(crate) struct Asm4 {
    w: Schedules,
}

impl VersionGroup<4> for Asm4 {
    fn new() -> Self {
        Asm4 {
            w: padded(2, &SECOND_PAD),
        }
    }

    #[inline(always)]
    unsafe fn h7(&mut self, p: &[Pre; 4], wk: &[__m128i; 32]) -> [u32; 4] {
        h7_versions(p, wk, &mut self.w)
    }
}

/// `x4-asm` for nonce lanes: block 2's schedules, the second hash's, and
/// each nonce's `W + K` for rounds 2-3.
pub(crate) struct AsmNonces4 {
    b: Schedules,
    w: Schedules,
    wk23: [__m128i; 4],
}

impl NonceGroup<4> for AsmNonces4 {
    fn new() -> Self {
        AsmNonces4 {
            b: padded(1, &BLOCK2_PAD),
            w: padded(2, &SECOND_PAD),
            // SAFETY: an all-zero bit pattern is a valid `__m128i`.
            wk23: unsafe { core::mem::zeroed() },
        }
    }

    #[inline(always)]
    unsafe fn h7(&mut self, p: &[Pre; 4], nonce: [u32; 4]) -> [u32; 4] {
        for j in 0..4 {
            // Group 0 of block 2 (W0..W2 and the nonce) and rounds 2-3's
            // `W + K`, as the readable kernel makes them.
            self.b[j][0] = super::block2_msg(&p[j], nonce[j])[0];
            self.wk23[j] = super::wk23(&p[j], nonce[j]);
        }
        h7_nonces(p, &self.wk23, &mut self.b, &mut self.w)
    }
}

/// Feed-forward of way `$i` (state `$a` ABEF, `$c` CDGH), its digest
/// stored as groups 0 and 1 of the second hash's message in `$m`, the
/// state set to the IV, and rounds 0-7 of the second hash (`$l`, the way's
/// message register, is not used yet).
#[rustfmt::skip]
macro_rules! second_hash_start {
    ($a:literal, $c:literal, $l:literal, $i:literal, $m:literal) => { concat!(
        "paddd ", $a, ", xmmword ptr [{p} + ", $i, "*80]\n",
        "paddd ", $c, ", xmmword ptr [{p} + ", $i, "*80 + 16]\n",
        // FEBA and DCHG, then ABCD and EFGH in message order.
        "pshufd xmm13, ", $a, ", 0x1b\n",
        "pshufd xmm14, ", $c, ", 0xb1\n",
        "movdqa xmm15, xmm13\n",
        "pblendw xmm15, xmm14, 0xf0\n",
        "palignr xmm14, xmm13, 8\n",
        "movdqa xmmword ptr [", $m, " + ", $i, "*256], xmm15\n",
        "movdqa xmmword ptr [", $m, " + ", $i, "*256 + 16], xmm14\n",
        "movdqa ", $a, ", xmmword ptr [{c} + 256]\n",
        "movdqa ", $c, ", xmmword ptr [{c} + 272]\n",
        four_rounds!($a, $c, "xmm15", "0"),
        four_rounds!($a, $c, "xmm14", "16"),
    ) };
}

/// Four rounds of one way (state `$a` ABEF, `$c` CDGH) on the message
/// group in `$x`, whose `K` is at byte `$k` of `Consts`.
#[rustfmt::skip]
macro_rules! four_rounds {
    ($a:literal, $c:literal, $x:literal, $k:literal) => { concat!(
        "movdqa xmm0, ", $x, "\n",
        "paddd xmm0, xmmword ptr [{c} + ", $k, "]\n",
        "sha256rnds2 ", $c, ", ", $a, "\n",
        "pshufd xmm0, xmm0, 0x0e\n",
        "sha256rnds2 ", $a, ", ", $c, "\n",
    ) };
}

/// Message group `\g` (an `.irp` parameter) of way `$i` in the schedules
/// at `$m`, whose newest group is in `$l`, into `xmm13`: W[4g..4g+4] =
/// msg2(msg1(W[g-4], W[g-3]) + W[4g-7..4g-3], W[g-1]); then `$keep`, and
/// `W + K` into `xmm0` for the group's first two rounds.
#[rustfmt::skip]
macro_rules! schedule {
    ($l:literal, $i:literal, $m:literal, $($keep:expr)?) => { concat!(
        "movdqa xmm13, xmmword ptr [", $m, " + ", $i, "*256 + 16*(\\g-4)]\n",
        "sha256msg1 xmm13, xmmword ptr [", $m, " + ", $i, "*256 + 16*(\\g-3)]\n",
        "movdqa xmm14, ", $l, "\n",
        "palignr xmm14, xmmword ptr [", $m, " + ", $i, "*256 + 16*(\\g-2)], 4\n",
        "paddd xmm13, xmm14\n",
        "sha256msg2 xmm13, ", $l, "\n",
        $($keep,)?
        "paddd xmm13, xmmword ptr [{c} + 16*\\g]\n",
        "movdqa xmm0, xmm13\n",
    ) };
}

/// Message group `\g` of way `$i` ([`schedule`]), kept as the way's
/// newest and stored for the groups after it, then its four rounds.
#[rustfmt::skip]
macro_rules! schedule_and_rounds {
    ($a:literal, $c:literal, $l:literal, $i:literal, $m:literal) => { concat!(
        schedule!($l, $i, $m, concat!(
            "movdqa ", $l, ", xmm13\n",
            "movdqa xmmword ptr [", $m, " + ", $i, "*256 + 16*\\g], xmm13\n",
        )),
        "sha256rnds2 ", $c, ", ", $a, "\n",
        "pshufd xmm0, xmm13, 0x0e\n",
        "sha256rnds2 ", $a, ", ", $c, "\n",
    ) };
}

/// Group `\g` = 15 of way `$i` and rounds 60-61 only: their F word is the
/// `e` of round 60, which three more rounds would make `H7`.
#[rustfmt::skip]
macro_rules! last_rounds {
    ($a:literal, $c:literal, $l:literal, $i:literal, $m:literal) => { concat!(
        schedule!($l, $i, $m,),
        "sha256rnds2 ", $c, ", ", $a, "\n",
    ) };
}

/// `$step` for each of the four ways, with its ABEF and CDGH registers,
/// the register of its newest message group, its index, and the
/// schedules `$m`.
macro_rules! four_ways {
    ($step:ident, $m:literal) => {
        concat!(
            $step!("xmm1", "xmm2", "xmm9", "0", $m),
            $step!("xmm3", "xmm4", "xmm10", "1", $m),
            $step!("xmm5", "xmm6", "xmm11", "2", $m),
            $step!("xmm7", "xmm8", "xmm12", "3", $m),
        )
    };
}

/// Two rounds on all four ways with the `W + K` in `xmm0`: CDGH from ABEF
/// (0) or ABEF from CDGH (1).
macro_rules! two_rounds {
    (0) => {
        "sha256rnds2 xmm2, xmm1\nsha256rnds2 xmm4, xmm3\nsha256rnds2 xmm6, xmm5\nsha256rnds2 xmm8, xmm7\n"
    };
    (1) => {
        "sha256rnds2 xmm1, xmm2\nsha256rnds2 xmm3, xmm4\nsha256rnds2 xmm5, xmm6\nsha256rnds2 xmm7, xmm8\n"
    };
}

/// Message groups 4 to 15 of the four schedules at `$m`, each group's
/// step just before its rounds; the newest group of every way starts as
/// group 3, which is padding.
#[rustfmt::skip]
macro_rules! schedules_and_rounds {
    ($m:literal, $last:ident) => { concat!(
        "movdqa xmm9, xmmword ptr [", $m, " + 48]\n",
        "movdqa xmm10, xmm9\n",
        "movdqa xmm11, xmm9\n",
        "movdqa xmm12, xmm9\n",
        ".irp g, 4,5,6,7,8,9,10,11,12,13,14\n",
        four_ways!(schedule_and_rounds, $m),
        ".endr\n",
        ".irp g, 15\n",
        four_ways!($last, $m),
        ".endr\n",
    ) };
}

/// From block 2's state after round 63 in `xmm1`..`xmm8`: the second hash
/// of each way, its `H7` (before adding the IV's) in `{h0}`..`{h3}`.
#[rustfmt::skip]
macro_rules! second_hash {
    () => { concat!(
        // Rounds 0-7 from the digests, 8-15 padding, 16-61 scheduled.
        four_ways!(second_hash_start, "{w}"),
        "movdqa xmm0, xmmword ptr [{c} + 288]\n",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{c} + 304]\n",
        two_rounds!(1),
        "movdqa xmm0, xmmword ptr [{c} + 320]\n",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{c} + 336]\n",
        two_rounds!(1),
        schedules_and_rounds!("{w}", last_rounds),
        "movd {h0:e}, xmm2\n",
        "movd {h1:e}, xmm4\n",
        "movd {h2:e}, xmm6\n",
        "movd {h3:e}, xmm8\n",
    ) };
}

/// The `asm!` of a kernel: its block 2 (`$block2`, leaving the state
/// after round 63 in `xmm1`..`xmm8`), then [`second_hash`], with the
/// kernel's pointer operands `$ops`: `H7` of the four ways.
macro_rules! h7_asm {
    ($($block2:expr,)+ ; $($ops:tt)*) => {{
        let (h0, h1, h2, h3): (u32, u32, u32, u32);
        asm!(
            $($block2,)+
            second_hash!(),
            $($ops)*
            c = in(reg) &CONSTS,
            h0 = lateout(reg) h0,
            h1 = lateout(reg) h1,
            h2 = lateout(reg) h2,
            h3 = lateout(reg) h3,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            options(nostack),
        );
        [h0, h1, h2, h3].map(|h| h.wrapping_add(IV[7]))
    }};
}

/// `H7` of the double SHA-256 of four versions sharing block 2 (see
/// [`super::h7_shared`]); `w` holds the second hash's schedules.
///
/// # Safety
/// The CPU must support SHA-NI and SSE4.1 ([`super::is_supported`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
unsafe fn h7_versions(p: &[Pre; 4], wk: &[__m128i; 32], w: &mut Schedules) -> [u32; 4] {
    // SAFETY: every address is inside `p` (4 x 80 bytes), `wk` (512),
    // `w` (4 x 256, the only memory written) or `CONSTS` (448), all
    // 16-byte aligned as the SSE memory operands need; the vector
    // registers are declared clobbered; no stack is used.
    h7_asm!(
        // Block 2: CDGH is the state after round 1, ABEF after round 3
        // (rounds 2-3 use wk[1]); then rounds 4-63 with the shared W + K.
        "movdqa xmm2, xmmword ptr [{p} + 32]",
        "movdqa xmm4, xmmword ptr [{p} + 112]",
        "movdqa xmm6, xmmword ptr [{p} + 192]",
        "movdqa xmm8, xmmword ptr [{p} + 272]",
        "movdqa xmm1, xmmword ptr [{p}]",
        "movdqa xmm3, xmmword ptr [{p} + 80]",
        "movdqa xmm5, xmmword ptr [{p} + 160]",
        "movdqa xmm7, xmmword ptr [{p} + 240]",
        "movdqa xmm0, xmmword ptr [{wk} + 16]",
        two_rounds!(1),
        ".irp g, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "movdqa xmm0, xmmword ptr [{wk} + 32*\\g]",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{wk} + 32*\\g + 16]",
        two_rounds!(1),
        ".endr",
        ;
        p = in(reg) p.as_ptr(),
        wk = in(reg) wk.as_ptr(),
        w = in(reg) w.as_mut_ptr(),
    )
}

/// `H7` of the double SHA-256 of four nonces of one header (see
/// [`super::h7`]; `p` holds the header's values four times): `wk23` holds
/// each nonce's `W + K` of rounds 2-3, `b` block 2's schedules with group
/// 0 filled in, `w` the second hash's.
///
/// # Safety
/// The CPU must support SHA-NI and SSE4.1 ([`super::is_supported`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
unsafe fn h7_nonces(
    p: &[Pre; 4],
    wk23: &[__m128i; 4],
    b: &mut Schedules,
    w: &mut Schedules,
) -> [u32; 4] {
    // SAFETY: every address is inside `p` (4 x 80 bytes), `wk23` (64), `b`
    // and `w` (4 x 256 each, the only memory written) or `CONSTS` (448),
    // all 16-byte aligned as the SSE memory operands need; the vector
    // registers are declared clobbered; no stack is used.
    h7_asm!(
        // Block 2: the state after round 1 is the header's; rounds 2-3
        // per nonce, 4-15 padding, 16-63 scheduled.
        "movdqa xmm2, xmmword ptr [{p} + 32]",
        "movdqa xmm4, xmm2",
        "movdqa xmm6, xmm2",
        "movdqa xmm8, xmm2",
        "movdqa xmm1, xmmword ptr [{p}]",
        "movdqa xmm3, xmm1",
        "movdqa xmm5, xmm1",
        "movdqa xmm7, xmm1",
        "movdqa xmm0, xmmword ptr [{n}]",
        "sha256rnds2 xmm1, xmm2",
        "movdqa xmm0, xmmword ptr [{n} + 16]",
        "sha256rnds2 xmm3, xmm4",
        "movdqa xmm0, xmmword ptr [{n} + 32]",
        "sha256rnds2 xmm5, xmm6",
        "movdqa xmm0, xmmword ptr [{n} + 48]",
        "sha256rnds2 xmm7, xmm8",
        ".irp h, 0,1,2",
        "movdqa xmm0, xmmword ptr [{c} + 352 + 32*\\h]",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{c} + 368 + 32*\\h]",
        two_rounds!(1),
        ".endr",
        schedules_and_rounds!("{b}", schedule_and_rounds),
        ;
        p = in(reg) p.as_ptr(),
        n = in(reg) wk23.as_ptr(),
        b = in(reg) b.as_mut_ptr(),
        w = in(reg) w.as_mut_ptr(),
    )
}
