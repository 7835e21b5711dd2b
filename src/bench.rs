//! `noncesweep bench`: hash throughput of this machine, per backend, on one
//! thread and on all threads, measured side by side in one run.

use std::time::Duration;

use serde::Serialize;

use crate::engine::{self, EngineError, MinerConfig};
use crate::sha256::{self, Backend};
use crate::units::format_rate;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Backends to measure.
    pub backends: Vec<Backend>,
    /// The thread count of the "all threads" measurement.
    pub threads: usize,
    /// Whether to measure one thread as well (when `threads > 1`).
    pub single_thread: bool,
    /// Length of each measurement.
    pub seconds: f64,
}

/// The CPU the benchmark ran on.
#[derive(Clone, Debug, Serialize)]
pub struct CpuInfo {
    pub model: String,
    pub logical_cpus: usize,
    pub features: Vec<&'static str>,
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub backend: String,
    pub threads: usize,
    pub hashes: u64,
    pub seconds: f64,
    /// Hashes per second, all threads together.
    pub hashrate: f64,
    /// Hashes per second of each thread.
    pub per_thread: Vec<f64>,
}

/// All measurements of one run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cpu: CpuInfo,
    pub results: Vec<BenchResult>,
}

impl CpuInfo {
    /// Read the CPU model and detect features.
    pub fn detect() -> Self {
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        CpuInfo {
            model,
            logical_cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            features: sha256::cpu_features(),
        }
    }
}

/// Measure `backend` on `threads` threads for `seconds`.
pub fn measure(backend: Backend, threads: usize, seconds: f64) -> Result<BenchResult, EngineError> {
    let (counts, elapsed) = engine::measure(
        MinerConfig::new(backend, threads),
        Duration::from_secs_f64(seconds),
    )?;
    let secs = elapsed.as_secs_f64();
    let hashes: u64 = counts.iter().sum();
    Ok(BenchResult {
        backend: backend.name().to_string(),
        threads,
        hashes,
        seconds: secs,
        hashrate: hashes as f64 / secs,
        per_thread: counts.iter().map(|&c| c as f64 / secs).collect(),
    })
}

/// Run every measurement the options ask for, in order, with `on_result`
/// called after each one (for live output).
pub fn run(
    opts: &BenchOptions,
    mut on_result: impl FnMut(&BenchResult),
) -> Result<BenchReport, EngineError> {
    let mut results = Vec::new();
    let mut thread_counts = Vec::new();
    if opts.single_thread || opts.threads == 1 {
        thread_counts.push(1);
    }
    if opts.threads > 1 {
        thread_counts.push(opts.threads);
    }
    for &threads in &thread_counts {
        for &backend in &opts.backends {
            let r = measure(backend, threads, opts.seconds)?;
            on_result(&r);
            results.push(r);
        }
    }
    Ok(BenchReport {
        cpu: CpuInfo::detect(),
        results,
    })
}

/// One line of the human-readable table.
pub fn format_result(r: &BenchResult) -> String {
    let per: Vec<String> = r.per_thread.iter().map(|&h| format_rate(h)).collect();
    format!(
        "{:<10} {:>7}  {:>12}   per thread: {}",
        r.backend,
        r.threads,
        format_rate(r.hashrate),
        per.join(", ")
    )
}
