//! Measures what bounds the AVX-512 kernels on the CPU at hand: the core
//! clock, and how many 512-bit adds, rotates and three-input ternary-logic
//! operations issue per cycle, alone and mixed in the proportions of the
//! version-lane kernel. The figures in docs/benchmarks.md ("What bounds
//! the AVX-512 kernels") come from it; machines differ, so run it on yours:
//!
//! ```sh
//! cargo run --release --example port_probe
//! ```
//!
//! Each probe runs a block of 240 independent instructions (24 registers,
//! each instruction's inputs written 7 and more instructions earlier) many
//! times and takes the fastest of several runs; the clock comes from a
//! chain of dependent scalar adds, one per cycle.

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
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("this CPU has no AVX-512F: nothing to probe");
            return;
        }
        let hz = clock();
        println!("clock: {:.2} GHz (dependent scalar adds)", hz / 1e9);
        let per_cycle = |ops: u64, secs: f64| (ops * PASSES) as f64 / (secs * hz);
        let rows: [(&str, u64, f64); 5] = [
            ("vpaddd zmm", 240, time_zmm!(x10!(block24!(add)))),
            ("vprord zmm", 240, time_zmm!(x10!(block24!(rot)))),
            (
                "vpternlogd zmm, 3 inputs",
                240,
                time_zmm!(x10!(block24!(tern))),
            ),
            (
                "vpaddd + vprord, 1:1",
                480,
                time_zmm!(x10!(block24!(add_rot))),
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
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    probe::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("the probe is for x86-64 CPUs");
}
