//! Share accounting for every work source: what happened to every share
//! (found, accepted, rejected by reason, stale), the reply latency, the
//! connections and each source's row, kept in one [`ShareStats`] that the
//! source counts into and the command prints at the end; [`publish`]
//! mirrors it into the run's [`Stats`] (status line, API, metrics).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::hashing::work::Share;
use crate::report::stats::{SourceStatus, Stats};

/// Counters of one run of a work source (pool or node).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShareStats {
    /// Shares the engine found (and re-verified).
    pub found: u64,
    pub accepted: u64,
    /// Accepted shares that also met the network target (blocks for the
    /// pool).
    pub blocks: u64,
    pub rejected: u64,
    /// Shares whose job was gone before they could be submitted, or that
    /// the pool refused as stale.
    pub stale: u64,
    /// Submissions that had no reply when their connection ended (each is
    /// resubmitted if the session resumes, else also counted stale).
    pub unanswered: u64,
    /// Shares found while disconnected (or cut off unanswered) that were
    /// submitted after the reconnect because the session resumed.
    pub submitted_after_reconnect: u64,
    /// Sum of `difficulty` of accepted shares (pool difficulty of the job).
    pub accepted_difficulty: f64,
    /// Rejections by the pool's reason.
    pub reject_reasons: BTreeMap<String, u64>,
    pub latency_total: Duration,
    pub latency_max: Duration,
    pub replies: u64,
    /// Connections made (the first one included).
    pub connections: u64,
    /// Lines from the pool that were not valid Stratum.
    pub protocol_errors: u64,
    /// The pool being mined now, if connected.
    pub pool: Option<String>,
    pub difficulty: f64,
    /// Each `-o` pool's state and counts, in list order.
    pub per_pool: Vec<SourceStatus>,
}

impl ShareStats {
    /// Average submit-to-reply latency.
    pub fn latency_avg(&self) -> Duration {
        if self.replies == 0 {
            Duration::ZERO
        } else {
            self.latency_total / self.replies as u32
        }
    }

    /// A share the pool or node accepted, on source row `source`; its
    /// `difficulty` (the pool's for the job) adds to `accepted_difficulty`.
    /// Returns the accepted and answered counts so far.
    pub fn accepted(&mut self, source: usize, difficulty: f64, is_block: bool) -> (u64, u64) {
        self.accepted += 1;
        self.blocks += u64::from(is_block);
        self.accepted_difficulty += difficulty;
        if let Some(p) = self.per_pool.get_mut(source) {
            p.accepted += 1;
        }
        (self.accepted, self.accepted + self.rejected + self.stale)
    }

    /// A share refused with the pool's or node's `reason`.
    pub fn rejected(&mut self, source: usize, reason: &str) {
        self.rejected += 1;
        *self.reject_reasons.entry(reason.to_string()).or_insert(0) += 1;
        if let Some(p) = self.per_pool.get_mut(source) {
            p.rejected += 1;
        }
    }

    /// A stale share: its job was gone, or the pool or node said so. With
    /// `source`, that row counts it too (a share that never reached a
    /// source, such as one dropped from a full queue, has none).
    pub fn stale(&mut self, source: Option<usize>) {
        self.stale += 1;
        if let Some(p) = source.and_then(|i| self.per_pool.get_mut(i)) {
            p.stale += 1;
        }
    }

    /// Set row `source`'s state word (`Alive`, `Dead`, `Connecting`).
    pub fn set_status(&mut self, source: usize, status: &str) {
        if let Some(p) = self.per_pool.get_mut(source) {
            p.status = status.to_string();
        }
    }

    /// Count a reply and its latency.
    pub fn reply(&mut self, latency: Duration) {
        self.replies += 1;
        self.latency_total += latency;
        self.latency_max = self.latency_max.max(latency);
    }

    /// The summary printed at the end, one `key value` per line.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "shares found {}", self.found);
        let _ = writeln!(s, "accepted {}", self.accepted);
        let _ = writeln!(s, "blocks {}", self.blocks);
        let _ = writeln!(s, "rejected {}", self.rejected);
        for (reason, n) in &self.reject_reasons {
            let _ = writeln!(s, "  rejected because {reason:?}: {n}");
        }
        let _ = writeln!(s, "stale {}", self.stale);
        let _ = writeln!(s, "unanswered {}", self.unanswered);
        let _ = writeln!(
            s,
            "submitted after reconnect {}",
            self.submitted_after_reconnect
        );
        let _ = writeln!(
            s,
            "latency avg {:.1} ms, max {:.1} ms over {} replies",
            self.latency_avg().as_secs_f64() * 1e3,
            self.latency_max.as_secs_f64() * 1e3,
            self.replies
        );
        let _ = writeln!(s, "connections {}", self.connections);
        let _ = writeln!(s, "protocol errors {}", self.protocol_errors);
        for p in &self.per_pool {
            let _ = writeln!(
                s,
                "pool {} ({}): accepted {} rejected {} stale {}",
                p.url, p.status, p.accepted, p.rejected, p.stale
            );
        }
        s
    }
}

/// The counters, shared.
pub type SharedStats = Arc<Mutex<ShareStats>>;

/// Change the shared counters under their lock.
pub fn update<R>(stats: &SharedStats, f: impl FnOnce(&mut ShareStats) -> R) -> R {
    f(&mut stats.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A share from the engine: count it found and keep the best difficulty.
pub fn found(stats: &SharedStats, report: &Stats, share: &Share) {
    update(stats, |st| st.found += 1);
    report.record_share_difficulty(share.difficulty);
}

/// Mirror the counters into the run's shared [`Stats`] (status line,
/// summary and monitoring API read them there). A row that is `Alive`
/// shows the difficulty mined at.
pub fn publish(stats: &SharedStats, report: &Stats) {
    let (accepted, rejected, stale, blocks, difficulty, rows, reasons) = update(stats, |st| {
        (
            st.accepted,
            st.rejected,
            st.stale,
            st.blocks,
            st.difficulty,
            st.per_pool.clone(),
            st.reject_reasons.clone(),
        )
    });
    report.accepted.store(accepted, Ordering::Relaxed);
    report.rejected.store(rejected, Ordering::Relaxed);
    report.stale.store(stale, Ordering::Relaxed);
    report.blocks.store(blocks, Ordering::Relaxed);
    let rows: Vec<SourceStatus> = rows
        .into_iter()
        .map(|mut p| {
            if p.status == "Alive" {
                p.difficulty = difficulty;
            }
            p
        })
        .collect();
    report.set_difficulty(difficulty);
    report.set_sources(rows);
    report.set_reject_reasons(reasons);
}
