//! `noncesweep bench`: hash throughput of this machine, per backend, on one
//! thread and on all threads, measured side by side in one run.
//!
//! Every run also measures `sha2-loop`, the baseline: the loop a newcomer
//! writes with the `sha2` crate (two `compress256` calls per nonce from the
//! midstate, then a look at H7). Absolute rates move with the load of a
//! shared machine; each backend's ratio to `sha2-loop` at the same thread
//! count, measured in the same run, is the figure that can be compared.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::digest::generic_array::{typenum::U64, GenericArray};

use crate::hashing::engine::{self, EngineError, MinerConfig, SweepFn};
use crate::hashing::sha256::{self, Backend, Candidate, Selection, WorkUnit};
use crate::report::units::format_rate;

/// The name of the baseline in reports.
pub const BASELINE: &str = "sha2-loop";

/// A sentence on what the lanes of the SIMD kernels hold in a run.
pub fn lanes_note(version_rolling: bool) -> String {
    if version_rolling {
        format!(
            "version rolling on (BIP320 mask {:08x}, as in solo mining and most pools): \
             version-lane kernels hash {} versions per nonce and share block 2's message \
             schedule, nonce-lane kernels hash one header at a time; each backend is shown \
             in its fastest configuration here (* marks the one that mines); \
             --no-version-rolling measures nonce lanes only",
            crate::hashing::work::BIP320_MASK,
            sha256::VERSION_LANES
        )
    } else {
        "version rolling off: every kernel hashes one header at a time, nonces in its lanes \
         (* marks the one that mines)"
            .to_string()
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Configurations to measure (`sha2-loop` is always measured too).
    pub subjects: Vec<Candidate>,
    /// The configuration calibration chose, marked in the results.
    pub chosen: Option<Candidate>,
    /// The thread count of the "all threads" measurement.
    pub threads: usize,
    /// Whether to measure one thread as well (when `threads > 1`).
    pub single_thread: bool,
    /// Length of each measurement.
    pub seconds: f64,
    /// Whether the benchmark job allows version rolling (as solo mining and
    /// most pools do), so the SIMD kernels hash version groups.
    pub version_rolling: bool,
    /// Where running counts are published (status line, API).
    pub live: Option<Arc<engine::LiveCounts>>,
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
    /// `hashrate` divided by that of `sha2-loop` at the same thread count.
    pub ratio: f64,
    /// What the kernel's lanes held: `"versions"` (a group of rolled
    /// versions per nonce, block 2's schedule shared) or `"nonces"`.
    pub lanes: &'static str,
    /// The kernel variant (`x16`, `x32`, ...; `-` for `sha2-loop`).
    pub kernel: &'static str,
    /// Whether this is the configuration calibration chose for the run's
    /// work.
    pub chosen: bool,
}

impl BenchResult {
    /// `sha2-loop`, or the configuration: `avx512 versions x32`.
    pub fn label(&self) -> String {
        if self.kernel == "-" {
            self.backend.clone()
        } else {
            format!("{} {} {}", self.backend, self.lanes, self.kernel)
        }
    }
}

/// One configuration's calibration rate.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateRate {
    pub backend: &'static str,
    pub lanes: &'static str,
    pub kernel: &'static str,
    /// Hashes per second on one thread in the calibration.
    pub hashrate: f64,
}

/// The configuration chosen here for the run's work, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SelectionInfo {
    pub backend: String,
    pub lanes: String,
    pub kernel: String,
    pub reason: String,
    /// Every candidate's calibration rate, fastest first.
    pub candidates: Vec<CandidateRate>,
}

impl SelectionInfo {
    /// What `s` mines work with (`version_rolling`) or without version rolling.
    pub fn of(s: &Selection, version_rolling: bool) -> Self {
        let k = s.for_job(version_rolling);
        SelectionInfo {
            backend: k.backend().name().to_string(),
            lanes: k.mode().name().to_string(),
            kernel: k.variant().to_string(),
            reason: s.reason.clone(),
            candidates: s
                .rates
                .iter()
                .map(|(c, r)| CandidateRate {
                    backend: c.backend().name(),
                    lanes: c.mode().name(),
                    kernel: c.variant(),
                    hashrate: *r,
                })
                .collect(),
        }
    }
}

/// All measurements of one run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cpu: CpuInfo,
    /// The backend choice in effect for this run.
    pub selection: Option<SelectionInfo>,
    /// Whether the job allowed version rolling ([`BenchOptions::version_rolling`]).
    pub version_rolling: bool,
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

/// The baseline loop: what a newcomer writes with the `sha2` crate at its
/// default features (which use SHA-NI at run time where the CPU has it).
/// Put the nonce into the padded block 2, compress from the midstate, write
/// the state big-endian into the padded second block, compress from the
/// IV, test H7; only then compare all 256 bits.
pub fn sha2_loop(work: &WorkUnit, first: u32, last: u32, hits: &mut Vec<u32>) {
    let mut block2: GenericArray<u8, U64> = GenericArray::default();
    for (i, w) in work.tail.iter().enumerate() {
        block2[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    block2[16] = 0x80;
    block2[56..].copy_from_slice(&640u64.to_be_bytes());
    let mut block3: GenericArray<u8, U64> = GenericArray::default();
    block3[32] = 0x80;
    block3[56..].copy_from_slice(&256u64.to_be_bytes());
    let top = work.target.top();
    let mut nonce = first;
    loop {
        block2[12..16].copy_from_slice(&nonce.to_le_bytes());
        let mut s = work.midstate;
        sha2::compress256(&mut s, core::slice::from_ref(&block2));
        for (i, w) in s.iter().enumerate() {
            block3[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
        let mut h = sha256::IV;
        sha2::compress256(&mut h, core::slice::from_ref(&block3));
        if h[7].swap_bytes() <= top && work.target.is_met_by_state(&h) {
            hits.push(nonce);
        }
        if nonce == last {
            break;
        }
        nonce += 1;
    }
}

/// Something `bench` measures: a configuration, or the baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Subject {
    Kernel(Candidate),
    Sha2Loop,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Kernel(c) => c.backend().name(),
            Subject::Sha2Loop => BASELINE,
        }
    }

    /// The result of hashing `counts` (per thread) in `secs`.
    fn result(self, threads: usize, counts: &[u64], secs: f64, chosen: bool) -> BenchResult {
        let hashes: u64 = counts.iter().sum();
        let (lanes, kernel) = match self {
            Subject::Kernel(c) => (c.mode().name(), c.variant()),
            Subject::Sha2Loop => ("nonces", "-"),
        };
        BenchResult {
            backend: self.name().to_string(),
            threads,
            hashes,
            seconds: secs,
            hashrate: hashes as f64 / secs,
            per_thread: counts.iter().map(|&c| c as f64 / secs).collect(),
            ratio: 1.0,
            lanes,
            kernel,
            chosen,
        }
    }

    /// Workers that run this subject. The benchmark job rolls versions:
    /// a version kernel hashes groups of them, a nonce kernel one header
    /// after another.
    fn config(self, threads: usize) -> MinerConfig {
        match self {
            Subject::Kernel(c) => {
                let nonces = match c {
                    Candidate::Nonces(k) => k,
                    Candidate::Versions(k) => k.backend.nonce_kernels()[0],
                };
                MinerConfig::with_kernels(nonces, c, threads)
            }
            Subject::Sha2Loop => {
                let sweep: SweepFn = Arc::new(sha2_loop);
                MinerConfig {
                    threads,
                    chunk: 1 << 13,
                    sweep,
                    sweep_versions: None,
                }
            }
        }
    }
}

/// The configurations of a selection that `bench` measures: for each
/// backend, its fastest for the work (`version_rolling` or not) in the
/// calibration, or with `all`, every one.
pub fn subjects_of(s: &Selection, version_rolling: bool, all: bool) -> Vec<Candidate> {
    let fits = |c: &Candidate| version_rolling || c.mode() == sha256::LaneMode::Nonces;
    if s.rates.is_empty() {
        return vec![s.for_job(version_rolling)];
    }
    let mut out: Vec<Candidate> = Vec::new();
    for (c, _) in s.rates.iter().filter(|(c, _)| fits(c)) {
        if all || !out.iter().any(|o| o.backend() == c.backend()) {
            out.push(*c);
        }
    }
    // In the order of Backend::ALL, then as calibrated.
    out.sort_by_key(|c| Backend::ALL.iter().position(|&b| b == c.backend()));
    out
}

/// Measure the configuration `s` chose on `threads` threads for `seconds`
/// (ratio left at 1), with version rolling allowed.
pub fn measure(s: &Selection, threads: usize, seconds: f64) -> Result<BenchResult, EngineError> {
    let subject = Subject::Kernel(s.rolling);
    let (counts, elapsed) = engine::measure_live(
        subject.config(threads),
        Duration::from_secs_f64(seconds),
        None,
    )?;
    Ok(subject.result(threads, &counts, elapsed.as_secs_f64(), true))
}

/// Length of one slice of an interleaved measurement.
const SLICE_SECONDS: f64 = 0.5;

/// Run every measurement the options ask for: per thread count, `sha2-loop`
/// and each backend, with each backend's ratio to `sha2-loop`.
///
/// The subjects take turns in slices of about half a second until each has
/// run for `seconds`, so that a change in the machine's load (a shared
/// machine's neighbours come and go) weighs on all of them alike instead of
/// on whichever ran at the time. `on_result` is called for each result as
/// soon as its thread count is done (for live output), and `on_progress`
/// before each slice with the seconds measured so far, the whole run's
/// length, and what the slice measures.
pub fn run(
    opts: &BenchOptions,
    mut on_progress: impl FnMut(f64, f64, &str),
    mut on_result: impl FnMut(&BenchResult),
) -> Result<Vec<BenchResult>, EngineError> {
    let mut results = Vec::new();
    let mut thread_counts = Vec::new();
    if opts.single_thread || opts.threads == 1 {
        thread_counts.push(1);
    }
    if opts.threads > 1 {
        thread_counts.push(opts.threads);
    }
    let live = opts.live.as_deref();
    let subjects: Vec<Subject> = std::iter::once(Subject::Sha2Loop)
        .chain(opts.subjects.iter().map(|&c| Subject::Kernel(c)))
        .collect();
    let slices = ((opts.seconds / SLICE_SECONDS).round() as usize).max(1);
    let slice = opts.seconds / slices as f64;
    let total = slice * (slices * subjects.len() * thread_counts.len()) as f64;
    let mut measured = 0.0;
    for &threads in &thread_counts {
        // Per subject: hashes per thread, and seconds measured.
        let mut done: Vec<(Vec<u64>, f64)> = vec![(vec![0; threads], 0.0); subjects.len()];
        let thread_word = if threads == 1 { "thread" } else { "threads" };
        'slices: for _ in 0..slices {
            for (subject, acc) in subjects.iter().zip(done.iter_mut()) {
                if crate::shutdown::requested() {
                    break 'slices;
                }
                let what = match subject {
                    Subject::Kernel(c) => c.name(),
                    Subject::Sha2Loop => BASELINE.to_string(),
                };
                on_progress(measured, total, &format!("{threads} {thread_word}, {what}"));
                measured += slice;
                let config = subject.config(threads);
                let (counts, elapsed) =
                    engine::measure_live(config, Duration::from_secs_f64(slice), live)?;
                for (a, c) in acc.0.iter_mut().zip(counts) {
                    *a += c;
                }
                acc.1 += elapsed.as_secs_f64();
            }
        }
        let mut base_rate = 0.0;
        for (subject, (counts, secs)) in subjects.iter().zip(done) {
            if secs == 0.0 {
                continue;
            }
            let chosen = matches!(subject, Subject::Kernel(c) if Some(*c) == opts.chosen);
            let mut r = subject.result(threads, &counts, secs, chosen);
            if *subject == Subject::Sha2Loop {
                base_rate = r.hashrate;
            }
            r.ratio = if base_rate > 0.0 {
                r.hashrate / base_rate
            } else {
                0.0
            };
            on_result(&r);
            results.push(r);
        }
        if crate::shutdown::requested() {
            break;
        }
    }
    Ok(results)
}

/// The header of the human-readable table.
pub fn table_header() -> String {
    format!(
        "  {:<10} {:>7}  {:>8}  {:>6}  {:>12}  {:>9}",
        "backend", "threads", "lanes", "kernel", "hashrate", "vs sha2"
    )
}

/// One line of the human-readable table.
pub fn format_result(r: &BenchResult) -> String {
    let per: Vec<String> = r.per_thread.iter().map(|&h| format_rate(h)).collect();
    format!(
        "{} {:<10} {:>7}  {:>8}  {:>6}  {:>12}  {:>8.2}x   per thread: {}",
        if r.chosen { '*' } else { ' ' },
        r.backend,
        r.threads,
        r.lanes,
        r.kernel,
        format_rate(r.hashrate),
        r.ratio,
        per.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::sha256::TargetWords;

    #[test]
    fn run_reports_progress_before_every_slice_and_then_the_results() {
        let opts = BenchOptions {
            subjects: vec![],
            chosen: None,
            threads: 2,
            single_thread: true,
            seconds: 1.0,
            version_rolling: false,
            live: None,
        };
        let events = std::cell::RefCell::new(Vec::new());
        let results = run(
            &opts,
            |done, total, what| {
                events
                    .borrow_mut()
                    .push(format!("{done:.1}/{total:.1} {what}"))
            },
            |r| {
                events
                    .borrow_mut()
                    .push(format!("result {} {}", r.backend, r.threads))
            },
        )
        .expect("bench runs");
        let events = events.into_inner();
        assert_eq!(results.len(), 2);
        assert_eq!(
            events,
            [
                "0.0/2.0 1 thread, sha2-loop",
                "0.5/2.0 1 thread, sha2-loop",
                "result sha2-loop 1",
                "1.0/2.0 2 threads, sha2-loop",
                "1.5/2.0 2 threads, sha2-loop",
                "result sha2-loop 2",
            ]
        );
    }

    #[test]
    fn sha2_loop_agrees_with_soft() {
        let job = engine::synthetic_job(bitcoin::Target::MAX);
        let mut work = job
            .variant(0)
            .expect("variant 0")
            .header
            .work_unit(job.share_target);
        work.target = TargetWords([u32::MAX; 8]);
        work.target.0[7] = 0x00ff_ffff;
        let (mut got, mut want) = (Vec::new(), Vec::new());
        sha2_loop(&work, u32::MAX - 5000, u32::MAX, &mut got);
        Backend::Soft.sweep(&work, u32::MAX - 5000, u32::MAX, &mut want);
        assert!(want.len() >= 5, "too few hits to compare: {want:?}");
        assert_eq!(got, want);
    }
}
