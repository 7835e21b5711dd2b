//! The SHA-256d nonce search written once for any lane type.
//!
//! The AVX2 (8 lanes) and AVX-512 (16 lanes) kernels differ only in how
//! they add, rotate and select 32-bit lanes; the algorithm, and every
//! saving in it, is here, generic over [`Lanes`]. Each kernel module
//! implements [`Lanes`] for its vector type and calls [`sweep`] from a
//! `#[target_feature]` function, into which everything here is inlined.
//!
//! Per nonce group, the savings over two plain compressions are:
//! - block 1 enters as the midstate; rounds 0-2 of block 2 and the
//!   nonce-free half of round 3 are computed once per work unit ([`Pre`]);
//! - W16 and W17 are constants, W18..W32 only add their nonce-dependent
//!   terms to precomputed constants, and no zero padding word is ever added;
//!   K+W is one constant wherever W is;
//! - round 0 of the second hash is two additions to constants from the IV,
//!   and rounds 1-3 add W to a precomputed `h + K`;
//! - only `H7` of the second hash is produced: rounds 57-60 compute only the
//!   e-chain and rounds 61-63 are not run at all;
//! - one compare per lane group of `bswap(H7)` with the target's top word
//!   (`H7 == 0` when that word is zero) finds the candidates, and only
//!   candidates get the full 256-bit check.
//!
//! With version rolling (BIP320), [`sweep_versions`] puts a different
//! *version* of the header in each lane instead of a different nonce. The
//! versions change block 1 only (one midstate per lane, computed once per
//! job), so at a given nonce every lane has the same block 2 and the same
//! message schedule: it is computed once per nonce for all the lanes
//! ([`SharedSchedule`], itself computed with nonces in the lanes), and each
//! round of block 2 adds its `K + W` as one broadcast operand. That removes
//! about 470 of the roughly 3,050 instructions per register of hashes. This
//! is the software form of what ASICs call overt AsicBoost.

use super::{
    big_sigma0, big_sigma1, ch, maj, small_sigma0, small_sigma1, VersionWork, WorkUnit, IV, K,
    VERSION_LANES,
};

/// 32-bit lanes of one SIMD register, with the operations SHA-256 needs.
///
/// # Safety
/// Every method executes instructions of the implementing kernel's target
/// features: callers must have checked that the CPU supports them.
pub(crate) trait Lanes: Copy {
    /// Number of lanes.
    const N: usize;
    unsafe fn splat(x: u32) -> Self;
    /// Lanes `0..N` from `p[0..N]` (`p` has at least `N` elements).
    unsafe fn load(p: &[u32]) -> Self;
    /// Lanes `0..N` into `p[0..N]` (`p` has at least `N` elements).
    unsafe fn store(self, p: &mut [u32]);
    /// `base + i` in lane `i` (wrapping).
    unsafe fn iota(base: u32) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    /// Σ0 (rotations 2, 13, 22).
    unsafe fn bsig0(self) -> Self;
    /// Σ1 (rotations 6, 11, 25).
    unsafe fn bsig1(self) -> Self;
    /// σ0 (rotations 7, 18, shift 3).
    unsafe fn ssig0(self) -> Self;
    /// σ1 (rotations 17, 19, shift 10).
    unsafe fn ssig1(self) -> Self;
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self;
    /// Maj(a, b, c), and a value to pass as `carry` to the next round's
    /// call. `carry` is what the previous round returned: kernels without a
    /// three-input logic instruction compute Maj as `b ^ ((a ^ b) & (b ^ c))`
    /// and carry `a ^ b`, which is the next round's `b ^ c`.
    unsafe fn maj(a: Self, b: Self, c: Self, carry: Self) -> (Self, Self);
    /// Byte swap of every lane.
    unsafe fn bswap(self) -> Self;
    /// Bit `i` set when lane `i` of `self` is `<= o` (unsigned).
    unsafe fn le_mask(self, o: Self) -> u32;
    /// Bit `i` set when lane `i` of `self` equals `o`.
    unsafe fn eq_mask(self, o: Self) -> u32;
    /// An ordering point for the compiler: the values are computed before
    /// it and their uses come after it, and such points keep their order.
    /// Interleaved kernels put one after each round of each chain, so that
    /// the compiler's scheduler cannot regroup the chains one after the
    /// other. A no-op by default.
    #[inline(always)]
    unsafe fn order(_a: &mut Self, _b: &mut Self) {}
}

const PAD: u32 = 0x8000_0000;
/// Length words: block 2 closes an 80-byte message, the second hash a 32-byte one.
const LEN1: u32 = 640;
const LEN2: u32 = 256;

/// Everything about a work unit that does not depend on the nonce,
/// computed once per sweep.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pre {
    /// The midstate, for the feed-forward after block 2.
    mid: [u32; 8],
    /// State at the start of round 3 of block 2.
    s3: [u32; 8],
    /// `e` and `a` after round 3 are these plus W3 (the nonce).
    r3_e: u32,
    r3_a: u32,
    /// `h + K + W` and `d + h + K + W` of rounds 4, 5, 6, where h and d
    /// are still nonce-free.
    hk4: u32,
    dh4: u32,
    hk5: u32,
    dh5: u32,
    hk6: u32,
    dh6: u32,
    /// W16 and W17, and the constant parts of W18, W19.
    w16: u32,
    w17: u32,
    c18: u32,
    c19: u32,
    /// Constant parts of W30, W31, W32.
    c30: u32,
    c31: u32,
    c32: u32,
}

impl Pre {
    pub(crate) fn new(work: &WorkUnit) -> Pre {
        let [w0, w1, w2] = work.tail;
        let mut s = work.midstate;
        for (t, w) in [w0, w1, w2].into_iter().enumerate() {
            let [a, b, c, d, e, f, g, h] = s;
            let t1 = h
                .wrapping_add(big_sigma1(e))
                .wrapping_add(ch(e, f, g))
                .wrapping_add(K[t])
                .wrapping_add(w);
            let t2 = big_sigma0(a).wrapping_add(maj(a, b, c));
            s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
        }
        let [a, b, c, d, e, f, g, h] = s;
        let r3 = h
            .wrapping_add(big_sigma1(e))
            .wrapping_add(ch(e, f, g))
            .wrapping_add(K[3]);
        let hk4 = g.wrapping_add(K[4]).wrapping_add(PAD);
        let hk5 = f.wrapping_add(K[5]);
        let hk6 = e.wrapping_add(K[6]);
        let w16 = small_sigma0(w1).wrapping_add(w0);
        let w17 = small_sigma1(LEN1)
            .wrapping_add(small_sigma0(w2))
            .wrapping_add(w1);
        Pre {
            mid: work.midstate,
            s3: s,
            r3_e: d.wrapping_add(r3),
            r3_a: r3.wrapping_add(big_sigma0(a)).wrapping_add(maj(a, b, c)),
            // Start of round 4: (a4, a, b, c, e4, e, f, g); round 5 has
            // (.., a, b, .., e, f) in the c, d, g, h roles, round 6 (.., a, .., e).
            hk4,
            dh4: c.wrapping_add(hk4),
            hk5,
            dh5: b.wrapping_add(hk5),
            hk6,
            dh6: a.wrapping_add(hk6),
            w16,
            w17,
            c18: small_sigma1(w16).wrapping_add(w2),
            c19: small_sigma1(w17).wrapping_add(small_sigma0(PAD)),
            c30: small_sigma0(LEN1),
            c31: small_sigma0(w16).wrapping_add(LEN1),
            c32: small_sigma0(w17).wrapping_add(w16),
        }
    }
}

/// The nonce-free start of the second hash, folded at compile time.
struct Second {
    /// `e` and `a` after round 0 are these plus W0.
    e1: u32,
    a1: u32,
    /// `h + K` and `d + h + K` of rounds 1, 2, 3 (h and d are still IV
    /// words); W of the round is added to each.
    hk1: u32,
    dh1: u32,
    hk2: u32,
    dh2: u32,
    hk3: u32,
    dh3: u32,
}

const SECOND: Second = {
    let [a, b, c, d, e, f, g, h] = IV;
    let r0 = h
        .wrapping_add(big_sigma1(e))
        .wrapping_add(ch(e, f, g))
        .wrapping_add(K[0]);
    Second {
        e1: d.wrapping_add(r0),
        a1: r0.wrapping_add(big_sigma0(a)).wrapping_add(maj(a, b, c)),
        hk1: g.wrapping_add(K[1]),
        dh1: c.wrapping_add(g).wrapping_add(K[1]),
        hk2: f.wrapping_add(K[2]),
        dh2: b.wrapping_add(f).wrapping_add(K[2]),
        hk3: e.wrapping_add(K[3]),
        dh3: a.wrapping_add(e).wrapping_add(K[3]),
    }
};

/// Position in the state array of role `k` (0 = a .. 7 = h) at round `t`.
/// The roles rotate through the array instead of the values moving.
///
/// The `h` slot holds `h + K + W` of the round and the `d` slot holds
/// `d + h + K + W`: both are computed one round early, from `g` and `c`,
/// so that those can die before Ch and Maj, whose `vpternlogd` overwrites
/// an input. (LLVM reassociates the additions and picks its own order, so
/// the instruction count ends up the same as with the textbook round; see
/// docs/benchmarks.md.)
#[inline(always)]
const fn pos(t: usize, k: usize) -> usize {
    (k + 8 - t % 8) % 8
}

/// The working state of a compression: the eight roles (see [`pos`]) and
/// what Maj carries between rounds (`b ^ c`, see [`Lanes::maj`]).
struct State<V> {
    s: [V; 8],
    bc: V,
}

/// Round `T` given the next round's `h + K + W` and `d + h + K + W`.
#[inline(always)]
unsafe fn round_pre<V: Lanes, const T: usize>(st: &mut State<V>, hk_next: V, dh_next: V) {
    let s = &mut st.s;
    let (a, b, c) = (s[pos(T, 0)], s[pos(T, 1)], s[pos(T, 2)]);
    let (dh, e, f, g, hk) = (
        s[pos(T, 3)],
        s[pos(T, 4)],
        s[pos(T, 5)],
        s[pos(T, 6)],
        s[pos(T, 7)],
    );
    let x = e.bsig1().add(V::ch(e, f, g));
    let (maj, carry) = V::maj(a, b, c, st.bc);
    st.bc = carry;
    s[pos(T, 6)] = hk_next;
    s[pos(T, 2)] = dh_next;
    let mut e_next = dh.add(x);
    let mut a_next = hk.add(x).add(a.bsig0().add(maj));
    V::order(&mut a_next, &mut e_next);
    s[pos(T, 3)] = e_next;
    s[pos(T, 7)] = a_next;
}

/// Round `T` given the next round's `K + W`.
#[inline(always)]
unsafe fn round<V: Lanes, const T: usize>(st: &mut State<V>, kw_next: V) {
    let hk_next = st.s[pos(T, 6)].add(kw_next);
    let dh_next = st.s[pos(T, 2)].add(hk_next);
    round_pre::<V, T>(st, hk_next, dh_next);
}

/// The last round of a compression: `g` and `c` simply become `h` and `d`.
#[inline(always)]
unsafe fn round_last<V: Lanes, const T: usize>(st: &mut State<V>) {
    round_pre::<V, T>(st, st.s[pos(T, 6)], st.s[pos(T, 2)]);
}

/// A round that computes only the new `e` (rounds 57-60 of the second
/// hash), and the next round's sums when `kw_next` is given.
#[inline(always)]
unsafe fn round_e<V: Lanes, const T: usize>(st: &mut State<V>, kw_next: Option<V>) {
    let s = &mut st.s;
    let (dh, e, f, g) = (s[pos(T, 3)], s[pos(T, 4)], s[pos(T, 5)], s[pos(T, 6)]);
    if let Some(kw) = kw_next {
        let hk_next = g.add(kw);
        s[pos(T, 2)] = s[pos(T, 2)].add(hk_next);
        s[pos(T, 6)] = hk_next;
    }
    s[pos(T, 3)] = dh.add(e.bsig1()).add(V::ch(e, f, g));
}

/// The general message schedule step for word `t` (a constant wherever
/// this is inlined, so the indexing is folded).
#[inline(always)]
unsafe fn sched<V: Lanes>(w: &mut [V; 64], t: usize) {
    w[t] = w[t - 2]
        .ssig1()
        .add(w[t - 7])
        .add(w[t - 15].ssig0())
        .add(w[t - 16]);
}

/// Rounds whose next `K + W` is a constant.
macro_rules! const_rounds {
    ($V:ty, $s:ident, $kw:expr; $($t:literal)*) => {
        $( round::<$V, $t>(&mut $s, <$V>::splat($kw($t + 1))); )*
    };
}

/// Rounds whose next W is already in `w`.
macro_rules! w_rounds {
    ($V:ty, $s:ident, $w:ident, $k:ident; $($t:literal)*) => {
        $( round::<$V, $t>(&mut $s, $w[$t + 1].add(<$V>::splat($k[$t + 1]))); )*
    };
}

/// Rounds that first extend the message schedule by the next word.
macro_rules! sched_rounds {
    ($V:ty, $s:ident, $w:ident, $k:ident; $($t:literal)*) => {
        $(
            sched(&mut $w, $t + 1);
            round::<$V, $t>(&mut $s, $w[$t + 1].add(<$V>::splat($k[$t + 1])));
        )*
    };
}

/// The second hash's `e` after round 60 for the nonces whose byte-swapped
/// values (W3 of block 2) are in `n`. `H7 = result + IV[7]`.
///
/// `k1` and `k2` are both [`K`], behind references the optimizer cannot see
/// through: as one compile-time constant, each `K[t]` would be shared by the
/// two hashes, and a value with two uses is broadcast into a register
/// instead of folded into the addition as an embedded `{1to16}` operand.
#[inline(always)]
pub(crate) unsafe fn e61<V: Lanes>(p: &Pre, n: V, k1: &[u32; 64], k2: &[u32; 64]) -> V {
    let sp = V::splat;
    // ---- Block 2 of the first hash, from the state at round 4.
    let [a, b, _, _, e, f, _, _] = p.s3;
    let mut s = State {
        s: [sp(0); 8],
        bc: sp(a ^ b),
    };
    // Roles at round 4: (a4, a, b, c, e4, e, f, g).
    s.s[pos(4, 0)] = sp(p.r3_a).add(n);
    s.s[pos(4, 1)] = sp(a);
    s.s[pos(4, 2)] = sp(b);
    s.s[pos(4, 3)] = sp(p.dh4);
    s.s[pos(4, 4)] = sp(p.r3_e).add(n);
    s.s[pos(4, 5)] = sp(e);
    s.s[pos(4, 6)] = sp(f);
    s.s[pos(4, 7)] = sp(p.hk4);
    round_pre::<V, 4>(&mut s, sp(p.hk5), sp(p.dh5));
    round_pre::<V, 5>(&mut s, sp(p.hk6), sp(p.dh6));
    // W7..W14 are zero, W15 is the length.
    const_rounds!(V, s, |t: usize| match t {
        15 => k1[t].wrapping_add(LEN1),
        16 => k1[t].wrapping_add(p.w16),
        17 => k1[t].wrapping_add(p.w17),
        _ => k1[t],
    }; 6 7 8 9 10 11 12 13 14 15 16);
    let mut w = [sp(0); 64];
    block2_w16_32(p, n, &mut w);
    w_rounds!(V, s, w, k1; 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    sched_rounds!(V, s, w, k1; 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54
        55 56 57 58 59 60 61 62);
    round_last::<V, 63>(&mut s);
    // After round 63 the roles are back at their home positions.
    let mut x = [sp(0); 8];
    for (xi, (si, mi)) in x.iter_mut().zip(s.s.iter().zip(p.mid)) {
        *xi = si.add(sp(mi));
    }
    second_e61(x, k2)
}

/// W16..W32 of block 2 for the nonces (byte-swapped) in `n`: constants
/// plus only the terms that depend on the nonce.
#[inline(always)]
unsafe fn block2_w16_32<V: Lanes>(p: &Pre, n: V, w: &mut [V; 64]) {
    let sp = V::splat;
    w[16] = sp(p.w16);
    w[17] = sp(p.w17);
    w[18] = sp(p.c18).add(n.ssig0());
    w[19] = sp(p.c19).add(n);
    w[20] = w[18].ssig1().add(sp(PAD));
    w[21] = w[19].ssig1();
    w[22] = w[20].ssig1().add(sp(LEN1));
    w[23] = w[21].ssig1().add(w[16]);
    w[24] = w[22].ssig1().add(w[17]);
    w[25] = w[23].ssig1().add(w[18]);
    w[26] = w[24].ssig1().add(w[19]);
    w[27] = w[25].ssig1().add(w[20]);
    w[28] = w[26].ssig1().add(w[21]);
    w[29] = w[27].ssig1().add(w[22]);
    w[30] = w[28].ssig1().add(w[23]).add(sp(p.c30));
    w[31] = w[29].ssig1().add(w[24]).add(sp(p.c31));
    w[32] = w[30].ssig1().add(w[25]).add(sp(p.c32));
}

/// The second hash's `e` after round 60, from the first digest in `x[0..8]`.
#[inline(always)]
unsafe fn second_e61<V: Lanes>(x: [V; 8], k2: &[u32; 64]) -> V {
    let mut buf = [V::splat(0); 64];
    let mut h = SecondHash::start(x, &mut buf);
    macro_rules! rounds {
        ($($t:literal)*) => { $( h.round::<$t>(k2); )* };
    }
    rounds!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60);
    h.e61()
}

/// The second hash (of a 32-byte first digest) in progress, one round at a
/// time, so that its rounds can be interleaved with another hash's.
struct SecondHash<'a, V> {
    s: State<V>,
    /// The message schedule; words 0..8 are the first digest.
    x: &'a mut [V; 64],
}

impl<'a, V: Lanes> SecondHash<'a, V> {
    /// The state before round 1, from the first digest.
    #[inline(always)]
    unsafe fn start(digest: [V; 8], x: &'a mut [V; 64]) -> Self {
        let sp = V::splat;
        x[..8].copy_from_slice(&digest);
        let mut s = State {
            s: [sp(0); 8],
            bc: sp(IV[0] ^ IV[1]),
        };
        // Roles at round 1: (a1, A, B, C, e1, E, F, G) of the IV.
        s.s[pos(1, 0)] = sp(SECOND.a1).add(x[0]);
        s.s[pos(1, 1)] = sp(IV[0]);
        s.s[pos(1, 2)] = sp(IV[1]);
        s.s[pos(1, 3)] = sp(SECOND.dh1).add(x[1]);
        s.s[pos(1, 4)] = sp(SECOND.e1).add(x[0]);
        s.s[pos(1, 5)] = sp(IV[4]);
        s.s[pos(1, 6)] = sp(IV[5]);
        s.s[pos(1, 7)] = sp(SECOND.hk1).add(x[1]);
        SecondHash { s, x }
    }

    /// Round `T` (1..=60), with the message schedule word it needs next.
    /// W8 is the padding bit, W9..W14 zero and W15 the length, so W16..W31
    /// are the digest's terms plus constants; one of them is computed in
    /// each of rounds 1..=16, well before it is used. Rounds 57-60 compute
    /// only `e`.
    #[inline(always)]
    unsafe fn round<const T: usize>(&mut self, k2: &[u32; 64]) {
        let sp = V::splat;
        let (s, x) = (&mut self.s, &mut *self.x);
        if T <= 16 {
            let t = 15 + T;
            x[t] = match t {
                16 => x[1].ssig0().add(x[0]),
                17 => x[2].ssig0().add(x[1]).add(sp(small_sigma1(LEN2))),
                18..=21 => x[t - 2].ssig1().add(x[t - 15].ssig0()).add(x[t - 16]),
                22 => x[20].ssig1().add(x[7].ssig0()).add(x[6]).add(sp(LEN2)),
                23 => x[21]
                    .ssig1()
                    .add(x[16])
                    .add(x[7])
                    .add(sp(small_sigma0(PAD))),
                24 => x[22].ssig1().add(x[17]).add(sp(PAD)),
                25..=29 => x[t - 2].ssig1().add(x[t - 7]),
                30 => x[28].ssig1().add(x[23]).add(sp(small_sigma0(LEN2))),
                _ => x[29].ssig1().add(x[24]).add(x[16].ssig0()).add(sp(LEN2)),
            };
        }
        match T {
            1 => round_pre::<V, 1>(s, sp(SECOND.hk2).add(x[2]), sp(SECOND.dh2).add(x[2])),
            2 => round_pre::<V, 2>(s, sp(SECOND.hk3).add(x[3]), sp(SECOND.dh3).add(x[3])),
            7..=14 => {
                let kw = match T + 1 {
                    8 => k2[8].wrapping_add(PAD),
                    15 => k2[15].wrapping_add(LEN2),
                    t => k2[t],
                };
                round::<V, T>(s, sp(kw))
            }
            3..=56 => {
                if T >= 31 {
                    sched(x, T + 1);
                }
                round::<V, T>(s, x[T + 1].add(sp(k2[T + 1])))
            }
            57..=59 => {
                sched(x, T + 1);
                round_e::<V, T>(s, Some(x[T + 1].add(sp(k2[T + 1]))))
            }
            _ => round_e::<V, T>(s, None),
        }
    }

    /// `e` after round 60 (`H7 = e + IV[7]`).
    #[inline(always)]
    fn e61(&self) -> V {
        self.s.s[pos(60, 3)]
    }
}

/// The per-lane nonce-free values of a [`VersionWork`]: lane `i` holds
/// what [`Pre`] holds for header `i`. The block-2 words, which the headers
/// share, come from lane 0's [`Pre`].
pub(crate) struct PreLanes {
    shared: Pre,
    mid: [[u32; VERSION_LANES]; 8],
    a: [u32; VERSION_LANES],
    b: [u32; VERSION_LANES],
    ab: [u32; VERSION_LANES],
    e: [u32; VERSION_LANES],
    f: [u32; VERSION_LANES],
    r3_a: [u32; VERSION_LANES],
    r3_e: [u32; VERSION_LANES],
    hk4: [u32; VERSION_LANES],
    dh4: [u32; VERSION_LANES],
    hk5: [u32; VERSION_LANES],
    dh5: [u32; VERSION_LANES],
    hk6: [u32; VERSION_LANES],
    dh6: [u32; VERSION_LANES],
}

impl PreLanes {
    pub(crate) fn new(work: &VersionWork) -> PreLanes {
        let z = [0u32; VERSION_LANES];
        let pres: [Pre; VERSION_LANES] = core::array::from_fn(|i| Pre::new(&work.unit(i)));
        let mut p = PreLanes {
            shared: pres[0],
            mid: [z; 8],
            a: z,
            b: z,
            ab: z,
            e: z,
            f: z,
            r3_a: z,
            r3_e: z,
            hk4: z,
            dh4: z,
            hk5: z,
            dh5: z,
            hk6: z,
            dh6: z,
        };
        for (i, q) in pres.iter().enumerate() {
            for (m, v) in p.mid.iter_mut().zip(q.mid) {
                m[i] = v;
            }
            let [a, b, _, _, e, f, _, _] = q.s3;
            p.a[i] = a;
            p.b[i] = b;
            p.ab[i] = a ^ b;
            p.e[i] = e;
            p.f[i] = f;
            p.r3_a[i] = q.r3_a;
            p.r3_e[i] = q.r3_e;
            p.hk4[i] = q.hk4;
            p.dh4[i] = q.dh4;
            p.hk5[i] = q.hk5;
            p.dh5[i] = q.dh5;
            p.hk6[i] = q.hk6;
            p.dh6[i] = q.dh6;
        }
        p
    }
}

/// Block 2's message schedule for [`VERSION_LANES`] consecutive nonces,
/// shared by every version lane: row `t` holds `K[t] + W[t]` for rounds
/// 18..63 and row 3 the nonce word W3 itself, one column per nonce.
#[repr(align(64))]
pub(crate) struct SharedSchedule([[u32; VERSION_LANES]; 64]);

impl SharedSchedule {
    pub(crate) fn new() -> Self {
        SharedSchedule([[0; VERSION_LANES]; 64])
    }

    /// Fill columns `col..col + V::N` for the byte-swapped nonces in `n`.
    #[inline(always)]
    unsafe fn fill<V: Lanes>(&mut self, p: &Pre, n: V, col: usize, k: &[u32; 64]) {
        let sp = V::splat;
        let mut w = [sp(0); 64];
        block2_w16_32(p, n, &mut w);
        macro_rules! extend {
            ($($t:literal)*) => { $( sched(&mut w, $t); )* };
        }
        extend!(33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
            61 62 63);
        n.store(&mut self.0[3][col..]);
        for t in 18..64 {
            w[t].add(sp(k[t])).store(&mut self.0[t][col..]);
        }
    }
}

/// Block 2 of the first hash for version lanes `off..off + N` of a
/// [`PreLanes`], all at the nonce in column `j` of the shared schedule, one
/// round at a time (rounds 4..=63; 0-2 and the nonce-free half of 3 are in
/// the [`PreLanes`]).
struct VersionBlock2<'a> {
    p: &'a PreLanes,
    off: usize,
    kw: &'a [[u32; VERSION_LANES]; 64],
    j: usize,
    k1: &'a [u32; 64],
}

impl VersionBlock2<'_> {
    /// Lanes `off..off + N` of `x`.
    #[inline(always)]
    unsafe fn ld<V: Lanes>(&self, x: &[u32; VERSION_LANES]) -> V {
        V::load(&x[self.off..])
    }

    /// The state at the start of round 4.
    #[inline(always)]
    unsafe fn start<V: Lanes>(&self) -> State<V> {
        let p = self.p;
        let w3 = V::splat(self.kw[3][self.j]);
        let mut s = State {
            s: [V::splat(0); 8],
            bc: self.ld(&p.ab),
        };
        s.s[pos(4, 0)] = self.ld::<V>(&p.r3_a).add(w3);
        s.s[pos(4, 1)] = self.ld(&p.a);
        s.s[pos(4, 2)] = self.ld(&p.b);
        s.s[pos(4, 3)] = self.ld(&p.dh4);
        s.s[pos(4, 4)] = self.ld::<V>(&p.r3_e).add(w3);
        s.s[pos(4, 5)] = self.ld(&p.e);
        s.s[pos(4, 6)] = self.ld(&p.f);
        s.s[pos(4, 7)] = self.ld(&p.hk4);
        s
    }

    /// Round `T` (4..=63). W7..W14 are zero and W15 the length, so rounds
    /// 6..=16 add constants; from round 17 on, `K + W` comes from the
    /// shared schedule.
    #[inline(always)]
    unsafe fn round<V: Lanes, const T: usize>(&self, s: &mut State<V>) {
        let p = self.p;
        match T {
            4 => round_pre::<V, 4>(s, self.ld(&p.hk5), self.ld(&p.dh5)),
            5 => round_pre::<V, 5>(s, self.ld(&p.hk6), self.ld(&p.dh6)),
            6..=16 => {
                let kw = match T + 1 {
                    15 => self.k1[15].wrapping_add(LEN1),
                    16 => self.k1[16].wrapping_add(p.shared.w16),
                    17 => self.k1[17].wrapping_add(p.shared.w17),
                    t => self.k1[t],
                };
                round::<V, T>(s, V::splat(kw))
            }
            17..=62 => round::<V, T>(s, V::splat(self.kw[T + 1][self.j])),
            _ => round_last::<V, T>(s),
        }
    }

    /// The first digest, from the state after round 63, as the second
    /// hash's message.
    #[inline(always)]
    unsafe fn digest<V: Lanes>(&self, s: &State<V>) -> [V; 8] {
        let mut x = [V::splat(0); 8];
        for (i, xi) in x.iter_mut().enumerate() {
            // After round 63 the roles are back at their home positions.
            *xi = s.s[i].add(self.ld(&self.p.mid[i]));
        }
        x
    }
}

/// The second hash's `e` after round 60 for the version lanes of `b2`,
/// block 2 and the second hash one after the other.
#[inline(always)]
unsafe fn e61_versions<V: Lanes>(b2: &VersionBlock2, k2: &[u32; 64]) -> V {
    let mut s = b2.start::<V>();
    macro_rules! rounds {
        ($($t:literal)*) => { $( b2.round::<V, $t>(&mut s); )* };
    }
    rounds!(4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34
        35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
    second_e61(b2.digest(&s), k2)
}

/// Block 2 of one group of version lanes interleaved, round by round, with
/// the second hash of the group before it (from its first digest `prev`):
/// two independent dependency chains in one instruction stream, one light
/// and one heavy in rotates (the second hash extends its own schedule).
/// Returns the previous group's `e` after round 60 and this group's first
/// digest.
#[inline(always)]
unsafe fn pipelined_step<V: Lanes>(
    b2: &VersionBlock2,
    prev: [V; 8],
    xbuf: &mut [V; 64],
    k2: &[u32; 64],
) -> (V, [V; 8]) {
    let mut s = b2.start::<V>();
    let mut h = SecondHash::start(prev, xbuf);
    macro_rules! rounds {
        ($(($t:literal $u:literal))*) => { $(
            h.round::<$t>(k2);
            b2.round::<V, $u>(&mut s);
        )* };
    }
    rounds!((1 4) (2 5) (3 6) (4 7) (5 8) (6 9) (7 10) (8 11) (9 12) (10 13) (11 14) (12 15)
        (13 16) (14 17) (15 18) (16 19) (17 20) (18 21) (19 22) (20 23) (21 24) (22 25) (23 26)
        (24 27) (25 28) (26 29) (27 30) (28 31) (29 32) (30 33) (31 34) (32 35) (33 36) (34 37)
        (35 38) (36 39) (37 40) (38 41) (39 42) (40 43) (41 44) (42 45) (43 46) (44 47) (45 48)
        (46 49) (47 50) (48 51) (49 52) (50 53) (51 54) (52 55) (53 56) (54 57) (55 58) (56 59)
        (57 60) (58 61) (59 62) (60 63));
    (h.e61(), b2.digest(&s))
}

/// Sweep `first..=last` for every header of `work` with lane type `V`,
/// the lanes holding versions: block 2's schedule is computed once per
/// nonce for all of them. Hits are `(lane, nonce)`, by nonce then lane.
///
/// With `PIPELINED`, each pass interleaves block 2 of one group of lanes
/// with the second hash of the group before it ([`pipelined_step`]), and
/// the last group's second hash runs on its own at the end.
///
/// # Safety
/// The CPU must support the target features `V`'s operations use.
#[inline(always)]
pub(crate) unsafe fn sweep_versions<V: Lanes, const PIPELINED: bool>(
    work: &VersionWork,
    first: u32,
    last: u32,
    hits: &mut Vec<(usize, u32)>,
) {
    let pre = PreLanes::new(work);
    let (k1, k2) = (core::hint::black_box(&K), core::hint::black_box(&K));
    let top = work.target.top();
    let mut kw = SharedSchedule::new();
    // The group whose second hash is still to run: its nonce, first lane
    // and first digest.
    let mut pending: Option<(u32, usize)> = None;
    let mut digest = [V::splat(0); 8];
    let mut xbuf = [V::splat(0); 64];
    core::hint::black_box(&mut xbuf);
    let mut check = |e: V, nonce: u32, off: usize| {
        let mut mask = candidates(e, top);
        while mask != 0 {
            let lane = off + mask.trailing_zeros() as usize;
            if work
                .target
                .is_met_by_state(&work.unit(lane).hash_state(nonce))
            {
                hits.push((lane, nonce));
            }
            mask &= mask - 1;
        }
    };
    let mut base = first;
    loop {
        let remaining = last - base;
        let mut col = 0;
        while col < VERSION_LANES {
            kw.fill::<V>(
                &pre.shared,
                V::iota(base.wrapping_add(col as u32)).bswap(),
                col,
                k1,
            );
            col += V::N;
        }
        let count = (remaining as usize).min(VERSION_LANES - 1) + 1;
        for j in 0..count {
            let nonce = base.wrapping_add(j as u32);
            let mut off = 0;
            while off < VERSION_LANES {
                let b2 = VersionBlock2 {
                    p: &pre,
                    off,
                    kw: &kw.0,
                    j,
                    k1,
                };
                if PIPELINED {
                    // The first step's second hash has no group to hash.
                    let (e, next) = pipelined_step::<V>(&b2, digest, &mut xbuf, k2);
                    if let Some((n, o)) = pending {
                        check(e, n, o);
                    }
                    pending = Some((nonce, off));
                    digest = next;
                } else {
                    check(e61_versions::<V>(&b2, k2), nonce, off);
                }
                off += V::N;
            }
        }
        if remaining < VERSION_LANES as u32 {
            break;
        }
        base += VERSION_LANES as u32;
    }
    if let Some((n, o)) = pending {
        check(second_e61(digest, k2), n, o);
    }
}

/// The lanes whose `e` after round 60 (`H7 = e + IV[7]`) may meet a target
/// whose top word is `top`: one compare of `bswap(H7)` with it, or of `H7`
/// with zero when `top` is zero.
#[inline(always)]
unsafe fn candidates<V: Lanes>(e: V, top: u32) -> u32 {
    if top == 0 {
        e.eq_mask(V::splat(IV[7].wrapping_neg()))
    } else {
        e.add(V::splat(IV[7])).bswap().le_mask(V::splat(top))
    }
}

/// Sweep `first..=last` with lane type `V`: the whole kernel, generic.
///
/// # Safety
/// The CPU must support the target features `V`'s operations use.
#[inline(always)]
pub(crate) unsafe fn sweep<V: Lanes>(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    let pre = Pre::new(work);
    let (k1, k2) = (core::hint::black_box(&K), core::hint::black_box(&K));
    let top = work.target.top();
    let n = V::N as u32;
    let mut base = first;
    loop {
        let e = e61::<V>(&pre, V::iota(base).bswap(), k1, k2);
        let mut mask = candidates(e, top);
        let remaining = last - base;
        if remaining < n - 1 {
            mask &= (1u32 << (remaining + 1)) - 1;
        }
        while mask != 0 {
            let nonce = base.wrapping_add(mask.trailing_zeros());
            if work.target.is_met_by_state(&work.hash_state(nonce)) {
                hits.push(nonce);
            }
            mask &= mask - 1;
        }
        if remaining < n {
            break;
        }
        base += n;
    }
}

/// Two registers driven as one, to give the out-of-order core two
/// independent dependency chains per instruction stream.
#[derive(Clone, Copy)]
pub(crate) struct Pair<V>(V, V);

impl<V: Lanes> Lanes for Pair<V> {
    const N: usize = 2 * V::N;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Pair(V::splat(x), V::splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: &[u32]) -> Self {
        Pair(V::load(p), V::load(&p[V::N..]))
    }
    #[inline(always)]
    unsafe fn store(self, p: &mut [u32]) {
        self.0.store(p);
        self.1.store(&mut p[V::N..]);
    }
    #[inline(always)]
    unsafe fn iota(base: u32) -> Self {
        Pair(V::iota(base), V::iota(base.wrapping_add(V::N as u32)))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Pair(self.0.add(o.0), self.1.add(o.1))
    }
    #[inline(always)]
    unsafe fn bsig0(self) -> Self {
        Pair(self.0.bsig0(), self.1.bsig0())
    }
    #[inline(always)]
    unsafe fn bsig1(self) -> Self {
        Pair(self.0.bsig1(), self.1.bsig1())
    }
    #[inline(always)]
    unsafe fn ssig0(self) -> Self {
        Pair(self.0.ssig0(), self.1.ssig0())
    }
    #[inline(always)]
    unsafe fn ssig1(self) -> Self {
        Pair(self.0.ssig1(), self.1.ssig1())
    }
    #[inline(always)]
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self {
        Pair(V::ch(e.0, f.0, g.0), V::ch(e.1, f.1, g.1))
    }
    #[inline(always)]
    unsafe fn maj(a: Self, b: Self, c: Self, carry: Self) -> (Self, Self) {
        let (m0, c0) = V::maj(a.0, b.0, c.0, carry.0);
        let (m1, c1) = V::maj(a.1, b.1, c.1, carry.1);
        (Pair(m0, m1), Pair(c0, c1))
    }
    #[inline(always)]
    unsafe fn bswap(self) -> Self {
        Pair(self.0.bswap(), self.1.bswap())
    }
    #[inline(always)]
    unsafe fn le_mask(self, o: Self) -> u32 {
        self.0.le_mask(o.0) | self.1.le_mask(o.1) << V::N
    }
    #[inline(always)]
    unsafe fn eq_mask(self, o: Self) -> u32 {
        self.0.eq_mask(o.0) | self.1.eq_mask(o.1) << V::N
    }
    #[inline(always)]
    unsafe fn order(a: &mut Self, b: &mut Self) {
        V::order(&mut a.0, &mut b.0);
        V::order(&mut a.1, &mut b.1);
    }
}
