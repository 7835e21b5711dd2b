//! Which kernel mines: self-tests, and the calibration that picks the whole
//! configuration (backend, lane mode, kernel variant).
//!
//! This is the one place that decides. A backend mines only after every one
//! of its kernels passed the known-answer self-test in this process: a SIMD
//! kernel that silently missed hits on some CPU would otherwise go
//! unnoticed, since the engine's re-check catches false hits but not missed
//! ones. A backend that fails is logged as an error and the next one (in
//! [`Backend::ALL`] order) is used instead.
//!
//! Then every candidate configuration is timed on one thread: each kernel
//! of each backend that passed, with nonces in its lanes and, where it has
//! them, with versions. What is fastest differs between CPUs (AVX-512 beats
//! SHA-NI on some, not others; version lanes beat nonce lanes on AMD Zen 4
//! and may not on Intel), so nothing is assumed. The fastest candidate mines
//! version-rolling jobs; the fastest nonce-lane candidate mines jobs that
//! allow no version rolling.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bitcoin::{BlockHash, TxMerkleNode};

use super::{
    soft, Backend, BackendChoice, LaneMode, NonceKernel, TargetWords, VersionKernel, VersionWork,
    WorkUnit, VERSION_LANES,
};
use crate::hashing::header::HeaderTemplate;
use crate::hashing::pow;

/// The time calibration may spend measuring, all candidates together.
pub const CALIBRATION_BUDGET: Duration = Duration::from_millis(200);

/// A configuration calibration can choose: a kernel and what its lanes hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Candidate {
    Nonces(NonceKernel),
    Versions(VersionKernel),
}

impl Candidate {
    pub fn backend(&self) -> Backend {
        match self {
            Candidate::Nonces(k) => k.backend,
            Candidate::Versions(k) => k.backend,
        }
    }

    pub fn mode(&self) -> LaneMode {
        match self {
            Candidate::Nonces(_) => LaneMode::Nonces,
            Candidate::Versions(_) => LaneMode::Versions,
        }
    }

    pub fn variant(&self) -> &'static str {
        match self {
            Candidate::Nonces(k) => k.variant,
            Candidate::Versions(k) => k.variant,
        }
    }

    /// `avx512 versions x32`.
    pub fn name(&self) -> String {
        match self {
            Candidate::Nonces(k) => k.name(),
            Candidate::Versions(k) => k.name(),
        }
    }

    /// Every configuration of `backend`: its nonce kernels, then its
    /// version kernels.
    pub fn all_of(backend: Backend) -> Vec<Candidate> {
        let nonces = backend
            .nonce_kernels()
            .iter()
            .map(|&k| Candidate::Nonces(k));
        let versions = backend
            .version_kernels()
            .iter()
            .map(|&k| Candidate::Versions(k));
        nonces.chain(versions).collect()
    }
}

/// The chosen configuration and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// What mines a job that allows version rolling: a version kernel, or
    /// a nonce kernel where that was faster here.
    pub rolling: Candidate,
    /// What mines a job that allows no version rolling.
    pub nonces: NonceKernel,
    /// Why, in words (for logs and `bench`).
    pub reason: String,
    /// Every candidate's calibration rate in hashes per second, fastest
    /// first (empty when there was nothing to choose between).
    pub rates: Vec<(Candidate, f64)>,
}

impl Selection {
    /// The backend that mines version-rolling jobs (the usual case).
    pub fn backend(&self) -> Backend {
        self.rolling.backend()
    }

    /// The kernel that mines a job that does (`true`) or does not allow
    /// version rolling.
    pub fn for_job(&self, version_rolling: bool) -> Candidate {
        if version_rolling {
            self.rolling
        } else {
            Candidate::Nonces(self.nonces)
        }
    }

    /// Each candidate and its rate, for a log line or `bench`.
    pub fn rates_line(&self) -> String {
        self.rates
            .iter()
            .map(|(c, r)| format!("{} {}", c.name(), crate::report::units::format_rate(*r)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The reference kernels of `backend`, chosen without measuring.
    fn reference(backend: Backend, reason: String) -> Selection {
        let nonces = backend.nonce_kernels()[0];
        let rolling = backend
            .version_kernels()
            .first()
            .map_or(Candidate::Nonces(nonces), |&k| Candidate::Versions(k));
        Selection {
            rolling,
            nonces,
            reason,
            rates: vec![],
        }
    }
}

/// A real block around whose nonce the self-test sweeps.
struct KnownBlock {
    name: &'static str,
    version: i32,
    prev: &'static str,
    merkle: &'static str,
    time: u32,
    bits: u32,
    nonce: u32,
}

const KNOWN_BLOCKS: [KnownBlock; 2] = [
    KnownBlock {
        name: "genesis",
        version: 1,
        prev: "0000000000000000000000000000000000000000000000000000000000000000",
        merkle: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
        time: 1231006505,
        bits: 0x1d00ffff,
        nonce: 2083236893,
    },
    KnownBlock {
        name: "block 125552",
        version: 1,
        prev: "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81",
        merkle: "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3",
        time: 1305998791,
        bits: 0x1a44b9f2,
        nonce: 2504433986,
    },
];

impl KnownBlock {
    fn header(&self) -> Result<HeaderTemplate, String> {
        let prev = BlockHash::from_str(self.prev).map_err(|e| e.to_string())?;
        let merkle = TxMerkleNode::from_str(self.merkle).map_err(|e| e.to_string())?;
        Ok(HeaderTemplate::new(
            self.version,
            prev,
            merkle,
            self.time,
            self.bits,
            self.nonce,
        ))
    }
}

/// Compare `kernel` with `soft` over `first..=last`; returns the hits.
fn agree_with_soft(
    kernel: &NonceKernel,
    work: &WorkUnit,
    first: u32,
    last: u32,
) -> Result<Vec<u32>, String> {
    let (mut got, mut want) = (Vec::new(), Vec::new());
    kernel.sweep(work, first, last, &mut got);
    soft::sweep(work, first, last, &mut want);
    if got != want {
        return Err(format!(
            "{kernel:?}: nonces {first}..={last} at an easy target: found {got:?}, soft found {want:?}"
        ));
    }
    Ok(got)
}

/// The known-answer test of every kernel of `backend`.
fn run_self_test(backend: Backend) -> Result<(), String> {
    for kernel in backend.nonce_kernels() {
        nonce_self_test(kernel)?;
    }
    for kernel in backend.version_kernels() {
        version_self_test(kernel)?;
    }
    Ok(())
}

/// The known-answer test of a nonce kernel: windows around real blocks'
/// nonces at their real targets, and easy-target windows (including the
/// end of the nonce space and a single nonce) compared with `soft`.
fn nonce_self_test(kernel: &NonceKernel) -> Result<(), String> {
    for block in &KNOWN_BLOCKS {
        let header = block.header()?;
        let work = header.work_unit(header.block_target());
        let (first, last) = (block.nonce - 37, block.nonce + 40);
        let mut hits = Vec::new();
        kernel.sweep(&work, first, last, &mut hits);
        if hits != [block.nonce] {
            return Err(format!(
                "{kernel:?}, {}: nonces {first}..={last} gave {hits:?}, expected [{}]",
                block.name, block.nonce
            ));
        }
    }
    // About one hash in 256 meets this target; its top word is not zero.
    let header = KNOWN_BLOCKS[1].header()?;
    let mut easy = header.work_unit(pow::target_from_bits(0x1d00ffff));
    easy.target = TargetWords([
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        0x00ff_ffff,
    ]);
    let mut total = 0;
    for (first, last) in [(1000, 3000), (u32::MAX - 700, u32::MAX), (77, 77)] {
        total += agree_with_soft(kernel, &easy, first, last)?.len();
    }
    if total == 0 {
        return Err("no hits at the easy target (neither kernel nor soft)".into());
    }
    Ok(())
}

/// The lane that holds the real header in [`version_work`].
const REAL_LANE: usize = 21;

/// `header` in lane [`REAL_LANE`] and, in the other lanes, `header` with
/// other values of version bits 13..17.
fn version_work(header: &HeaderTemplate, target: bitcoin::Target) -> VersionWork {
    let version = header.header.version.to_consensus();
    let mut midstates = [[0u32; 8]; VERSION_LANES];
    for (lane, m) in midstates.iter_mut().enumerate() {
        let mut h = *header;
        h.set_version(version ^ (((lane ^ REAL_LANE) as i32) << 13));
        *m = h.midstate();
    }
    VersionWork {
        midstates,
        tail: header.tail_words(),
        target: header.work_unit(target).target,
    }
}

/// The version-lane kernel's known-answer test: the real blocks found in
/// their lane among 31 other versions, and easy-target windows compared with
/// `soft` run on each version in turn.
fn version_self_test(kernel: &VersionKernel) -> Result<(), String> {
    for block in &KNOWN_BLOCKS {
        let header = block.header()?;
        let work = version_work(&header, header.block_target());
        let (first, last) = (block.nonce - 37, block.nonce + 40);
        let mut hits = Vec::new();
        kernel.sweep_versions(&work, first, last, &mut hits);
        if hits != [(REAL_LANE, block.nonce)] {
            return Err(format!(
                "{kernel:?}, {}: nonces {first}..={last} gave {hits:?}, expected [({REAL_LANE}, {})]",
                block.name, block.nonce
            ));
        }
    }
    let header = KNOWN_BLOCKS[1].header()?;
    let mut easy = version_work(&header, bitcoin::Target::MAX);
    easy.target = TargetWords([u32::MAX, u32::MAX, u32::MAX, u32::MAX, 0, 0, 0, 0x00ff_ffff]);
    let mut total = 0;
    for (first, last) in [(1000, 1100), (u32::MAX - 40, u32::MAX), (77, 77)] {
        let (mut got, mut want) = (Vec::new(), Vec::new());
        kernel.sweep_versions(&easy, first, last, &mut got);
        // `soft` sweeps the versions one by one, lane after lane.
        Backend::Soft.sweep_versions(&easy, first, last, &mut want);
        if got != want {
            return Err(format!(
                "{kernel:?}, nonces {first}..={last} at an easy target: found {got:?}, soft found {want:?}"
            ));
        }
        total += got.len();
    }
    if total == 0 {
        return Err("no hits at the easy target in version lanes".into());
    }
    Ok(())
}

/// The self-test result of `backend`, run once per process. Unsupported
/// backends fail without running anything.
pub fn self_test(backend: Backend) -> Result<(), String> {
    static RESULTS: [OnceLock<Result<(), String>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = Backend::ALL
        .iter()
        .position(|&b| b == backend)
        .expect("every backend is in ALL");
    RESULTS[slot]
        .get_or_init(|| {
            if !backend.is_supported() {
                return Err("not supported on this CPU".into());
            }
            let t0 = Instant::now();
            let r = run_self_test(backend);
            match &r {
                Ok(()) => tracing::debug!(%backend, ms = t0.elapsed().as_secs_f64() * 1e3, "self-test passed"),
                Err(e) => tracing::error!(%backend, error = %e, "SELF-TEST FAILED: this backend will not be used"),
            }
            r
        })
        .clone()
}

/// Hashes per second of each candidate on one thread, each measured in
/// `slices` short turns of `slice` taken in rotation (the best turn counts,
/// so a busy moment on a shared machine does not decide), in chunks of the
/// size the engine gives a worker.
pub fn calibrate(candidates: &[Candidate], slices: u32, slice: Duration) -> Vec<(Candidate, f64)> {
    let header = KNOWN_BLOCKS[0].header().expect("known block parses");
    let work = header.work_unit(bitcoin::Target::ZERO);
    let group = version_work(&header, bitcoin::Target::ZERO);
    let mut best = vec![0.0f64; candidates.len()];
    let (mut hits, mut lane_hits) = (Vec::new(), Vec::new());
    let mut nonce = 0u32;
    for _ in 0..slices {
        for (i, c) in candidates.iter().enumerate() {
            let chunk = crate::hashing::engine::chunk_nonces(c.backend());
            let t0 = Instant::now();
            let mut done = 0u64;
            while done == 0 || t0.elapsed() < slice {
                match c {
                    Candidate::Versions(k) => {
                        let n = chunk / VERSION_LANES as u32;
                        k.sweep_versions(&group, nonce, nonce + (n - 1), &mut lane_hits);
                    }
                    Candidate::Nonces(k) => k.sweep(&work, nonce, nonce + (chunk - 1), &mut hits),
                }
                done += chunk as u64;
                nonce = nonce.wrapping_add(chunk) & !(chunk - 1);
            }
            best[i] = best[i].max(done as f64 / t0.elapsed().as_secs_f64());
        }
    }
    candidates.iter().copied().zip(best).collect()
}

/// Candidates within this fraction of the best in the first round get a
/// second, longer one.
const CONTENDER: f64 = 0.85;

/// Turns each candidate gets in the first round and each contender in the
/// second. Many short turns rather than a few long ones: on a shared host
/// the SHA unit can be slowed for tens to hundreds of milliseconds at a
/// time (another guest on the core's sibling thread), which brings every
/// SHA-NI kernel down to the same rate, and a candidate whose turns all
/// fell in such a period lost. With 2 and 4 turns the fastest kernel was
/// chosen in 38 of 50 calibrations on the Zen 3 class host; with 4 and 20,
/// in 48 of 50 (docs/benchmarks.md).
const FIRST_TURNS: u32 = 4;
const CONTENDER_TURNS: u32 = 20;

/// Time `candidates` within `budget`: a short round for all, then a longer
/// one for those close to the best overall or to the best nonce kernel.
/// Fastest first.
fn calibrate_within(candidates: &[Candidate], budget: Duration) -> Vec<(Candidate, f64)> {
    let n = candidates.len().max(1) as u32;
    let mut rates = calibrate(candidates, FIRST_TURNS, budget * 2 / 5 / (FIRST_TURNS * n));
    let best = |rates: &[(Candidate, f64)], nonces_only: bool| {
        rates
            .iter()
            .filter(|(c, _)| !nonces_only || c.mode() == LaneMode::Nonces)
            .map(|&(_, r)| r)
            .fold(0.0, f64::max)
    };
    let (all, nonces) = (best(&rates, false), best(&rates, true));
    let contenders: Vec<Candidate> = rates
        .iter()
        .filter(|&&(c, r)| {
            r >= CONTENDER * all || (c.mode() == LaneMode::Nonces && r >= CONTENDER * nonces)
        })
        .map(|&(c, _)| c)
        .collect();
    if contenders.len() > 1 {
        let m = contenders.len() as u32;
        for (c, r) in calibrate(
            &contenders,
            CONTENDER_TURNS,
            budget * 3 / 5 / (CONTENDER_TURNS * m),
        ) {
            if let Some(slot) = rates.iter_mut().find(|(x, _)| *x == c) {
                slot.1 = r;
            }
        }
    }
    rates.sort_by(|a, b| b.1.total_cmp(&a.1));
    rates
}

/// The choice among measured candidates (fastest first): the fastest for
/// version-rolling jobs, the fastest nonce kernel for the others.
fn choose(rates: Vec<(Candidate, f64)>, what: &str) -> Selection {
    let rolling = rates[0].0;
    let nonces = rates
        .iter()
        .find_map(|(c, _)| match c {
            Candidate::Nonces(k) => Some(*k),
            Candidate::Versions(_) => None,
        })
        .unwrap_or_else(|| rolling.backend().nonce_kernels()[0]);
    let mut s = Selection {
        rolling,
        nonces,
        reason: String::new(),
        rates,
    };
    s.reason = format!(
        "fastest of {what} in a {} ms calibration on one thread: {} for version-rolling work, \
         {} without version rolling ({})",
        CALIBRATION_BUDGET.as_millis(),
        rolling.name(),
        nonces.name(),
        s.rates_line()
    );
    s
}

/// Resolve a `--backend` choice to a configuration that passed its
/// self-test, logging the choice and the reason. Calibration runs once per
/// process for each choice.
pub fn select(choice: BackendChoice) -> Selection {
    static CHOSEN: [OnceLock<Selection>; 5] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = match choice {
        BackendChoice::Auto => 0,
        BackendChoice::Fixed(b) => {
            1 + Backend::ALL
                .iter()
                .position(|&x| x == b)
                .expect("every backend is in ALL")
        }
    };
    let s = CHOSEN[slot]
        .get_or_init(|| select_with(choice, &self_test))
        .clone();
    tracing::info!(
        backend = %s.backend(),
        rolling = %s.rolling.name(),
        nonces = %s.nonces.name(),
        reason = %s.reason,
        "kernel choice"
    );
    s
}

/// [`select`] without its per-process cache and log line: calibrates again
/// at every call (the `latency` bench times this).
pub fn select_fresh(choice: BackendChoice) -> Selection {
    select_with(choice, &self_test)
}

type SelfTest<'a> = &'a dyn Fn(Backend) -> Result<(), String>;

/// [`select`] with the self-test passed in (so tests can make one fail).
fn select_with(choice: BackendChoice, test: SelfTest) -> Selection {
    match choice {
        BackendChoice::Fixed(b) => match test(b) {
            Ok(()) => within(b, "chosen with --backend"),
            Err(e) => {
                let next = fallback_after(b, test);
                tracing::error!(requested = %b, using = %next, error = %e, "requested backend failed its self-test; falling back");
                within(
                    next,
                    &format!("{b} failed its self-test ({e}); fell back to the next backend"),
                )
            }
        },
        BackendChoice::Auto => auto(test),
    }
}

/// The fastest configuration of one backend.
fn within(backend: Backend, why: &str) -> Selection {
    let candidates = Candidate::all_of(backend);
    if candidates.len() == 1 {
        return Selection::reference(backend, why.to_string());
    }
    let what = format!("{backend}'s {} kernels", candidates.len());
    let mut s = choose(calibrate_within(&candidates, CALIBRATION_BUDGET), &what);
    s.reason = format!("{why}; {}", s.reason);
    s
}

/// The first backend after `b` in [`Backend::ALL`] that is supported and
/// passes its self-test (`soft`, the oracle, at the latest).
fn fallback_after(b: Backend, test: SelfTest) -> Backend {
    Backend::ALL
        .iter()
        .copied()
        .skip_while(|&x| x != b)
        .skip(1)
        .find(|&x| x.is_supported() && test(x).is_ok())
        .unwrap_or(Backend::Soft)
}

fn auto(test: SelfTest) -> Selection {
    let passed: Vec<Backend> = Backend::available()
        .into_iter()
        .filter(|&b| b != Backend::Soft && test(b).is_ok())
        .collect();
    if passed.is_empty() {
        return Selection::reference(
            Backend::Soft,
            "no SIMD backend is available here (or none passed its self-test)".into(),
        );
    }
    let candidates: Vec<Candidate> = passed.iter().flat_map(|&b| Candidate::all_of(b)).collect();
    let names: Vec<&str> = passed.iter().map(|b| b.name()).collect();
    let what = format!(
        "{} configurations of {}",
        candidates.len(),
        names.join(", ")
    );
    choose(calibrate_within(&candidates, CALIBRATION_BUDGET), &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-test in which `bad` fails and everything else passes.
    fn failing(bad: Backend) -> impl Fn(Backend) -> Result<(), String> {
        move |b| {
            if b == bad {
                Err("simulated failure".into())
            } else {
                self_test(b)
            }
        }
    }

    #[test]
    fn every_available_backend_passes_its_self_test() {
        for b in Backend::available() {
            assert_eq!(self_test(b), Ok(()), "{b}");
        }
    }

    #[test]
    fn a_failing_backend_is_never_chosen() {
        // `soft`, the oracle, is the last resort and is not replaced.
        for bad in Backend::available()
            .into_iter()
            .filter(|&b| b != Backend::Soft)
        {
            let test = failing(bad);
            let fixed = select_with(BackendChoice::Fixed(bad), &test);
            assert_ne!(fixed.backend(), bad, "{fixed:?}");
            assert!(fixed.reason.contains("failed its self-test"), "{fixed:?}");
            // The next one in ALL order that is available here.
            let next = Backend::ALL
                .iter()
                .copied()
                .skip_while(|&x| x != bad)
                .skip(1)
                .find(|x| x.is_supported())
                .unwrap_or(Backend::Soft);
            assert_eq!(fixed.backend(), next);
            let auto = select_with(BackendChoice::Auto, &test);
            assert_ne!(auto.backend(), bad, "{auto:?}");
            assert!(
                auto.rates.iter().all(|(c, _)| c.backend() != bad),
                "{auto:?}"
            );
            assert_ne!(auto.nonces.backend, bad, "{auto:?}");
        }
    }

    /// Every kernel of every available backend gets a rate. How long
    /// calibration takes is measured by the `latency` criterion bench.
    #[test]
    fn calibration_measures_every_kernel() {
        let candidates: Vec<Candidate> = Backend::available()
            .into_iter()
            .flat_map(Candidate::all_of)
            .collect();
        let rates = calibrate(&candidates, 1, Duration::from_millis(1));
        assert_eq!(rates.len(), candidates.len());
        for ((c, r), want) in rates.iter().zip(&candidates) {
            assert_eq!(c, want);
            assert!(*r > 0.0, "{rates:?}");
        }
    }

    /// The fastest candidate mines version-rolling work, and the fastest
    /// nonce kernel the rest, whatever their backends and order.
    #[test]
    fn choice_follows_the_measured_rates() {
        let (fake, nonce) = (
            super::super::kernel::labelled_versions,
            super::super::kernel::labelled_nonces,
        );
        // Versions fastest: the nonce kernel is the best of the nonce ones.
        let s = choose(
            vec![
                (Candidate::Versions(fake(Backend::Avx512, "x32")), 40.0),
                (Candidate::Nonces(nonce(Backend::Avx512, "x16")), 35.0),
                (Candidate::Nonces(nonce(Backend::Shani, "x3")), 20.0),
            ],
            "three",
        );
        assert_eq!(s.rolling, Candidate::Versions(fake(Backend::Avx512, "x32")));
        assert_eq!(s.nonces, nonce(Backend::Avx512, "x16"));
        assert_eq!(s.backend(), Backend::Avx512);
        assert_eq!(s.for_job(false), Candidate::Nonces(s.nonces));
        assert!(s.reason.contains("avx512 versions x32"), "{}", s.reason);
        // Nonce lanes fastest: they mine version-rolling work too.
        let s = choose(
            vec![
                (Candidate::Nonces(nonce(Backend::Shani, "x4")), 50.0),
                (Candidate::Versions(fake(Backend::Avx512, "x16")), 45.0),
            ],
            "two",
        );
        assert_eq!(s.rolling, Candidate::Nonces(nonce(Backend::Shani, "x4")));
        assert_eq!(s.for_job(true), s.for_job(false));
        assert_eq!(s.backend(), Backend::Shani);
    }
}
