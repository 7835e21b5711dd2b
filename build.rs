//! Tells the test suite which SIMD backends the CPU building it has, so a
//! kernel test for a backend this CPU lacks is reported as ignored (with
//! the reason) instead of passing without testing anything. Tests run on
//! the machine that built them; a test binary moved to a CPU without the
//! feature fails loudly instead (see `tests/kernels.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(noncesweep_cpu_avx512)");
    println!("cargo::rustc-check-cfg=cfg(noncesweep_cpu_shani)");
    println!("cargo::rustc-check-cfg=cfg(noncesweep_cpu_avx2)");
    println!("cargo::rerun-if-changed=build.rs");
    let host = std::env::var("HOST").unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    if host != target {
        return; // cross build: the build machine's CPU says nothing
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            println!("cargo::rustc-cfg=noncesweep_cpu_avx512");
        }
        if std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
        {
            println!("cargo::rustc-cfg=noncesweep_cpu_shani");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            println!("cargo::rustc-cfg=noncesweep_cpu_avx2");
        }
    }
}
