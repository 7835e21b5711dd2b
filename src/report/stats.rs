//! What a long-running miner reports about itself: hashrate over 5 s, 1 min
//! and 15 min, accepted / rejected / stale shares, blocks, best share, the
//! current difficulty and uptime. One [`Stats`] is shared by the command
//! that mines, the periodic status line, the final summary and the
//! monitoring API, so they always agree.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::report::units::{format_count, format_duration, format_rate};

/// Reads the hashes done so far by each worker thread.
pub type HashSource = Arc<dyn Fn() -> Vec<u64> + Send + Sync>;

/// A work source (pool or node) as the status and API show it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SourceStatus {
    pub url: String,
    /// `"stratum"`, `"getblocktemplate"` or `"benchmark"`.
    pub kind: String,
    pub user: String,
    /// `"Alive"`, `"Dead"`, `"Connecting"` (cgminer's words).
    pub status: String,
    pub accepted: u64,
    pub rejected: u64,
    pub stale: u64,
    pub difficulty: f64,
}

impl SourceStatus {
    /// The work source of a benchmark: no pool, always up.
    pub fn benchmark() -> Self {
        SourceStatus {
            url: "benchmark".into(),
            kind: "benchmark".into(),
            status: "Alive".into(),
            ..Default::default()
        }
    }
}

/// Counters and rates of one mining run.
pub struct Stats {
    start: Instant,
    hashes: Mutex<Option<HashSource>>,
    samples: Mutex<VecDeque<(Instant, Vec<u64>)>>,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub stale: AtomicU64,
    pub blocks: AtomicU64,
    best_share: AtomicU64,
    difficulty: AtomicU64,
    sources: Mutex<Vec<SourceStatus>>,
    reject_reasons: Mutex<BTreeMap<String, u64>>,
    config: Mutex<serde_json::Value>,
    command: String,
}

/// A snapshot of [`Stats`], for the status line, summary and API.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Snapshot {
    pub command: String,
    pub elapsed_secs: f64,
    pub hashes: u64,
    pub rate_avg: f64,
    pub rate_5s: f64,
    pub rate_1m: f64,
    pub rate_15m: f64,
    pub per_thread_5s: Vec<f64>,
    pub per_thread_hashes: Vec<u64>,
    pub accepted: u64,
    pub rejected: u64,
    pub stale: u64,
    pub blocks: u64,
    pub best_share: f64,
    pub difficulty: f64,
}

impl Stats {
    /// Stats for `command` (`bench`, `solo`, `pool`), starting now.
    pub fn new(command: &str) -> Arc<Self> {
        Arc::new(Stats {
            start: Instant::now(),
            hashes: Mutex::new(None),
            samples: Mutex::new(VecDeque::new()),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
            best_share: AtomicU64::new(0f64.to_bits()),
            difficulty: AtomicU64::new(0f64.to_bits()),
            sources: Mutex::new(Vec::new()),
            reject_reasons: Mutex::new(BTreeMap::new()),
            config: Mutex::new(serde_json::Value::Null),
            command: command.to_string(),
        })
    }

    /// Where hash counts come from (the engine's per-thread counters).
    pub fn set_hash_source(&self, source: HashSource) {
        *lock(&self.hashes) = Some(source);
        self.sample();
    }

    /// Record a found share's difficulty (keeps the best).
    pub fn record_share_difficulty(&self, d: f64) {
        let mut cur = self.best_share.load(Ordering::Relaxed);
        while d > f64::from_bits(cur) {
            match self.best_share.compare_exchange(
                cur,
                d.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(v) => cur = v,
            }
        }
    }

    /// The difficulty currently mined at (pool share difficulty or network).
    pub fn set_difficulty(&self, d: f64) {
        self.difficulty.store(d.to_bits(), Ordering::Relaxed);
    }

    /// Count a rejected share or block with the reason the pool or node
    /// gave.
    pub fn record_reject(&self, reason: &str) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let mut m = lock(&self.reject_reasons);
        let key = admitted_reason(&m, reason);
        *m.entry(key).or_insert(0) += 1;
    }

    /// Mirror the rejections by reason that a pool session counts. The
    /// first [`MAX_REJECT_REASONS`] reasons keep their name; later ones are
    /// summed as `other`, so that a pool inventing reasons cannot grow the
    /// map (or a dashboard's label set) without bound, and every count
    /// only goes up.
    pub fn set_reject_reasons(&self, reasons: BTreeMap<String, u64>) {
        let mut m = lock(&self.reject_reasons);
        let mut other = 0;
        for (reason, n) in reasons {
            if admitted_reason(&m, &reason) == reason {
                m.insert(reason, n);
            } else {
                other += n;
            }
        }
        if other > 0 {
            m.insert(OTHER_REASON.to_string(), other);
        }
    }

    /// Rejections so far, by reason.
    pub fn reject_reasons(&self) -> BTreeMap<String, u64> {
        lock(&self.reject_reasons).clone()
    }

    /// The command this run is (`bench`, `solo`, `pool`).
    pub fn command(&self) -> &str {
        &self.command
    }

    pub fn set_sources(&self, sources: Vec<SourceStatus>) {
        *lock(&self.sources) = sources;
    }

    /// Set the status word (`Alive`, `Dead`) of every source.
    pub fn set_source_status(&self, status: &str) {
        for s in lock(&self.sources).iter_mut() {
            s.status = status.to_string();
        }
    }

    pub fn sources(&self) -> Vec<SourceStatus> {
        lock(&self.sources).clone()
    }

    /// The effective configuration shown by the API's `config` command;
    /// secrets are redacted here, whatever the caller passes.
    pub fn set_config(&self, mut config: serde_json::Value) {
        redact(&mut config);
        *lock(&self.config) = config;
    }

    pub fn config(&self) -> serde_json::Value {
        lock(&self.config).clone()
    }

    fn current_hashes(&self) -> Vec<u64> {
        lock(&self.hashes).as_ref().map(|f| f()).unwrap_or_default()
    }

    /// Take a sample of the hash counters (the reporter does it every second).
    pub fn sample(&self) {
        let now = Instant::now();
        let counts = self.current_hashes();
        let mut s = lock(&self.samples);
        s.push_back((now, counts));
        while s.len() > 2 && now.duration_since(s[1].0) > Duration::from_secs(15 * 60) {
            s.pop_front();
        }
    }

    fn rate_over(&self, window: Duration, now: Instant, counts: &[u64]) -> Vec<f64> {
        let s = lock(&self.samples);
        // The oldest sample inside the window (or the oldest we have).
        let base = s
            .iter()
            .find(|(t, _)| now.duration_since(*t) <= window)
            .or(s.front());
        match base {
            Some((t, old)) if now.duration_since(*t) > Duration::from_millis(200) => {
                let dt = now.duration_since(*t).as_secs_f64();
                counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| c.saturating_sub(old.get(i).copied().unwrap_or(0)) as f64 / dt)
                    .collect()
            }
            _ => vec![0.0; counts.len()],
        }
    }

    /// The current numbers.
    pub fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let counts = self.current_hashes();
        let hashes: u64 = counts.iter().sum();
        let elapsed = now.duration_since(self.start).as_secs_f64();
        let per_5s = self.rate_over(Duration::from_secs(5), now, &counts);
        let sum = |v: Vec<f64>| v.iter().sum::<f64>();
        Snapshot {
            command: self.command.clone(),
            elapsed_secs: elapsed,
            hashes,
            rate_avg: if elapsed > 0.0 {
                hashes as f64 / elapsed
            } else {
                0.0
            },
            rate_5s: per_5s.iter().sum(),
            rate_1m: sum(self.rate_over(Duration::from_secs(60), now, &counts)),
            rate_15m: sum(self.rate_over(Duration::from_secs(900), now, &counts)),
            per_thread_5s: per_5s,
            per_thread_hashes: counts,
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            blocks: self.blocks.load(Ordering::Relaxed),
            best_share: f64::from_bits(self.best_share.load(Ordering::Relaxed)),
            difficulty: f64::from_bits(self.difficulty.load(Ordering::Relaxed)),
        }
    }

    /// Start a thread that samples every second and logs a status line
    /// every `interval` (unless `quiet`), with per-thread rates when asked.
    pub fn spawn_reporter(
        self: &Arc<Self>,
        interval: Duration,
        per_thread: bool,
        quiet: bool,
    ) -> Reporter {
        let stop = Arc::new(AtomicBool::new(false));
        let (stats, flag) = (Arc::clone(self), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("noncesweep-status".into())
            .spawn(move || {
                let mut last = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250).min(interval));
                    stats.sample();
                    if !quiet && last.elapsed() >= interval {
                        last = Instant::now();
                        let snap = stats.snapshot();
                        tracing::info!(target: "status", "{}", status_line(&snap));
                        if per_thread {
                            for (i, r) in snap.per_thread_5s.iter().enumerate() {
                                tracing::info!(target: "status", "thread {i}: {}", format_rate(*r));
                            }
                        }
                    }
                }
            })
            .expect("spawning the status thread");
        Reporter {
            stop,
            handle: Some(handle),
        }
    }
}

/// Reject reasons kept by name; later ones count as [`OTHER_REASON`].
pub const MAX_REJECT_REASONS: usize = 32;
/// The name under which reasons beyond [`MAX_REJECT_REASONS`] count.
pub const OTHER_REASON: &str = "other";

/// The name `reason` is counted under in `m`: its own while there is room.
fn admitted_reason(m: &BTreeMap<String, u64>, reason: &str) -> String {
    if m.contains_key(reason) || m.len() < MAX_REJECT_REASONS - 1 {
        reason.to_string()
    } else {
        OTHER_REASON.to_string()
    }
}

/// Whether a run has shares to report (a benchmark has none).
fn has_shares(s: &Snapshot) -> bool {
    s.command != "bench"
}

/// The status line cpuminer users expect, in one line. A benchmark's has
/// only its rates and time: it has no shares, blocks or difficulty.
pub fn status_line(s: &Snapshot) -> String {
    if !has_shares(s) {
        return format!(
            "{} (5s) {} (1m) {} (15m) | up {}",
            format_rate(s.rate_5s),
            format_rate(s.rate_1m),
            format_rate(s.rate_15m),
            format_duration(s.elapsed_secs)
        );
    }
    format!(
        "{} (5s) {} (1m) {} (15m) | accepted {} rejected {} stale {} | blocks {} | best share {} | diff {} | up {}",
        format_rate(s.rate_5s),
        format_rate(s.rate_1m),
        format_rate(s.rate_15m),
        s.accepted,
        s.rejected,
        s.stale,
        s.blocks,
        format_count(s.best_share),
        format_count(s.difficulty),
        format_duration(s.elapsed_secs)
    )
}

/// The final summary: duration, hashes, average rate, shares, blocks.
pub fn summary_line(s: &Snapshot) -> String {
    if !has_shares(s) {
        return format!(
            "summary: ran {}, {} hashes, average {}",
            format_duration(s.elapsed_secs),
            s.hashes,
            format_rate(s.rate_avg)
        );
    }
    format!(
        "summary: ran {}, {} hashes, average {}, shares accepted {} rejected {} stale {}, blocks {}",
        format_duration(s.elapsed_secs),
        s.hashes,
        format_rate(s.rate_avg),
        s.accepted,
        s.rejected,
        s.stale,
        s.blocks
    )
}

/// The status thread; stopped when dropped.
pub struct Reporter {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a configuration key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "password", "cookie", "secret", "token"]
        .iter()
        .any(|s| k.contains(s))
}

/// Replace every secret value in a JSON tree by `"<redacted>"`.
pub fn redact(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) && !val.is_null() {
                    *val = serde_json::Value::String("<redacted>".into());
                } else {
                    redact(val);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_counters() {
        let stats = Stats::new("bench");
        let n = Arc::new(AtomicU64::new(0));
        let src = Arc::clone(&n);
        stats.set_hash_source(Arc::new(move || vec![src.load(Ordering::Relaxed)]));
        std::thread::sleep(Duration::from_millis(300));
        n.store(3_000_000, Ordering::Relaxed);
        let s = stats.snapshot();
        assert_eq!(s.hashes, 3_000_000);
        assert!(s.rate_5s > 1_000_000.0, "{s:?}");
        stats.record_share_difficulty(2.0);
        stats.record_share_difficulty(1.0);
        assert_eq!(stats.snapshot().best_share, 2.0);
        // A benchmark has no shares: its lines do not pretend it has.
        for line in [status_line(&s), summary_line(&s)] {
            assert!(line.contains("H/s"), "{line}");
            assert!(
                !line.contains("accepted") && !line.contains("blocks"),
                "{line}"
            );
        }
        assert!(summary_line(&s).contains("3000000 hashes"));
        let pool = Snapshot {
            command: "pool".into(),
            ..s
        };
        assert!(status_line(&pool).contains("accepted 0"));
        assert!(summary_line(&pool).contains("blocks 0"));
    }

    #[test]
    fn reject_reasons_are_bounded_and_only_go_up() {
        let stats = Stats::new("pool");
        let mut pool_side = BTreeMap::new();
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        for i in 0..100u64 {
            pool_side.insert(format!("reason {i:03}"), 1);
            *pool_side.get_mut("reason 000").unwrap() += 1;
            stats.set_reject_reasons(pool_side.clone());
            let now = stats.reject_reasons();
            assert!(now.len() <= MAX_REJECT_REASONS, "{}", now.len());
            for (k, v) in &last {
                assert!(now.get(k).is_some_and(|n| n >= v), "{k} went down");
            }
            last = now;
        }
        assert_eq!(last.values().sum::<u64>(), pool_side.values().sum::<u64>());
        assert!(last[OTHER_REASON] > 0);
        stats.record_reject("yet another");
        assert_eq!(stats.reject_reasons().len(), MAX_REJECT_REASONS);
    }

    #[test]
    fn secrets_are_redacted() {
        let stats = Stats::new("pool");
        stats.set_config(serde_json::json!({
            "pool": {"url": ["stratum+tcp://x:1"], "pass": "hunter2", "user": "me"},
            "solo": {"rpc-password": "s3cret", "rpc-cookie": "/tmp/c"}
        }));
        let text = stats.config().to_string();
        assert!(!text.contains("hunter2") && !text.contains("s3cret") && !text.contains("/tmp/c"));
        assert!(text.contains("me"));
    }
}
