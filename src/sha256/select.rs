//! Which backend mines: self-tests, and the calibration behind `--backend auto`.
//!
//! This is the one place that decides. A backend mines only after its
//! known-answer self-test passed in this process: a SIMD kernel that
//! silently missed hits on some CPU would otherwise go unnoticed, since the
//! engine's re-check catches false hits but not missed ones. A backend that
//! fails is logged as an error and the next one (in [`Backend::ALL`] order)
//! is used instead. `auto` runs a short calibration because the fastest
//! backend differs between CPUs (AVX-512 beats SHA-NI on some, not others).

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bitcoin::{BlockHash, TxMerkleNode};

use super::{soft, Backend, BackendChoice, TargetWords, VersionWork, WorkUnit, VERSION_LANES};
use crate::header::HeaderTemplate;
use crate::pow;

/// The time `auto` may spend measuring, all backends together.
pub const CALIBRATION_BUDGET: Duration = Duration::from_millis(90);

/// The chosen backend and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub backend: Backend,
    /// Why this backend, in words (for logs and `bench`).
    pub reason: String,
    /// Calibration rates in hashes per second (empty unless `auto`).
    pub rates: Vec<(Backend, f64)>,
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

/// Compare `backend` with `soft` over `first..=last`; returns the hits.
fn agree_with_soft(
    backend: Backend,
    work: &WorkUnit,
    first: u32,
    last: u32,
) -> Result<Vec<u32>, String> {
    let (mut got, mut want) = (Vec::new(), Vec::new());
    backend.sweep(work, first, last, &mut got);
    soft::sweep(work, first, last, &mut want);
    if got != want {
        return Err(format!(
            "nonces {first}..={last} at an easy target: found {got:?}, soft found {want:?}"
        ));
    }
    Ok(got)
}

/// The known-answer test: windows around real blocks' nonces at their
/// real targets, and easy-target windows (including the end of the nonce
/// space and a single nonce) compared with `soft`.
fn run_self_test(backend: Backend) -> Result<(), String> {
    for block in &KNOWN_BLOCKS {
        let header = block.header()?;
        let work = header.work_unit(header.block_target());
        let (first, last) = (block.nonce - 37, block.nonce + 40);
        let mut hits = Vec::new();
        backend.sweep(&work, first, last, &mut hits);
        if hits != [block.nonce] {
            return Err(format!(
                "{}: nonces {first}..={last} gave {hits:?}, expected [{}]",
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
        total += agree_with_soft(backend, &easy, first, last)?.len();
    }
    if total == 0 {
        return Err("no hits at the easy target (neither kernel nor soft)".into());
    }
    if backend.shares_versions() {
        version_self_test(backend)?;
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
fn version_self_test(backend: Backend) -> Result<(), String> {
    for block in &KNOWN_BLOCKS {
        let header = block.header()?;
        let work = version_work(&header, header.block_target());
        let (first, last) = (block.nonce - 37, block.nonce + 40);
        let mut hits = Vec::new();
        backend.sweep_versions(&work, first, last, &mut hits);
        if hits != [(REAL_LANE, block.nonce)] {
            return Err(format!(
                "{} (version lanes): nonces {first}..={last} gave {hits:?}, expected [({REAL_LANE}, {})]",
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
        backend.sweep_versions(&easy, first, last, &mut got);
        // `soft` sweeps the versions one by one, lane after lane.
        Backend::Soft.sweep_versions(&easy, first, last, &mut want);
        if got != want {
            return Err(format!(
                "version lanes, nonces {first}..={last} at an easy target: found {got:?}, soft found {want:?}"
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

/// Hashes per second of `backend` on one thread, measured for about
/// `budget` in three short slices (the best slice counts, so a busy
/// moment on a shared machine does not decide).
pub fn calibrate(backend: Backend, budget: Duration) -> f64 {
    calibrate_all(&[backend], budget)[0].1
}

/// Each backend is timed the way it mines most work: backends with version
/// lanes on a group of versions (solo mining rolls versions by default and
/// most pools allow it), the others with nonces in their lanes.
fn calibrate_all(backends: &[Backend], budget: Duration) -> Vec<(Backend, f64)> {
    const SLICES: u32 = 3;
    let header = KNOWN_BLOCKS[0].header().expect("known block parses");
    let work = header.work_unit(bitcoin::Target::ZERO);
    let group = version_work(&header, bitcoin::Target::ZERO);
    let slice = budget / (SLICES * backends.len().max(1) as u32);
    let mut best = vec![0.0f64; backends.len()];
    let (mut hits, mut lane_hits) = (Vec::new(), Vec::new());
    let mut nonce = 0u32;
    for _ in 0..SLICES {
        for (i, &b) in backends.iter().enumerate() {
            // 1024 hashes per call, or 4096 for a group of versions, whose
            // per-call setup (32 midstates' worth of precomputation) would
            // otherwise weigh on the rate.
            let step = 1u32 << 10;
            let t0 = Instant::now();
            let mut done = 0u64;
            while t0.elapsed() < slice {
                if b.shares_versions() {
                    let n = 4 * step / VERSION_LANES as u32;
                    b.sweep_versions(&group, nonce, nonce + (n - 1), &mut lane_hits);
                    done += 4 * step as u64;
                } else {
                    b.sweep(&work, nonce, nonce + (step - 1), &mut hits);
                    done += step as u64;
                }
                nonce = nonce.wrapping_add(step) & !(step - 1);
            }
            let rate = done as f64 / t0.elapsed().as_secs_f64();
            best[i] = best[i].max(rate);
        }
    }
    backends.iter().copied().zip(best).collect()
}

/// Resolve a `--backend` choice to a backend that passed its self-test,
/// logging the choice and the reason.
pub fn select(choice: BackendChoice) -> Selection {
    static AUTO: OnceLock<Selection> = OnceLock::new();
    let s = match choice {
        BackendChoice::Auto => AUTO.get_or_init(|| select_with(choice, &self_test)).clone(),
        BackendChoice::Fixed(_) => select_with(choice, &self_test),
    };
    tracing::info!(backend = %s.backend, reason = %s.reason, "backend choice");
    s
}

type SelfTest<'a> = &'a dyn Fn(Backend) -> Result<(), String>;

/// [`select`] with the self-test passed in (so tests can make one fail).
fn select_with(choice: BackendChoice, test: SelfTest) -> Selection {
    match choice {
        BackendChoice::Fixed(b) => match test(b) {
            Ok(()) => Selection {
                backend: b,
                reason: "chosen with --backend".into(),
                rates: vec![],
            },
            Err(e) => {
                let next = fallback_after(b, test);
                tracing::error!(requested = %b, using = %next, error = %e, "requested backend failed its self-test; falling back");
                Selection {
                    backend: next,
                    reason: format!(
                        "{b} failed its self-test ({e}); fell back to the next backend"
                    ),
                    rates: vec![],
                }
            }
        },
        BackendChoice::Auto => auto(test),
    }
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
    match passed.len() {
        0 => Selection {
            backend: Backend::Soft,
            reason: "no SIMD backend is available here (or none passed its self-test)".into(),
            rates: vec![],
        },
        1 => Selection {
            backend: passed[0],
            reason: "the only SIMD backend available here that passed its self-test".into(),
            rates: vec![],
        },
        _ => {
            let mut rates = calibrate_all(&passed, CALIBRATION_BUDGET);
            rates.sort_by(|a, b| b.1.total_cmp(&a.1));
            let listed: Vec<String> = rates
                .iter()
                .map(|(b, r)| format!("{b} {}", crate::units::format_rate(*r)))
                .collect();
            Selection {
                backend: rates[0].0,
                reason: format!(
                    "fastest in a {} ms calibration on one thread (version lanes where the backend has them): {}",
                    CALIBRATION_BUDGET.as_millis(),
                    listed.join(", ")
                ),
                rates,
            }
        }
    }
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
            assert_ne!(fixed.backend, bad, "{fixed:?}");
            assert!(fixed.reason.contains("failed its self-test"), "{fixed:?}");
            // The next one in ALL order that is available here.
            let next = Backend::ALL
                .iter()
                .copied()
                .skip_while(|&x| x != bad)
                .skip(1)
                .find(|x| x.is_supported())
                .unwrap_or(Backend::Soft);
            assert_eq!(fixed.backend, next);
            let auto = select_with(BackendChoice::Auto, &test);
            assert_ne!(auto.backend, bad, "{auto:?}");
            assert!(auto.rates.iter().all(|&(b, _)| b != bad), "{auto:?}");
        }
    }

    /// Every available backend gets a rate. How long calibration takes is
    /// measured by the `calibration` criterion bench, not here.
    #[test]
    fn calibration_measures_every_backend() {
        let available = Backend::available();
        let rates = calibrate_all(&available, CALIBRATION_BUDGET);
        assert_eq!(
            rates.iter().map(|&(b, _)| b).collect::<Vec<_>>(),
            available,
            "{rates:?}"
        );
        assert!(rates.iter().all(|&(_, r)| r > 0.0), "{rates:?}");
    }
}
