//! `shani versions x4-asm`: the `x4` version kernel written out in
//! assembly, because how fast SHA-NI runs depends on the instruction order
//! and register assignment, which LLVM changes from build to build.
//!
//! The work is [`super::h7_shared`]'s for four versions: block 2's rounds
//! 2-63 with the `W + K` the sweep computes once per nonce, the feed-forward,
//! then the second hash, its message schedule computed group by group just
//! before the rounds that use it, stopping after round 61. What is chosen
//! by hand:
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
//! - Size. The function is not inlined: one copy of about 900
//!   instructions. Inlined into the sweep's loop over the eight groups of
//!   versions, LLVM unrolled it eight times, more than the op cache holds,
//!   and the same code ran 40% slower (docs/benchmarks.md).
//!
//! The readable kernel stays the reference; both pass the same tests.

use core::arch::asm;
use core::arch::x86_64::*;

use super::{Pre, VersionGroup, IV, K, PAD};

/// Constants the assembly reads, in one block: `K`, the IV as ABEF and
/// CDGH, and `W + K` of the second hash's padding groups 2 and 3 (rounds
/// 8-15), each as the two halves `sha256rnds2` takes in its low 64 bits.
#[repr(C, align(16))]
struct Consts {
    /// Offset 0.
    k: [u32; 64],
    /// Offset 256: ABEF and CDGH, lanes 0..3.
    iv: [[u32; 4]; 2],
    /// Offset 288: group 2 rounds 8-9, 10-11; group 3 rounds 12-13, 14-15.
    pad_wk: [[u32; 4]; 4],
}

const fn pad_wk() -> [[u32; 4]; 4] {
    // Words 8..15 of the second hash's message: the padding of a 32-byte
    // message (a 1 bit, zeros, the length in bits).
    let w = [PAD, 0, 0, 0, 0, 0, 0, 256];
    let mut wk = [0u32; 8];
    let mut i = 0;
    while i < 8 {
        wk[i] = w[i].wrapping_add(K[8 + i]);
        i += 1;
    }
    [
        [wk[0], wk[1], 0, 0],
        [wk[2], wk[3], 0, 0],
        [wk[4], wk[5], 0, 0],
        [wk[6], wk[7], 0, 0],
    ]
}

static CONSTS: Consts = Consts {
    k: K,
    iv: [[IV[5], IV[4], IV[1], IV[0]], [IV[7], IV[6], IV[3], IV[2]]],
    pad_wk: pad_wk(),
};

// The assembly addresses `Pre` by offset: ABEF, CDGH, state after round 1.
const _: () = {
    assert!(core::mem::offset_of!(Pre, mid_abef) == 0);
    assert!(core::mem::offset_of!(Pre, mid_cdgh) == 16);
    assert!(core::mem::offset_of!(Pre, abef1) == 32);
    assert!(core::mem::size_of::<Pre>() == 80);
};

/// Four versions' second-hash message schedules: way `i`'s group `g`
/// (W[4g..4g+4]) at byte `256 i + 16 g`.
pub(crate) struct Asm4 {
    w: [[__m128i; 16]; 4],
}

impl VersionGroup<4> for Asm4 {
    fn new() -> Self {
        // SAFETY: an all-zero bit pattern is a valid `__m128i`, and the
        // transmutes turn four `u32`s into one 128-bit vector.
        unsafe {
            let mut w: [[__m128i; 16]; 4] = core::mem::zeroed();
            for way in &mut w {
                // Groups 2 and 3 are padding, the same for every hash: the
                // assembly reads them and never writes them.
                way[2] = core::mem::transmute::<[u32; 4], __m128i>([PAD, 0, 0, 0]);
                way[3] = core::mem::transmute::<[u32; 4], __m128i>([0, 0, 0, 256]);
            }
            Asm4 { w }
        }
    }

    #[inline(always)]
    unsafe fn h7(&mut self, p: &[Pre; 4], wk: &[__m128i; 32]) -> [u32; 4] {
        h7_asm4(p, wk, &mut self.w)
    }
}

/// Feed-forward of way `$i` (state `$a` ABEF, `$c` CDGH), its digest
/// stored as groups 0 and 1 of the second hash's message, the state set
/// to the IV, and rounds 0-7 of the second hash (`$l`, the way's message
/// register, is not used yet).
#[rustfmt::skip]
macro_rules! second_hash_start {
    ($a:literal, $c:literal, $l:literal, $i:literal) => { concat!(
        "paddd ", $a, ", xmmword ptr [{p} + ", $i, "*80]\n",
        "paddd ", $c, ", xmmword ptr [{p} + ", $i, "*80 + 16]\n",
        // FEBA and DCHG, then ABCD and EFGH in message order.
        "pshufd xmm13, ", $a, ", 0x1b\n",
        "pshufd xmm14, ", $c, ", 0xb1\n",
        "movdqa xmm15, xmm13\n",
        "pblendw xmm15, xmm14, 0xf0\n",
        "palignr xmm14, xmm13, 8\n",
        "movdqa xmmword ptr [{w} + ", $i, "*256], xmm15\n",
        "movdqa xmmword ptr [{w} + ", $i, "*256 + 16], xmm14\n",
        "movdqa ", $a, ", xmmword ptr [{c} + 256]\n",
        "movdqa ", $c, ", xmmword ptr [{c} + 272]\n",
        "movdqa xmm0, xmm15\n",
        "paddd xmm0, xmmword ptr [{c}]\n",
        "sha256rnds2 ", $c, ", ", $a, "\n",
        "pshufd xmm0, xmm0, 0x0e\n",
        "sha256rnds2 ", $a, ", ", $c, "\n",
        "movdqa xmm0, xmm14\n",
        "paddd xmm0, xmmword ptr [{c} + 16]\n",
        "sha256rnds2 ", $c, ", ", $a, "\n",
        "pshufd xmm0, xmm0, 0x0e\n",
        "sha256rnds2 ", $a, ", ", $c, "\n",
    ) };
}

/// Message group `\g` (an `.irp` parameter) of way `$i`, whose newest
/// group is in `$l`, into `xmm13`: W[4g..4g+4] = msg2(msg1(W[g-4],
/// W[g-3]) + W[4g-7..4g-3], W[g-1]), then `W + K` into `xmm0` for the
/// group's first two rounds.
#[rustfmt::skip]
macro_rules! schedule {
    ($l:literal, $i:literal, $($keep:expr)?) => { concat!(
        "movdqa xmm13, xmmword ptr [{w} + ", $i, "*256 + 16*(\\g-4)]\n",
        "sha256msg1 xmm13, xmmword ptr [{w} + ", $i, "*256 + 16*(\\g-3)]\n",
        "movdqa xmm14, ", $l, "\n",
        "palignr xmm14, xmmword ptr [{w} + ", $i, "*256 + 16*(\\g-2)], 4\n",
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
    ($a:literal, $c:literal, $l:literal, $i:literal) => { concat!(
        schedule!($l, $i, concat!(
            "movdqa ", $l, ", xmm13\n",
            "movdqa xmmword ptr [{w} + ", $i, "*256 + 16*\\g], xmm13\n",
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
    ($a:literal, $c:literal, $l:literal, $i:literal) => { concat!(
        schedule!($l, $i,),
        "sha256rnds2 ", $c, ", ", $a, "\n",
    ) };
}

/// `$step` for each of the four ways: its ABEF and CDGH registers, the
/// register of its newest message group, its index.
macro_rules! four_ways {
    ($step:ident) => {
        concat!(
            $step!("xmm1", "xmm2", "xmm9", "0"),
            $step!("xmm3", "xmm4", "xmm10", "1"),
            $step!("xmm5", "xmm6", "xmm11", "2"),
            $step!("xmm7", "xmm8", "xmm12", "3"),
        )
    };
}

/// Two rounds on all four ways with the `W + K` in `xmm0`: CDGH from ABEF
/// (`$dir` = 0) or ABEF from CDGH (1).
macro_rules! two_rounds {
    (0) => {
        "sha256rnds2 xmm2, xmm1\nsha256rnds2 xmm4, xmm3\nsha256rnds2 xmm6, xmm5\nsha256rnds2 xmm8, xmm7\n"
    };
    (1) => {
        "sha256rnds2 xmm1, xmm2\nsha256rnds2 xmm3, xmm4\nsha256rnds2 xmm5, xmm6\nsha256rnds2 xmm7, xmm8\n"
    };
}

/// `H7` of the double SHA-256 of four versions sharing block 2 (see
/// [`super::h7_shared`]); `w` is [`Asm4`]'s schedule memory.
///
/// # Safety
/// The CPU must support SHA-NI and SSE4.1 ([`super::is_supported`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
unsafe fn h7_asm4(p: &[Pre; 4], wk: &[__m128i; 32], w: &mut [[__m128i; 16]; 4]) -> [u32; 4] {
    let (h0, h1, h2, h3): (u32, u32, u32, u32);
    // SAFETY: every address is inside `p` (4 x 80 bytes), `wk` (512),
    // `w` (4 x 256, the only memory written) or `CONSTS` (352), all
    // 16-byte aligned as the SSE memory operands need; the vector
    // registers are declared clobbered; no stack is used.
    asm!(
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
        // The second hash: rounds 0-7 from the digests, 8-15 padding.
        four_ways!(second_hash_start),
        "movdqa xmm0, xmmword ptr [{c} + 288]",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{c} + 304]",
        two_rounds!(1),
        "movdqa xmm0, xmmword ptr [{c} + 320]",
        two_rounds!(0),
        "movdqa xmm0, xmmword ptr [{c} + 336]",
        two_rounds!(1),
        // Rounds 16-59, each group's schedule just before its rounds; the
        // newest group of every way starts as group 3.
        "movdqa xmm9, xmmword ptr [{w} + 48]",
        "movdqa xmm10, xmm9",
        "movdqa xmm11, xmm9",
        "movdqa xmm12, xmm9",
        ".irp g, 4,5,6,7,8,9,10,11,12,13,14",
        four_ways!(schedule_and_rounds),
        ".endr",
        ".irp g, 15",
        four_ways!(last_rounds),
        ".endr",
        "movd {h0:e}, xmm2",
        "movd {h1:e}, xmm4",
        "movd {h2:e}, xmm6",
        "movd {h3:e}, xmm8",
        p = in(reg) p.as_ptr(),
        wk = in(reg) wk.as_ptr(),
        w = in(reg) w.as_mut_ptr(),
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
}
