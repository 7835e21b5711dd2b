//! The pool client and the engine in-process, against the test pool
//! (`tests/testpool/`), where a test needs to hold the engine at a chosen
//! point: a kernel that stops inside a chunk with hits in hand, so that a
//! new job, a difficulty or a clean notify arrives while shares of the
//! older job are still on their way, every time; and kernels that report a
//! hit per header, so that a job's whole extranonce2 space can be walked
//! and its exhaustion seen.
//!
//! Logs are captured (one subscriber for the binary) and the tests run one
//! at a time, so a test can wait for the client to say it has taken a
//! line before the kernel goes on.

mod testpool;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bitcoin::Target;
use noncesweep::hashing::engine::{Miner, MinerConfig, SweepFn, SweepVersionsFn};
use noncesweep::hashing::sha256::Backend;
use noncesweep::hashing::work::{Job, Share};
use noncesweep::report::stats::Stats;
use noncesweep::sources::accounting::ShareStats;
use noncesweep::sources::pools;
use noncesweep::sources::stratum::session::SessionConfig;
use noncesweep::sources::sv2::session::Sv2Settings;
use serde_json::Value;
use testpool::{Dir, PoolConfig, TestPool};

const LONG: Duration = Duration::from_secs(120);

/// The log of the whole binary (tests run one at a time, see [`serial`]).
fn log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&log().lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// One test at a time, each with an empty log.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    log().lock().unwrap_or_else(|e| e.into_inner()).clear();
    guard
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let until = Instant::now() + LONG;
    while !cond() {
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}; log:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A kernel (the portable one) that, when asked, stops inside the first
/// chunk that has hits, holding them until released.
#[derive(Default)]
struct Gate {
    hold: AtomicBool,
    held: AtomicUsize,
    release: AtomicBool,
}

impl Gate {
    fn kernel(self: &Arc<Self>) -> SweepFn {
        let gate = Arc::clone(self);
        Arc::new(move |w, first, last, hits| {
            Backend::Soft.sweep(w, first, last, hits);
            if !hits.is_empty() && gate.hold.swap(false, Ordering::SeqCst) {
                gate.held.store(hits.len(), Ordering::SeqCst);
                while !gate.release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    }
}

/// Sets the flag when dropped (also when the test body panics), so the
/// session stops and the panic is seen.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Run the pool client for `pool` with `miner` on this thread while
/// `body` runs on another; return the client's counters.
fn with_session(
    pool: &TestPool,
    miner: &Miner,
    shares: &Receiver<Share>,
    body: impl FnOnce(&Arc<Mutex<ShareStats>>) + Send,
) -> ShareStats {
    let cfg = SessionConfig::new(
        vec![pool.url().parse().unwrap()],
        "tester.session".into(),
        "x".into(),
    );
    let stats = Arc::new(Mutex::new(ShareStats::default()));
    let report = Stats::new("pool");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let driver = scope.spawn(|| {
            let _stop = SetOnDrop(&stop);
            body(&stats);
        });
        // The test pool speaks v1 only: the V2 settings go unused.
        let sv2 = Sv2Settings::new(0.0);
        let r = pools::run(
            &cfg,
            sv2,
            miner,
            shares,
            Arc::clone(&stats),
            &report,
            &|| stop.load(Ordering::SeqCst),
        );
        if let Err(panic) = driver.join() {
            std::panic::resume_unwind(panic);
        }
        r.expect("session");
    });
    let st = stats.lock().unwrap().clone();
    st
}

/// What the pool is made to do while the kernel holds shares of the job
/// being mined.
#[derive(Clone, Copy, Debug)]
enum Next {
    /// `mining.notify` with `clean_jobs = false`.
    NotClean,
    /// `mining.notify` with `clean_jobs = true`.
    Clean,
    /// `mining.set_difficulty` alone (it applies from the next job).
    Difficulty(f64),
    /// `mining.set_difficulty`, then a notify with `clean_jobs = false`.
    DifficultyThenNotify(f64),
}

/// Submits the pool received after `t`, with their job ids.
fn submits_after(pool: &TestPool, t: Instant) -> Vec<String> {
    pool.events()
        .into_iter()
        .filter(|e| e.dir == Dir::In && e.t > t)
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.line).ok()?;
            (v["method"] == "mining.submit").then(|| v["params"][1].as_str().unwrap_or("").into())
        })
        .collect()
}

/// Hold shares of the first job in the kernel, make the pool do `next`,
/// wait until the client has taken it, then let the shares go. Returns
/// the client's counters, the old job's id, how many shares were held,
/// and when the client had taken `next`.
fn hold_shares_across(next: Next) -> (TestPool, ShareStats, String, usize, Instant) {
    let pool = TestPool::start(PoolConfig::default());
    let gate = Arc::new(Gate::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let miner = Miner::start(
        MinerConfig {
            threads: 1,
            chunk: 1 << 12,
            sweep: gate.kernel(),
            sweep_versions: None,
        },
        tx,
    )
    .unwrap();
    let mut out = (String::new(), 0, Instant::now());
    let stats = with_session(&pool, &miner, &rx, |stats| {
        pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
        let old = pool.accepted()[0].job_id.clone();
        gate.hold.store(true, Ordering::SeqCst);
        wait_until("a chunk with hits held", || {
            gate.held.load(Ordering::SeqCst) > 0
        });
        let lines_with = |text: &str| log_text().lines().filter(|l| l.contains(text)).count();
        // What the client logs once it has taken the pool's line, and how
        // often the log (shared by the test's runs) says it already.
        let (taken, before) = match next {
            Next::NotClean | Next::Clean | Next::DifficultyThenNotify(_) => {
                let text = "new job job=";
                let before = lines_with(text);
                if let Next::DifficultyThenNotify(d) = next {
                    pool.set_difficulty(d);
                }
                pool.notify(matches!(next, Next::Clean));
                (text, before)
            }
            Next::Difficulty(d) => {
                let text = "difficulty for the next job";
                let before = lines_with(text);
                pool.set_difficulty(d);
                (text, before)
            }
        };
        wait_until("the client to take the pool's line", || {
            lines_with(taken) > before
        });
        let taken_at = Instant::now();
        gate.release.store(true, Ordering::SeqCst);
        let held = gate.held.load(Ordering::SeqCst);
        match next {
            Next::NotClean | Next::Difficulty(_) => {
                pool.wait_for("a share of the older job, submitted after", LONG, |p| {
                    submits_after(p, taken_at).contains(&old)
                });
                pool.wait_for("it accepted", LONG, |p| {
                    p.accepted()
                        .iter()
                        .any(|a| a.job_id == old && a.t > taken_at)
                });
            }
            Next::Clean | Next::DifficultyThenNotify(_) => {
                wait_until("the held shares counted stale", || {
                    stats.lock().unwrap().stale >= held as u64
                });
                let have = pool.accepted().len();
                pool.wait_for("shares of the new job", LONG, |p| {
                    p.accepted().len() >= have + 3
                });
            }
        }
        out = (old, held, taken_at);
    });
    (pool, stats, out.0, out.1, out.2)
}

/// Every share the engine found ended accepted, rejected or stale.
fn assert_accounted(st: &ShareStats) {
    assert_eq!(
        st.found,
        st.accepted + st.rejected + st.stale,
        "{}",
        st.summary()
    );
    assert_eq!(st.rejected, 0, "{}", st.summary());
}

#[test]
fn shares_of_a_job_still_valid_are_submitted_after_a_notify_that_is_not_clean() {
    let _serial = serial();
    let (pool, st, old, held, _) = hold_shares_across(Next::NotClean);
    assert!(held > 0);
    assert_accounted(&st);
    assert!(pool.rejected().is_empty(), "{:?}", pool.rejected());
    assert!(pool.accepted().iter().any(|a| a.job_id == old));
}

#[test]
fn shares_of_a_job_abandoned_by_clean_jobs_are_counted_stale_never_submitted() {
    let _serial = serial();
    let (pool, st, old, held, taken_at) = hold_shares_across(Next::Clean);
    assert!(st.stale >= held as u64, "{}", st.summary());
    assert_accounted(&st);
    let late: Vec<String> = submits_after(&pool, taken_at)
        .into_iter()
        .filter(|j| *j == old)
        .collect();
    assert!(late.is_empty(), "old-job shares submitted: {late:?}");
}

#[test]
fn difficulty_changed_mid_job_applies_to_the_next_job_only() {
    let _serial = serial();
    for d in [2e-5, 5e-6] {
        // Raised or lowered: the job being mined keeps its difficulty, so
        // its shares (found at the old one) go, and are accepted.
        let (pool, st, old, _, _) = hold_shares_across(Next::Difficulty(d));
        assert_accounted(&st);
        assert!(pool.rejected().is_empty(), "{d}: {:?}", pool.rejected());
        assert!(pool.accepted().iter().any(|a| a.job_id == old));
    }
}

#[test]
fn difficulty_changed_then_a_new_job_retires_the_older_jobs() {
    let _serial = serial();
    for d in [1e-4, 2e-6] {
        // Raised, then lowered: either way the older job's shares are
        // stale once the job with the new difficulty comes.
        let (pool, st, old, held, taken_at) = hold_shares_across(Next::DifficultyThenNotify(d));
        assert!(st.stale >= held as u64, "{}", st.summary());
        assert_accounted(&st);
        assert!(
            !submits_after(&pool, taken_at).contains(&old),
            "difficulty {d}: old-job share submitted"
        );
        assert!(pool.rejected().is_empty(), "{:?}", pool.rejected());
    }
}

/// A job over a tiny space: `size` bytes of extranonce2 from `start`, the
/// version rolled within `mask`, every hash a share.
fn tiny_job(name: &str, size: usize, start: u64, mask: u32) -> Job {
    let mut job = noncesweep::hashing::engine::synthetic_job(Target::from_le_bytes([0xff; 32]));
    job.id = name.to_string();
    job.extranonce2_size = size;
    job.extranonce2_start = start;
    job.version_mask = mask;
    job
}

/// Kernels that report one hit per header, at nonce 0 (each chunk is half
/// of the 2^32 nonces, or a 64th for a group of 32 versions): each header
/// the engine hashes becomes exactly one share. With `lanes`, only those
/// lanes of a version group report.
fn one_hit_per_header(threads: usize, groups: Option<Vec<usize>>) -> MinerConfig {
    let sweep: SweepFn = Arc::new(|_, first, _, hits| {
        if first == 0 {
            hits.push(0);
        }
    });
    let sweep_versions = groups.map(|lanes| {
        let f: SweepVersionsFn = Arc::new(move |_, first, _, hits| {
            if first == 0 {
                hits.extend(lanes.iter().map(|&l| (l, 0)));
            }
        });
        f
    });
    MinerConfig {
        threads,
        chunk: 1 << 31,
        sweep,
        sweep_versions,
    }
}

/// Mine `job` until the engine says its space is exhausted; return every
/// (extranonce2, version) hashed, as the shares report them.
fn walk_to_exhaustion(job: Job, config: MinerConfig) -> Vec<(Vec<u8>, i32)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let miner = Miner::start(config, tx).unwrap();
    let id = job.id.clone();
    miner.set_job(Some(Arc::new(job)));
    wait_until("the exhaustion", || exhaustion_lines(&id) > 0);
    // Dropping the miner waits for its workers: every share is sent.
    drop(miner);
    rx.try_iter()
        .map(|s| (s.extranonce2, s.header.header.version.to_consensus()))
        .collect()
}

/// Log lines saying job `id` is exhausted.
fn exhaustion_lines(id: &str) -> usize {
    let field = format!("job={id}");
    log_text()
        .lines()
        .filter(|l| l.contains("exhausted") && l.trim_end().ends_with(&field))
        .count()
}

fn counter(en2: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = en2.len().min(8);
    b[..n].copy_from_slice(&en2[..n]);
    u64::from_le_bytes(b)
}

#[test]
fn small_extranonce2_spaces_are_used_whole_then_exhausted_once() {
    let _serial = serial();
    // (size, start, mask, group kernel lanes): without rolling, with a
    // mask too narrow for groups (4 versions), and with version groups.
    let cases: Vec<(usize, u64, u32, Option<Vec<usize>>)> = vec![
        (1, 200, 0, None),
        (1, 7, 0x0000_6000, None),
        (1, 255, 0x0003_e000, Some((0..32).collect())),
        (2, 60_000, 0, None),
        (2, 1, 0x0000_6000, None),
        (2, 65_535, 0x0003_e000, Some(vec![0, 31])),
    ];
    for (size, start, mask, lanes) in cases {
        let name = format!("tiny-{size}-{mask:x}-{}", lanes.is_some());
        let job = tiny_job(&name, size, start, mask);
        let versions_per = 1usize << mask.count_ones();
        let reported_per = lanes.as_ref().map_or(versions_per, Vec::len);
        let hashed = walk_to_exhaustion(job, one_hit_per_header(2, lanes));
        let space = 1usize << (8 * size);
        // Every (extranonce2, version) exactly once...
        let distinct: HashSet<&(Vec<u8>, i32)> = hashed.iter().collect();
        assert_eq!(
            distinct.len(),
            hashed.len(),
            "{name}: a header hashed twice"
        );
        assert_eq!(hashed.len(), space * reported_per, "{name}");
        // ... and every extranonce2 value of the space, from the start
        // round through 0, each with all its versions.
        let mut per_value: HashMap<u64, usize> = HashMap::new();
        for (en2, _) in &hashed {
            assert_eq!(en2.len(), size);
            *per_value.entry(counter(en2)).or_default() += 1;
        }
        assert_eq!(per_value.len(), space, "{name}: values left unused");
        assert!(per_value.values().all(|&n| n == reported_per), "{name}");
        // Said once, not once per worker.
        let said = exhaustion_lines(&name);
        assert_eq!(said, 1, "{name}: exhaustion logged {said} times");
    }
}

#[test]
fn wide_extranonce2_counters_wrap_through_zero() {
    let _serial = serial();
    for size in [4usize, 8] {
        let max = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * size)) - 1
        };
        for (mask, lanes) in [(0u32, None), (0x0003_e000, Some(vec![0]))] {
            let job = tiny_job(&format!("wide-{size}-{mask:x}"), size, max - 9, mask);
            let (tx, rx) = std::sync::mpsc::channel();
            let miner = Miner::start(one_hit_per_header(1, lanes), tx).unwrap();
            miner.set_job(Some(Arc::new(job)));
            // One worker: the headers come in cursor order.
            let values: Vec<u64> = rx
                .iter()
                .take(30)
                .map(|s| {
                    assert_eq!(s.extranonce2.len(), size);
                    counter(&s.extranonce2)
                })
                .collect();
            drop(miner);
            // One share per extranonce2 value either way (lane 0 of the
            // value's one group of 32 versions).
            let expected: Vec<u64> = (0..30u64)
                .map(|i| (max - 9).wrapping_add(i) & max)
                .collect();
            assert_eq!(values, expected, "size {size}, mask {mask:x}");
        }
    }
}
