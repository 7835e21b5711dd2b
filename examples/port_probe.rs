//! Measures what bounds the vector kernels on the CPU at hand: the core
//! clock; how many 512-bit adds, rotates and three-input ternary-logic
//! operations issue per cycle, alone and mixed in the proportions of the
//! version-lane kernel (on CPUs with AVX-512); and the rate and latency of
//! the SHA instructions, alone and beside 256-bit integer work (on CPUs
//! with SHA-NI). The figures in docs/benchmarks.md ("What bounds the
//! kernels") come from it; machines differ, so run it on yours:
//!
//! ```sh
//! cargo run --release --example port_probe
//! ```
//!
//! Each probe runs a block of independent instructions (each
//! instruction's inputs written several instructions earlier) many times
//! and takes the fastest of several runs; the clock comes from a chain of
//! dependent scalar adds, one per cycle.

#[cfg(target_arch = "x86_64")]
mod probe {
    use std::arch::asm;
    use std::time::Instant;

    /// Ten copies of a string literal.
    macro_rules! x10 {
        ($s:expr) => {
            concat!($s, $s, $s, $s, $s, $s, $s, $s, $s, $s)
        };
    }

    /// One instruction per destination register 0..24, its sources 7 and
    /// 13 registers further on (written that many instructions earlier).
    macro_rules! block24 {
        ($fmt:ident) => {
            concat!(
                $fmt!(0, 7, 13),
                $fmt!(1, 8, 14),
                $fmt!(2, 9, 15),
                $fmt!(3, 10, 16),
                $fmt!(4, 11, 17),
                $fmt!(5, 12, 18),
                $fmt!(6, 13, 19),
                $fmt!(7, 14, 20),
                $fmt!(8, 15, 21),
                $fmt!(9, 16, 22),
                $fmt!(10, 17, 23),
                $fmt!(11, 18, 0),
                $fmt!(12, 19, 1),
                $fmt!(13, 20, 2),
                $fmt!(14, 21, 3),
                $fmt!(15, 22, 4),
                $fmt!(16, 23, 5),
                $fmt!(17, 0, 6),
                $fmt!(18, 1, 7),
                $fmt!(19, 2, 8),
                $fmt!(20, 3, 9),
                $fmt!(21, 4, 10),
                $fmt!(22, 5, 11),
                $fmt!(23, 6, 12),
            )
        };
    }

    macro_rules! add {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vpaddd zmm", $d, ", zmm", $d, ", zmm", $s, "\n")
        };
    }
    macro_rules! rot {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vprord zmm", $d, ", zmm", $s, ", 7\n")
        };
    }
    macro_rules! tern {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vpternlogd zmm", $d, ", zmm", $s, ", zmm", $t, ", 0x96\n")
        };
    }
    macro_rules! xor {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vpxord zmm", $d, ", zmm", $s, ", zmm", $t, "\n")
        };
    }
    macro_rules! shift {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vpsrld zmm", $d, ", zmm", $s, ", 3\n")
        };
    }
    /// A rotate written as a double shift of a register with itself
    /// (AVX512-VBMI2).
    macro_rules! shld {
        ($d:literal, $s:literal, $t:literal) => {
            concat!("vpshldd zmm", $d, ", zmm", $s, ", zmm", $s, ", 7\n")
        };
    }
    /// As `block24`, with `$a` for the even and `$b` for the odd
    /// destination registers: the two kinds 1:1, as independent as in
    /// `block24`.
    macro_rules! alt24 {
        ($a:ident, $b:ident) => {
            concat!(
                $a!(0, 7, 13),
                $b!(1, 8, 14),
                $a!(2, 9, 15),
                $b!(3, 10, 16),
                $a!(4, 11, 17),
                $b!(5, 12, 18),
                $a!(6, 13, 19),
                $b!(7, 14, 20),
                $a!(8, 15, 21),
                $b!(9, 16, 22),
                $a!(10, 17, 23),
                $b!(11, 18, 0),
                $a!(12, 19, 1),
                $b!(13, 20, 2),
                $a!(14, 21, 3),
                $b!(15, 22, 4),
                $a!(16, 23, 5),
                $b!(17, 0, 6),
                $a!(18, 1, 7),
                $b!(19, 2, 8),
                $a!(20, 3, 9),
                $b!(21, 4, 10),
                $a!(22, 5, 11),
                $b!(23, 6, 12),
            )
        };
    }

    /// An add and a rotate per destination register.
    macro_rules! add_rot {
        ($d:literal, $s:literal, $t:literal) => {
            concat!(
                "vpaddd zmm",
                $d,
                ", zmm",
                $d,
                ", zmm",
                $s,
                "\n",
                "vprord zmm",
                $t,
                ", zmm",
                $s,
                ", 11\n",
            )
        };
    }
    /// An add, a rotate and a ternlog.
    macro_rules! add_rot_tern {
        ($d:literal, $s:literal, $t:literal) => {
            concat!(add_rot!($d, $s, $t), tern!($s, $t, $d))
        };
    }
    /// An add, a rotate and a shift.
    macro_rules! add_rot_shift {
        ($d:literal, $s:literal, $t:literal) => {
            concat!(add_rot!($d, $s, $t), "vpsrld zmm", $s, ", zmm", $t, ", 3\n")
        };
    }
    /// 24 adds, 24 rotates, 15 ternlogs and 2 shifts, interleaved: the
    /// proportions of the version-lane kernel (887 : 870 : 553 : 80 per 16
    /// hashes).
    macro_rules! kernel_mix {
        () => {
            concat!(
                add_rot_tern!(0, 7, 13),
                add_rot!(1, 8, 14),
                add_rot_tern!(2, 9, 15),
                add_rot_tern!(3, 10, 16),
                add_rot!(4, 11, 17),
                add_rot_tern!(5, 12, 18),
                add_rot_tern!(6, 13, 19),
                add_rot_shift!(7, 14, 20),
                add_rot_tern!(8, 15, 21),
                add_rot_tern!(9, 16, 22),
                add_rot!(10, 17, 23),
                add_rot_tern!(11, 18, 0),
                add_rot_tern!(12, 19, 1),
                add_rot!(13, 20, 2),
                add_rot_tern!(14, 21, 3),
                add_rot_tern!(15, 22, 4),
                add_rot!(16, 23, 5),
                add_rot_tern!(17, 0, 6),
                add_rot_tern!(18, 1, 7),
                add_rot_shift!(19, 2, 8),
                add_rot_tern!(20, 3, 9),
                add_rot!(21, 4, 10),
                add_rot_tern!(22, 5, 11),
                add_rot!(23, 6, 12),
            )
        };
    }

    /// Seconds per pass of `f`, the fastest of several runs.
    fn best(mut f: impl FnMut()) -> f64 {
        (0..7)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    const PASSES: u64 = 200_000;

    /// Cycles per second, from 100 dependent adds per loop iteration.
    fn clock() -> f64 {
        let secs = best(|| {
            // SAFETY: scalar register arithmetic only; both registers are
            // declared as clobbered.
            unsafe {
                asm!(
                    "2:",
                    x10!(x10!("add {x}, 1\n")),
                    "dec {n}",
                    "jnz 2b",
                    n = inout(reg) PASSES * 10 => _,
                    x = out(reg) _,
                    options(nostack),
                )
            }
        });
        (PASSES * 10 * 101) as f64 / secs
    }

    /// Runs `$body` (a block of instructions) `PASSES` times: seconds.
    macro_rules! time_zmm {
        ($($body:expr),+) => {
            best(|| {
                for _ in 0..PASSES {
                    // SAFETY: vector register arithmetic on registers
                    // declared as clobbered; no memory is touched. Only
                    // called after checking for AVX-512F.
                    unsafe {
                        asm!(
                            $($body,)+
                            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                            out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                            out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                            out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
                            out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
                            out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
                            options(nomem, nostack),
                        )
                    }
                }
            })
        };
    }

    pub fn run() {
        let hz = clock();
        println!("clock: {:.2} GHz (dependent scalar adds)", hz / 1e9);
        if std::arch::is_x86_feature_detected!("avx512f") {
            avx512(hz);
        } else {
            println!("no AVX-512F: 512-bit probes skipped");
        }
        if std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("avx2")
        {
            sha(hz);
        } else {
            println!("no SHA-NI and AVX2: SHA probes skipped");
        }
    }

    /// Issue rates of the 512-bit operations of the AVX-512 kernels.
    fn avx512(hz: f64) {
        let per_cycle = |ops: u64, secs: f64| (ops * PASSES) as f64 / (secs * hz);
        let vbmi2 = std::arch::is_x86_feature_detected!("avx512vbmi2");
        let rows: [(&str, u64, f64); 12] = [
            ("vpaddd zmm", 240, time_zmm!(x10!(block24!(add)))),
            ("vprord zmm", 240, time_zmm!(x10!(block24!(rot)))),
            (
                "vpternlogd zmm, 3 inputs",
                240,
                time_zmm!(x10!(block24!(tern))),
            ),
            ("vpxord zmm", 240, time_zmm!(x10!(block24!(xor)))),
            ("vpsrld zmm", 240, time_zmm!(x10!(block24!(shift)))),
            (
                "vprord + vpternlogd, 1:1",
                240,
                time_zmm!(x10!(alt24!(rot, tern))),
            ),
            (
                "vpaddd + vpternlogd, 1:1",
                240,
                time_zmm!(x10!(alt24!(add, tern))),
            ),
            (
                "vprord + vpxord, 1:1",
                240,
                time_zmm!(x10!(alt24!(rot, xor))),
            ),
            (
                "vpternlogd + vpxord, 1:1",
                240,
                time_zmm!(x10!(alt24!(tern, xor))),
            ),
            (
                "vprord + vpshldd, 1:1",
                240,
                if vbmi2 {
                    time_zmm!(x10!(alt24!(rot, shld)))
                } else {
                    f64::NAN
                },
            ),
            (
                "vpaddd + vprord, 1:1",
                240,
                time_zmm!(x10!(alt24!(add, rot))),
            ),
            (
                "the version-lane kernel's mix",
                650,
                time_zmm!(x10!(kernel_mix!())),
            ),
        ];
        for (name, ops, secs) in rows {
            println!("{name:<32} {:.2} per cycle", per_cycle(ops, secs));
        }
        let lat = time_zmm!(x10!(x10!("vprord zmm0, zmm0, 7\n")));
        println!(
            "{:<32} {:.2} cycles",
            "vprord zmm latency",
            lat * hz / (100 * PASSES) as f64
        );
    }

    /// `$op` with destination `xmm$d` and source `xmm$s`.
    macro_rules! xop {
        ($op:literal, $d:literal, $s:literal) => {
            concat!($op, " xmm", $d, ", xmm", $s, "\n")
        };
    }

    /// 256-bit `$op` with destination `ymm$d`, source `ymm$s` and `$t` as
    /// its last operand (a register that nothing here writes, or an
    /// immediate).
    macro_rules! yop {
        ($op:literal, $t:literal, $d:literal, $s:literal) => {
            concat!($op, " ymm", $d, ", ymm", $s, $t, "\n")
        };
    }

    /// Seven 256-bit `$op`, one per register 9..15.
    macro_rules! y7 {
        ($op:literal, $t:literal) => {
            concat!(
                yop!($op, $t, 9, 13),
                yop!($op, $t, 10, 14),
                yop!($op, $t, 11, 15),
                yop!($op, $t, 12, 9),
                yop!($op, $t, 13, 10),
                yop!($op, $t, 14, 11),
                yop!($op, $t, 15, 12),
            )
        };
    }

    /// One SHA instruction per destination register 1..15 (`xmm0` is
    /// `sha256rnds2`'s implicit third input), its source 7 registers on.
    macro_rules! block15 {
        ($op:literal) => {
            concat!(
                xop!($op, 1, 8),
                xop!($op, 2, 9),
                xop!($op, 3, 10),
                xop!($op, 4, 11),
                xop!($op, 5, 12),
                xop!($op, 6, 13),
                xop!($op, 7, 14),
                xop!($op, 8, 15),
                xop!($op, 9, 1),
                xop!($op, 10, 2),
                xop!($op, 11, 3),
                xop!($op, 12, 4),
                xop!($op, 13, 5),
                xop!($op, 14, 6),
                xop!($op, 15, 7),
            )
        };
    }

    /// `sha256rnds2` on `xmm$r` (its other input `xmm0`, which nothing
    /// writes), then `$more`.
    macro_rules! rnds {
        ($r:literal, $more:expr) => {
            concat!(xop!("sha256rnds2", $r, 0), $more)
        };
    }

    /// Eight `sha256rnds2` on registers 1..8 (eight chains), each followed
    /// by 0, 1 or 3 256-bit operations `$op` on registers 9..15 (see `yop`
    /// for `$t`).
    macro_rules! rnds_beside {
        ($op:literal, $t:literal, 0) => {
            concat!(
                rnds!(1, ""),
                rnds!(2, ""),
                rnds!(3, ""),
                rnds!(4, ""),
                rnds!(5, ""),
                rnds!(6, ""),
                rnds!(7, ""),
                rnds!(8, ""),
            )
        };
        ($op:literal, $t:literal, 1) => {
            concat!(
                rnds!(1, yop!($op, $t, 9, 13)),
                rnds!(2, yop!($op, $t, 10, 14)),
                rnds!(3, yop!($op, $t, 11, 15)),
                rnds!(4, yop!($op, $t, 12, 9)),
                rnds!(5, yop!($op, $t, 13, 10)),
                rnds!(6, yop!($op, $t, 14, 11)),
                rnds!(7, yop!($op, $t, 15, 12)),
                rnds!(8, yop!($op, $t, 9, 13)),
            )
        };
        ($op:literal, $t:literal, 3) => {
            concat!(
                rnds_beside!($op, $t, 1),
                y7!($op, $t),
                y7!($op, $t),
                yop!($op, $t, 10, 14),
                yop!($op, $t, 11, 15),
            )
        };
    }

    /// Eight `sha256rnds2` on registers 1..8 and eight `$op` on registers
    /// 9..15, alternating; every other input is `xmm0`, which nothing
    /// writes.
    macro_rules! sha_pairs {
        ($op:literal) => {
            concat!(
                rnds!(1, xop!($op, 9, 0)),
                rnds!(2, xop!($op, 10, 0)),
                rnds!(3, xop!($op, 11, 0)),
                rnds!(4, xop!($op, 12, 0)),
                rnds!(5, xop!($op, 13, 0)),
                rnds!(6, xop!($op, 14, 0)),
                rnds!(7, xop!($op, 15, 0)),
                rnds!(8, xop!($op, 9, 0)),
            )
        };
    }

    /// `$op` (with `$tail`, e.g. an immediate) on each register of
    /// `$r` in turn, sources `xmm0`.
    macro_rules! on_each {
        ($op:literal, $tail:literal, $($r:literal)+) => {
            concat!($($op, " xmm", $r, ", xmm0", $tail, "\n",)+)
        };
    }

    /// Sixteen `$op` on registers 9..14: work independent of the round
    /// chains on 1..8.
    macro_rules! sixteen {
        ($op:literal, $tail:literal) => {
            concat!(
                on_each!($op, $tail, 9 10 11 12 13 14),
                on_each!($op, $tail, 9 10 11 12 13 14),
                on_each!($op, $tail, 9 10 11 12),
            )
        };
    }

    /// Runs `$body` (a block of instructions) `PASSES` times: seconds.
    macro_rules! time_ymm {
        ($($body:expr),+) => {
            best(|| {
                for _ in 0..PASSES {
                    // SAFETY: vector register arithmetic on registers
                    // declared as clobbered; no memory is touched. Only
                    // called after checking for SHA-NI and AVX2.
                    unsafe {
                        asm!(
                            $($body,)+
                            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                            options(nomem, nostack),
                        )
                    }
                }
            })
        };
    }

    /// Rate and latency of the SHA instructions, and whether 256-bit
    /// integer work can run beside `sha256rnds2` without slowing it.
    fn sha(hz: f64) {
        let per_cycle = |ops: u64, secs: f64| (ops * PASSES) as f64 / (secs * hz);
        let rows: [(&str, u64, f64); 6] = [
            ("sha256rnds2", 150, time_ymm!(x10!(block15!("sha256rnds2")))),
            ("sha256msg1", 150, time_ymm!(x10!(block15!("sha256msg1")))),
            ("sha256msg2", 150, time_ymm!(x10!(block15!("sha256msg2")))),
            (
                "sha256rnds2 + sha256msg1, 1:1",
                160,
                time_ymm!(x10!(sha_pairs!("sha256msg1"))),
            ),
            (
                "sha256rnds2 + sha256msg2, 1:1",
                160,
                time_ymm!(x10!(sha_pairs!("sha256msg2"))),
            ),
            (
                "sha256rnds2 + paddd, 1:1",
                160,
                time_ymm!(x10!(sha_pairs!("paddd"))),
            ),
        ];
        for (name, ops, secs) in rows {
            println!("{name:<32} {:.2} per cycle", per_cycle(ops, secs));
        }
        // Eight chains of sha256rnds2 with 4 independent sha256msg2 beside
        // them, about the kernels' ratio: sha256rnds2 per cycle, which
        // stays at its rate alone when the two do not share a unit.
        let beside_msg2 = time_ymm!(x10!(concat!(
            rnds_beside!("", "", 0),
            xop!("sha256msg2", 9, 0),
            xop!("sha256msg2", 10, 0),
            xop!("sha256msg2", 11, 0),
            xop!("sha256msg2", 12, 0),
        )));
        println!(
            "{:<32} {:.2} per cycle",
            "sha256rnds2 + sha256msg2, 2:1",
            per_cycle(80, beside_msg2)
        );
        // The same eight chains with 16 independent operations beside
        // them: cycles per eight sha256rnds2 (8 when the operations use
        // other execution units, more when they compete with the rounds).
        let with16 = [
            (
                "paddd",
                time_ymm!(x10!(concat!(
                    rnds_beside!("", "", 0),
                    sixteen!("paddd", "")
                ))),
            ),
            (
                "pshufd",
                time_ymm!(x10!(concat!(
                    rnds_beside!("", "", 0),
                    sixteen!("pshufd", ", 14")
                ))),
            ),
            (
                "palignr",
                time_ymm!(x10!(concat!(
                    rnds_beside!("", "", 0),
                    sixteen!("palignr", ", 4")
                ))),
            ),
        ];
        for (name, secs) in with16 {
            println!(
                "{:<32} {:.2} cycles per 8 sha256rnds2",
                format!("sha256rnds2 + 16 {name}"),
                secs * hz / (10 * PASSES) as f64
            );
        }
        let latencies = [
            (
                "sha256rnds2",
                time_ymm!(x10!(x10!("sha256rnds2 xmm1, xmm0\n"))),
            ),
            (
                "sha256msg1",
                time_ymm!(x10!(x10!("sha256msg1 xmm1, xmm0\n"))),
            ),
            (
                "sha256msg2",
                time_ymm!(x10!(x10!("sha256msg2 xmm1, xmm0\n"))),
            ),
        ];
        for (name, secs) in latencies {
            println!(
                "{:<32} {:.2} cycles",
                format!("{name} latency"),
                secs * hz / (100 * PASSES) as f64
            );
        }
        // The same eight chains of sha256rnds2, alone and with 1 or 3
        // 256-bit operations after each: sha256rnds2 per cycle, and all
        // instructions per cycle.
        let beside: [(&str, u64, f64); 7] = [
            ("alone", 1, time_ymm!(x10!(rnds_beside!("", "", 0)))),
            (
                "+ 1 vpaddd ymm",
                2,
                time_ymm!(x10!(rnds_beside!("vpaddd", ", ymm0", 1))),
            ),
            (
                "+ 3 vpaddd ymm",
                4,
                time_ymm!(x10!(rnds_beside!("vpaddd", ", ymm0", 3))),
            ),
            (
                "+ 1 vpxor ymm",
                2,
                time_ymm!(x10!(rnds_beside!("vpxor", ", ymm0", 1))),
            ),
            (
                "+ 3 vpxor ymm",
                4,
                time_ymm!(x10!(rnds_beside!("vpxor", ", ymm0", 3))),
            ),
            (
                "+ 1 vpsrld ymm",
                2,
                time_ymm!(x10!(rnds_beside!("vpsrld", ", 3", 1))),
            ),
            (
                "+ 3 vpsrld ymm",
                4,
                time_ymm!(x10!(rnds_beside!("vpsrld", ", 3", 3))),
            ),
        ];
        for (name, per_rnds, secs) in beside {
            println!(
                "sha256rnds2 {name:<20} {:.2} per cycle ({:.2} instructions)",
                per_cycle(80, secs),
                per_cycle(80 * per_rnds, secs)
            );
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    probe::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("the probe is for x86-64 CPUs");
}
