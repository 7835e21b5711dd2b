//! What happened to every share: found, accepted, rejected (by reason),
//! stale, and the submit-to-reply latency. Shared between the session
//! (which counts) and the command (which prints the status and summary).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counters of one pool run.
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
    pub per_pool: Vec<crate::report::stats::SourceStatus>,
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

    pub(crate) fn reply(&mut self, latency: Duration) {
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

pub(crate) fn update<R>(stats: &SharedStats, f: impl FnOnce(&mut ShareStats) -> R) -> R {
    f(&mut stats.lock().unwrap_or_else(|e| e.into_inner()))
}
