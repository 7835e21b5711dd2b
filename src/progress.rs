//! The one place that decides how progress is shown: a live, redrawn line
//! on a terminal (hashes done, rate, ETA where known), plain lines every few
//! seconds otherwise. It writes to stderr, so results on stdout stay clean.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::units::{format_count, format_duration, format_rate};

static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Route progress through `tracing` (one JSON object per line) instead of
/// writing it to stderr directly; set by `--log-format json`.
pub fn set_json_logs(on: bool) {
    JSON_LOGS.store(on, Ordering::Relaxed);
}

/// Whether stderr lines must be JSON.
pub fn json_logs() -> bool {
    JSON_LOGS.load(Ordering::Relaxed)
}

/// Whether colour may be used on stderr: only on a terminal, and not when
/// `NO_COLOR` is set (<https://no-color.org>).
pub fn colour_allowed() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Progress of one long piece of work.
pub struct Progress {
    label: String,
    total: Option<u64>,
    start: Instant,
    done: AtomicU64,
    tty: bool,
    last: Mutex<Instant>,
    interval: Duration,
    enabled: bool,
}

impl Progress {
    /// `total` is the amount of work when known (for the ETA).
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Arc<Self> {
        let tty = std::io::stderr().is_terminal() && !json_logs();
        Arc::new(Progress {
            label: label.into(),
            total,
            start: Instant::now(),
            done: AtomicU64::new(0),
            tty,
            last: Mutex::new(Instant::now()),
            interval: if tty {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(5)
            },
            enabled: true,
        })
    }

    /// A progress that shows nothing (for `--json` and quiet runs).
    pub fn hidden() -> Arc<Self> {
        let mut p = Arc::try_unwrap(Progress::new("", None))
            .ok()
            .expect("fresh Arc");
        p.enabled = false;
        Arc::new(p)
    }

    /// Record that `done` units are complete, and redraw if it is time.
    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
        if !self.enabled {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < self.interval {
            return;
        }
        *last = Instant::now();
        drop(last);
        self.draw(false);
    }

    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        let mut s = format!(
            "{}: {} hashes, {}",
            self.label,
            format_count(done as f64),
            format_rate(rate)
        );
        if let Some(total) = self.total {
            let pct = 100.0 * done as f64 / total.max(1) as f64;
            let eta = if rate > 0.0 {
                (total.saturating_sub(done)) as f64 / rate
            } else {
                f64::INFINITY
            };
            s.push_str(&format!(
                ", {pct:.1}% of the range, ETA {}",
                format_duration(eta)
            ));
        }
        s
    }

    fn draw(&self, last: bool) {
        if json_logs() {
            tracing::info!(target: "progress", "{}", self.line());
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{}", self.line());
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{}", self.line());
        }
        let _ = err.flush();
    }

    /// Finish: on a terminal, end the live line.
    pub fn finish(&self) {
        if self.enabled && self.tty {
            self.draw(true);
        }
    }
}
