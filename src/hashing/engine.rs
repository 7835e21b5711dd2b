//! The rayon-parallel nonce search.
//!
//! Two ways to drive it:
//! - [`Miner`] runs workers for as long as a work source feeds it jobs. The
//!   workers take chunks of about a millisecond of hashing from a shared
//!   cursor over (header variant, nonce range), so a new job reaches every
//!   thread within a chunk, and the nonce space of one extranonce2 rolls
//!   into the next automatically.
//! - [`search_lowest`] sweeps one header over a fixed nonce range and
//!   returns the lowest hit, the same whatever the thread count (`remine`).
//!
//! Every hit a kernel reports is re-checked with a full
//! `bitcoin::block::Header::block_hash()` before it becomes a [`Share`]: a
//! faulty kernel can cost speed, never a bad submission.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use bitcoin::Target;
use rayon::prelude::*;

use crate::hashing::header::HeaderTemplate;
use crate::hashing::pow;
use crate::hashing::sha256::{
    Backend, Candidate, NonceKernel, Selection, VersionWork, WorkUnit, VERSION_LANES,
};
use crate::hashing::work::{Job, Share, Variant, BIP320_MASK};

/// A failure to set up the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("--threads must be at least 1")]
    NoThreads,
    #[error("could not start the worker thread pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// Nonces per chunk for a backend: about a millisecond of one thread's work,
/// so that stop and job switches are noticed within ~1 ms. Rates per thread
/// on the reference machine (see docs/benchmarks.md): avx512 ~25 MH/s,
/// shani ~13 MH/s, avx2 ~9 MH/s, soft ~2 MH/s.
pub fn chunk_nonces(backend: Backend) -> u32 {
    match backend {
        Backend::Avx512 => 1 << 15,
        Backend::Shani => 1 << 14,
        Backend::Avx2 => 1 << 13,
        Backend::Soft => 1 << 11,
    }
}

/// Re-check a kernel's hit with the `bitcoin` crate's own header hash.
/// Returns the share if the hash meets `share_target`, else `None` (the
/// kernel was wrong).
pub fn verify_hit(
    job_id: &str,
    variant: &Variant,
    nonce: u32,
    share_target: Target,
    version_mask: u32,
) -> Option<Share> {
    let mut header = variant.header;
    header.set_nonce(nonce);
    let hash = header.block_hash();
    if !pow::meets(&hash, share_target) {
        return None;
    }
    Some(Share {
        job_id: job_id.to_string(),
        extranonce2: variant.extranonce2.clone(),
        is_block: pow::meets(&hash, header.block_target()),
        difficulty: pow::hash_difficulty(&hash),
        version_bits: header.header.version.to_consensus() as u32 & version_mask,
        header,
        hash,
    })
}

/// Hash counts per worker thread, padded so that threads do not share a
/// cache line.
#[derive(Debug)]
pub struct Counters {
    slots: Vec<Padded>,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

impl Counters {
    pub fn new(threads: usize) -> Self {
        Counters {
            slots: (0..threads).map(|_| Padded::default()).collect(),
        }
    }
    #[inline]
    pub fn add(&self, thread: usize, n: u64) {
        self.slots[thread].0.fetch_add(n, Ordering::Relaxed);
    }
    /// Hashes done so far by each thread.
    pub fn per_thread(&self) -> Vec<u64> {
        self.slots
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .collect()
    }
    pub fn total(&self) -> u64 {
        self.per_thread().iter().sum()
    }
}

/// The function that sweeps a range; a backend's kernel in production,
/// anything in tests (for example a kernel that lies).
pub type SweepFn = Arc<dyn Fn(&WorkUnit, u32, u32, &mut Vec<u32>) + Send + Sync>;

/// The function that sweeps a range for a group of rolled versions
/// (hits are `(lane, nonce)`); see [`Backend::sweep_versions`].
pub type SweepVersionsFn =
    Arc<dyn Fn(&VersionWork, u32, u32, &mut Vec<(usize, u32)>) + Send + Sync>;

static PIN_WORKERS: AtomicBool = AtomicBool::new(false);
/// The CPUs of a `--cpu-affinity MASK`, in order (empty: every core).
static PIN_CPUS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Pin every worker thread started from now on to its own CPU core
/// (`--cpu-affinity`): worker `i` runs on the `i`-th core the OS lists.
pub fn pin_workers(on: bool) {
    PIN_WORKERS.store(on, Ordering::Relaxed);
}

/// Pin every worker thread started from now on to one of `cpus` (the CPU
/// numbers of a cpuminer-style `--cpu-affinity MASK`), in turn: worker `i`
/// runs on `cpus[i % cpus.len()]`. An empty list pins nothing.
pub fn pin_workers_to(cpus: Vec<usize>) {
    let on = !cpus.is_empty();
    *PIN_CPUS.lock().unwrap_or_else(|e| e.into_inner()) = cpus;
    PIN_WORKERS.store(on, Ordering::Relaxed);
}

/// A rayon pool builder for `threads` workers, pinned when asked.
fn worker_pool(threads: usize) -> rayon::ThreadPoolBuilder {
    let builder = rayon::ThreadPoolBuilder::new().num_threads(threads);
    if !PIN_WORKERS.load(Ordering::Relaxed) {
        return builder;
    }
    let cpus = PIN_CPUS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let cores: Vec<core_affinity::CoreId> = if cpus.is_empty() {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        cpus.into_iter()
            .map(|id| core_affinity::CoreId { id })
            .collect()
    };
    builder.start_handler(move |i| {
        if cores.is_empty() {
            return;
        }
        let core = cores[i % cores.len()];
        if core_affinity::set_for_current(core) {
            tracing::debug!(worker = i, core = core.id, "worker pinned");
        } else {
            tracing::warn!(
                worker = i,
                core = core.id,
                "could not pin worker to its core"
            );
        }
    })
}

/// A job being mined, with the cursor the workers take chunks from.
struct Active {
    job: Arc<Job>,
    generation: u64,
    cursor: AtomicU64,
    /// Set by the first worker that finds the job's space used up (so the
    /// log says it once, not once per worker).
    exhausted: AtomicBool,
}

/// A cursor value at or above this marks a job taken away by
/// [`Miner::pause`]: a worker that draws it hashes nothing.
const CLOSED: u64 = 1 << 63;

struct Shared {
    current: RwLock<Option<Arc<Active>>>,
    generation: AtomicU64,
    stop: AtomicBool,
    wake: (Mutex<()>, Condvar),
    counters: Counters,
    false_hits: AtomicU64,
    shares: Mutex<Sender<Share>>,
    sweep: SweepFn,
    sweep_versions: Option<SweepVersionsFn>,
    chunk: u32,
}

/// Long-running workers that mine whatever job they are given.
pub struct Miner {
    shared: Arc<Shared>,
    done: Receiver<()>,
    threads: usize,
    _pool: rayon::ThreadPool,
}

/// Options for a [`Miner`].
#[derive(Clone)]
pub struct MinerConfig {
    pub threads: usize,
    /// Hashes per chunk (a power of two, at least [`VERSION_LANES`]).
    pub chunk: u32,
    pub sweep: SweepFn,
    /// The version-group kernel, used for jobs whose rolling mask allows
    /// groups ([`Job::has_version_groups`]); `None` sweeps every header
    /// with `sweep`, one after another.
    pub sweep_versions: Option<SweepVersionsFn>,
}

impl MinerConfig {
    /// Workers that run `backend` on `threads` threads.
    pub fn new(backend: Backend, threads: usize) -> Self {
        MinerConfig {
            threads,
            chunk: chunk_nonces(backend),
            sweep: Arc::new(move |w: &WorkUnit, a, b, hits: &mut Vec<u32>| {
                backend.sweep(w, a, b, hits)
            }),
            sweep_versions: backend.shares_versions().then(|| {
                let f: SweepVersionsFn =
                    Arc::new(move |w: &VersionWork, a, b, hits: &mut Vec<(usize, u32)>| {
                        backend.sweep_versions(w, a, b, hits)
                    });
                f
            }),
        }
    }

    /// Workers that run the configuration calibration chose: its
    /// version kernel for jobs that allow version groups (unless nonce
    /// lanes were faster here), its fastest nonce kernel for the others.
    pub fn from_selection(selection: &Selection, threads: usize) -> Self {
        MinerConfig::with_kernels(selection.nonces, selection.rolling, threads)
    }

    /// Workers that run `rolling` on jobs that allow version groups and
    /// `nonces` on the others (`rolling` may itself be a nonce kernel).
    pub fn with_kernels(nonces: NonceKernel, rolling: Candidate, threads: usize) -> Self {
        let sweep: SweepFn =
            Arc::new(move |w: &WorkUnit, a, b, hits: &mut Vec<u32>| nonces.sweep(w, a, b, hits));
        let sweep_versions = match rolling {
            Candidate::Versions(k) => {
                let f: SweepVersionsFn =
                    Arc::new(move |w: &VersionWork, a, b, hits: &mut Vec<(usize, u32)>| {
                        k.sweep_versions(w, a, b, hits)
                    });
                Some(f)
            }
            Candidate::Nonces(_) => None,
        };
        MinerConfig {
            threads,
            chunk: chunk_nonces(rolling.backend()),
            sweep,
            sweep_versions,
        }
    }
}

impl Miner {
    /// Start the workers, idle until [`Miner::set_job`]. Verified shares
    /// are sent on `shares`.
    pub fn start(config: MinerConfig, shares: Sender<Share>) -> Result<Miner, EngineError> {
        if config.threads == 0 {
            return Err(EngineError::NoThreads);
        }
        assert!(
            config.chunk.is_power_of_two() && config.chunk as usize >= VERSION_LANES,
            "chunk must be a power of two of at least {VERSION_LANES}"
        );
        let pool = worker_pool(config.threads)
            .thread_name(|i| format!("noncesweep-worker-{i}"))
            .build()?;
        let shared = Arc::new(Shared {
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
            counters: Counters::new(config.threads),
            false_hits: AtomicU64::new(0),
            shares: Mutex::new(shares),
            sweep: config.sweep,
            sweep_versions: config.sweep_versions,
            chunk: config.chunk,
        });
        let (done_tx, done) = std::sync::mpsc::channel();
        let s = Arc::clone(&shared);
        pool.spawn_broadcast(move |ctx| {
            worker(&s, ctx.index());
            let _ = done_tx.send(());
        });
        Ok(Miner {
            shared,
            done,
            threads: config.threads,
            _pool: pool,
        })
    }

    /// Replace the job (or go idle with `None`). Shares of a chunk of the
    /// older job that was being hashed are still sent: the work source
    /// decides whether that job is still good.
    pub fn set_job(&self, job: Option<Arc<Job>>) {
        self.install(job.map(|job| (job, 0)));
    }

    /// Mine `job` from cursor position `cursor` on (a position that
    /// [`Miner::pause`] returned), so that nothing already hashed is hashed
    /// again.
    pub fn resume(&self, job: Arc<Job>, cursor: u64) {
        self.install(Some((job, cursor.min(CLOSED - 1))));
    }

    /// Stop hashing; return the job that was being mined and the cursor
    /// position where it stopped. Every chunk before that position has
    /// been handed to a worker (its shares are still sent); none after it.
    pub fn pause(&self) -> Option<(Arc<Job>, u64)> {
        let old = self.install(None)?;
        let cursor = old.cursor.swap(CLOSED, Ordering::SeqCst);
        Some((Arc::clone(&old.job), cursor.min(CLOSED - 1)))
    }

    /// Put `job` (at its cursor position) in place; return the job it
    /// replaces.
    fn install(&self, job: Option<(Arc<Job>, u64)>) -> Option<Arc<Active>> {
        let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let active = job.map(|(job, cursor)| {
            Arc::new(Active {
                job,
                generation,
                cursor: AtomicU64::new(cursor),
                exhausted: AtomicBool::new(false),
            })
        });
        let old = std::mem::replace(
            &mut *self
                .shared
                .current
                .write()
                .unwrap_or_else(|e| e.into_inner()),
            active,
        );
        let _g = self.shared.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.wake.1.notify_all();
        old
    }

    /// Hash counts so far.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// A reader of the per-thread hash counts that can be kept apart from
    /// the miner (for example by a stats reporter thread).
    pub fn hash_counts(&self) -> impl Fn() -> Vec<u64> + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.counters.per_thread()
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Kernel hits that failed the full re-check (should stay zero).
    pub fn false_hits(&self) -> u64 {
        self.shared.false_hits.load(Ordering::Relaxed)
    }

    /// Stop every worker and wait for them (each stops within one chunk).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _g = self.shared.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.1.notify_all();
        }
        for _ in 0..self.threads {
            let _ = self.done.recv_timeout(Duration::from_secs(5));
        }
    }
}

/// What a worker hashes: one header, or a group of rolled versions of one.
enum Unit {
    One(Variant, WorkUnit),
    Versions(Vec<Variant>, Box<VersionWork>),
}

impl Unit {
    /// Unit `index` of `job`: variant `index`, or version group `index`.
    fn of(job: &Job, index: u64, grouped: bool) -> Option<Unit> {
        if grouped {
            let variants = job.version_group(index)?;
            let first = variants[0].header.work_unit(job.share_target);
            let work = Box::new(VersionWork {
                midstates: std::array::from_fn(|i| variants[i].header.midstate()),
                tail: first.tail,
                target: first.target,
            });
            Some(Unit::Versions(variants, work))
        } else {
            let v = job.variant(index)?;
            let work = v.header.work_unit(job.share_target);
            Some(Unit::One(v, work))
        }
    }
}

fn worker(s: &Shared, thread: usize) {
    let mut hits = Vec::new();
    let mut lane_hits = Vec::new();
    // The unit this thread hashed last, reused while it lasts.
    let mut cached: Option<(u64, u64, Unit)> = None;
    let mut exhausted_generation = u64::MAX;
    while !s.stop.load(Ordering::Relaxed) {
        let active = s.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(active) = active else {
            idle(s);
            continue;
        };
        if active.generation == exhausted_generation {
            idle(s);
            continue;
        }
        let job = &active.job;
        // A chunk is `s.chunk` hashes either way: that many nonces of one
        // header, or a 32nd as many nonces of a group of 32 versions.
        let sweep_versions = s
            .sweep_versions
            .as_ref()
            .filter(|_| job.has_version_groups());
        let nonces = if sweep_versions.is_some() {
            s.chunk / VERSION_LANES as u32
        } else {
            s.chunk
        };
        let chunks_per_unit = (1u64 << 32) / nonces as u64;
        let c = active.cursor.fetch_add(1, Ordering::Relaxed);
        if c >= CLOSED {
            // Paused: this job is no longer current.
            continue;
        }
        let index = c / chunks_per_unit;
        let first = ((c % chunks_per_unit) * nonces as u64) as u32;
        let last = first + (nonces - 1);
        let fresh = matches!(&cached, Some((g, i, _)) if *g == active.generation && *i == index);
        if !fresh {
            match Unit::of(job, index, sweep_versions.is_some()) {
                Some(unit) => cached = Some((active.generation, index, unit)),
                None => {
                    exhausted_generation = active.generation;
                    if !active.exhausted.swap(true, Ordering::Relaxed) {
                        tracing::warn!(job = %job.id, "job's extranonce2 space is exhausted; waiting for new work");
                    }
                    continue;
                }
            }
        }
        let (_, _, unit) = cached.as_ref().expect("set above");
        // Allocates only when there is a hit.
        let mut found: Vec<(&Variant, u32)> = Vec::new();
        match (unit, sweep_versions) {
            (Unit::Versions(variants, work), Some(sweep)) => {
                lane_hits.clear();
                sweep(work, first, last, &mut lane_hits);
                found.extend(
                    lane_hits
                        .iter()
                        .filter_map(|&(lane, nonce)| Some((variants.get(lane)?, nonce))),
                );
            }
            (Unit::One(variant, work), _) => {
                hits.clear();
                (s.sweep)(work, first, last, &mut hits);
                found.extend(hits.iter().map(|&nonce| (variant, nonce)));
            }
            (Unit::Versions(..), None) => unreachable!("groups are built only with a group kernel"),
        }
        s.counters.add(thread, s.chunk as u64);
        if found.is_empty() {
            continue;
        }
        let shares: Vec<Share> = found
            .iter()
            .filter_map(|&(variant, nonce)| {
                let share = verify_hit(&job.id, variant, nonce, job.share_target, job.version_mask);
                if share.is_none() {
                    s.false_hits.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(nonce, job = %job.id, "kernel reported a hit that does not meet the target; dropped");
                }
                share
            })
            .collect();
        // Sent even if a newer job was installed meanwhile: the job may
        // still be valid at its source (a pool's `clean_jobs = false`), and
        // the source counts the share as stale if not, so none vanishes.
        let tx = s.shares.lock().unwrap_or_else(|e| e.into_inner());
        for share in shares {
            let _ = tx.send(share);
        }
    }
}

fn idle(s: &Shared) {
    let g = s.wake.0.lock().unwrap_or_else(|e| e.into_inner());
    let _ = s.wake.1.wait_timeout(g, Duration::from_millis(20));
}

/// The outcome of a [`search_lowest`] sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchResult {
    /// The lowest nonce in the range that meets the target, if any.
    pub nonce: Option<u32>,
    /// Hashes computed (a little more than strictly needed: whole waves).
    pub hashes: u64,
}

/// Sweep `from..=to` of one header with `threads` threads and return the
/// lowest nonce that meets `work.target`. The range is cut into waves of
/// `threads x 4` chunks swept in parallel; the first wave with a hit ends
/// the search, so the answer does not depend on scheduling or thread count.
/// `progress` is told the hashes done after every wave.
pub fn search_lowest(
    backend: Backend,
    threads: usize,
    work: &WorkUnit,
    from: u32,
    to: u32,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<SearchResult, EngineError> {
    if threads == 0 {
        return Err(EngineError::NoThreads);
    }
    let pool = worker_pool(threads).build()?;
    let chunk = chunk_nonces(backend).max(1 << 14) as u64;
    let wave = chunk * threads as u64 * 4;
    let (from, to) = (from as u64, to as u64);
    let mut hashes = 0u64;
    let mut start = from;
    let result = pool.install(|| {
        while start <= to && !cancel.load(Ordering::Relaxed) {
            let end = (start + wave - 1).min(to);
            let chunks: Vec<(u64, u64)> = (start..=end)
                .step_by(chunk as usize)
                .map(|a| (a, (a + chunk - 1).min(end)))
                .collect();
            let lowest = chunks
                .par_iter()
                .filter_map(|&(a, b)| {
                    let mut hits = Vec::new();
                    backend.sweep(work, a as u32, b as u32, &mut hits);
                    hits.into_iter().min()
                })
                .min();
            hashes += end - start + 1;
            progress(hashes);
            if lowest.is_some() {
                return lowest;
            }
            start = end + 1;
        }
        None
    });
    Ok(SearchResult {
        nonce: result,
        hashes,
    })
}

/// Sweep a job's first header for `duration` on a [`Miner`] with an
/// unreachable target, and return hashes per thread and the time taken.
/// This is the benchmark's measurement.
pub fn measure(
    config: MinerConfig,
    duration: Duration,
) -> Result<(Vec<u64>, Duration), EngineError> {
    measure_live(config, duration, None)
}

/// Hash counts of a series of measurements as they run, summed per thread
/// index, so a status line or the monitoring API can watch a benchmark.
#[derive(Debug, Default)]
pub struct LiveCounts {
    done: Mutex<Vec<u64>>,
    current: Mutex<Vec<u64>>,
}

impl LiveCounts {
    /// Hashes per thread index so far, finished measurements included.
    pub fn per_thread(&self) -> Vec<u64> {
        // Both locks held (always `done` first, as in `finish`), so a
        // measurement moving from `current` to `done` is never seen half
        // done: the counts only go up.
        let done_guard = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let done = done_guard.clone();
        let cur = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        drop(done_guard);
        let n = done.len().max(cur.len());
        (0..n)
            .map(|i| done.get(i).copied().unwrap_or(0) + cur.get(i).copied().unwrap_or(0))
            .collect()
    }

    fn update(&self, counts: Vec<u64>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = counts;
    }

    fn finish(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let cur = std::mem::take(&mut *self.current.lock().unwrap_or_else(|e| e.into_inner()));
        if done.len() < cur.len() {
            done.resize(cur.len(), 0);
        }
        for (d, c) in done.iter_mut().zip(cur) {
            *d += c;
        }
    }
}

/// [`measure`], publishing the counts to `live` every 100 ms, and ending
/// early when a stop is requested (Ctrl-C).
pub fn measure_live(
    config: MinerConfig,
    duration: Duration,
    live: Option<&LiveCounts>,
) -> Result<(Vec<u64>, Duration), EngineError> {
    let (tx, _rx) = std::sync::mpsc::channel();
    let miner = Miner::start(config, tx)?;
    // Rolling versions as solo mining (and most pools) allow; a config
    // without a group kernel sweeps the versions one after another.
    let mut job = synthetic_job(Target::ZERO);
    job.version_mask = BIP320_MASK;
    let t0 = Instant::now();
    miner.set_job(Some(Arc::new(job)));
    while t0.elapsed() < duration && !crate::shutdown::requested() {
        std::thread::sleep((duration.saturating_sub(t0.elapsed())).min(Duration::from_millis(100)));
        if let Some(live) = live {
            live.update(miner.counters().per_thread());
        }
    }
    let counts = miner.counters().per_thread();
    let elapsed = t0.elapsed();
    miner.stop();
    if let Some(live) = live {
        live.update(counts.clone());
        live.finish();
    }
    Ok((counts, elapsed))
}

/// A job built from fixed, made-up data (for benchmarks and tests).
pub fn synthetic_job(share_target: Target) -> Job {
    use bitcoin::hashes::{sha256d, Hash};
    Job {
        id: "synthetic".into(),
        version: 0x2000_0000,
        version_mask: 0,
        prev_hash: bitcoin::BlockHash::from_raw_hash(sha256d::Hash::hash(
            b"noncesweep synthetic prev",
        )),
        coinbase: crate::hashing::coinbase::CoinbaseParts {
            coinb1: b"noncesweep synthetic coinbase, part one".to_vec(),
            coinb2: b"part two".to_vec(),
        },
        extranonce1: vec![0xde, 0xad, 0xbe, 0xef],
        extranonce2_size: 8,
        extranonce2_start: 0,
        merkle_branch: vec![],
        merkle_root: None,
        time: 1_700_000_000,
        bits: 0x1d00ffff,
        share_target,
    }
}

/// Hash a header at `nonce` with a backend's kernel and the given target,
/// returning whether the kernel reports it (for self-tests and teaching).
pub fn kernel_hits_at(
    backend: Backend,
    header: &HeaderTemplate,
    target: Target,
    nonce: u32,
) -> bool {
    let mut hits = Vec::new();
    backend.sweep(&header.work_unit(target), nonce, nonce, &mut hits);
    hits == [nonce]
}
