//! Criterion benchmarks of how long the engine takes to react, not how fast
//! it hashes: the calibration that picks the configuration at start-up,
//! the switch from `Miner::set_job` to every worker hashing the new job,
//! and the way from a kernel's hit to the share leaving the engine.
//!
//! These were once asserts in tests; on a shared, loaded machine a wall
//! clock there fails for reasons that are not bugs, so they are measured
//! here. The engine runs the configuration calibration chose, on every
//! logical CPU, as it does when mining.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::Target;
use criterion::{criterion_group, criterion_main, Criterion};
use noncesweep::hashing::engine::{self, Miner, MinerConfig, SweepFn, SweepVersionsFn};
use noncesweep::hashing::sha256::{self, BackendChoice, Selection, VersionWork, WorkUnit};
use noncesweep::hashing::work::{Job, Share, BIP320_MASK};

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Two jobs that differ in their time field, so a work unit tells which
/// one it belongs to by its tail (word 1 is the time).
fn jobs(share_target: Target) -> [Arc<Job>; 2] {
    [0u32, 1].map(|i| {
        let mut job = engine::synthetic_job(share_target);
        job.version_mask = BIP320_MASK;
        job.time += i;
        Arc::new(job)
    })
}

/// The chosen configuration, wrapped so that each worker records the time
/// word of the work it is about to hash (one relaxed store per chunk).
fn tagging(s: &Selection, seen: Arc<Vec<AtomicU32>>) -> MinerConfig {
    let base = MinerConfig::from_selection(s, seen.len());
    let (sweep, versions) = (base.sweep.clone(), base.sweep_versions.clone());
    let tag = move |seen: &[AtomicU32], time: u32| {
        if let Some(i) = rayon::current_thread_index() {
            seen[i].store(time, Ordering::Relaxed);
        }
    };
    let seen1 = Arc::clone(&seen);
    let tagged: SweepFn = Arc::new(move |w: &WorkUnit, a, b, h: &mut Vec<u32>| {
        tag(&seen1, w.tail[1].swap_bytes());
        sweep(w, a, b, h)
    });
    let tagged_versions: Option<SweepVersionsFn> = versions.map(|v| {
        let f: SweepVersionsFn =
            Arc::new(move |w: &VersionWork, a, b, h: &mut Vec<(usize, u32)>| {
                tag(&seen, w.tail[1].swap_bytes());
                v(w, a, b, h)
            });
        f
    });
    MinerConfig {
        sweep: tagged,
        sweep_versions: tagged_versions,
        ..base
    }
}

fn calibration(c: &mut Criterion) {
    // The self-tests run once per process; this is the calibration alone.
    let _ = sha256::select(BackendChoice::Auto);
    let mut g = c.benchmark_group("latency");
    g.sample_size(10);
    g.bench_function("calibration (auto, every candidate)", |b| {
        b.iter(|| sha256::select_fresh(BackendChoice::Auto))
    });
    g.finish();
}

fn job_switch(c: &mut Criterion) {
    let s = sha256::select(BackendChoice::Auto);
    let n = threads();
    let seen: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
    let (tx, _rx) = std::sync::mpsc::channel();
    let miner = Miner::start(tagging(&s, Arc::clone(&seen)), tx).expect("miner");
    let jobs = jobs(Target::ZERO);
    miner.set_job(Some(Arc::clone(&jobs[0])));
    let mut next = 1;
    let mut g = c.benchmark_group("latency");
    g.bench_function(format!("set_job to all {n} workers on the new job"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let job = &jobs[next];
                let t0 = Instant::now();
                miner.set_job(Some(Arc::clone(job)));
                while seen.iter().any(|t| t.load(Ordering::Relaxed) != job.time) {
                    std::hint::spin_loop();
                }
                total += t0.elapsed();
                next ^= 1;
            }
            total
        })
    });
    g.finish();
    miner.stop();
}

fn hit_to_share(c: &mut Criterion) {
    let s = sha256::select(BackendChoice::Auto);
    // About one hash in 2^20 is a share: a hit every few chunks.
    let target = Target::from_be_bytes({
        let mut b = [0xff; 32];
        b[..2].copy_from_slice(&[0, 0]);
        b[2] = 0x0f;
        b
    });
    let base = MinerConfig::from_selection(&s, threads());
    // When the kernel returned its hits, by nonce.
    let returned: Arc<Mutex<Vec<(u32, Instant)>>> = Arc::default();
    let (r1, r2) = (Arc::clone(&returned), Arc::clone(&returned));
    let (sweep, versions) = (base.sweep.clone(), base.sweep_versions.clone());
    let config = MinerConfig {
        sweep: Arc::new(move |w: &WorkUnit, a, b, h: &mut Vec<u32>| {
            let start = h.len();
            sweep(w, a, b, h);
            if h.len() > start {
                let now = Instant::now();
                let mut r = r1.lock().expect("lock");
                r.extend(h[start..].iter().map(|&n| (n, now)));
            }
        }),
        sweep_versions: versions.map(|v| {
            let f: SweepVersionsFn =
                Arc::new(move |w: &VersionWork, a, b, h: &mut Vec<(usize, u32)>| {
                    let start = h.len();
                    v(w, a, b, h);
                    if h.len() > start {
                        let now = Instant::now();
                        let mut r = r2.lock().expect("lock");
                        r.extend(h[start..].iter().map(|&(_, n)| (n, now)));
                    }
                });
            f
        }),
        ..base
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let miner = Miner::start(config, tx).expect("miner");
    miner.set_job(Some(Arc::clone(&jobs(target)[0])));
    let counted = AtomicU64::new(0);
    let mut g = c.benchmark_group("latency");
    g.bench_function("kernel hit to share out of the engine", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += next_share(&rx, &returned);
                counted.fetch_add(1, Ordering::Relaxed);
            }
            total
        })
    });
    g.finish();
    miner.stop();
}

/// Wait for the next share and return how long after its kernel call
/// returned it came out of the engine.
fn next_share(rx: &Receiver<Share>, returned: &Mutex<Vec<(u32, Instant)>>) -> Duration {
    loop {
        let share = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a share within a minute");
        let out = Instant::now();
        let mut r = returned.lock().expect("lock");
        if let Some(i) = r.iter().position(|&(n, _)| n == share.header.header.nonce) {
            let (_, at) = r.swap_remove(i);
            r.retain(|&(_, t)| out.duration_since(t) < Duration::from_secs(10));
            return out.duration_since(at);
        }
    }
}

criterion_group!(benches, calibration, job_switch, hit_to_share);
criterion_main!(benches);
