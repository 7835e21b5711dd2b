//! The one place that owns the terminal: it decides how progress is shown
//! (a live, redrawn line on a terminal with hashes done, rate, ETA where
//! known; plain lines every few seconds otherwise), and every log line
//! goes through it too ([`LogWriter`], the `tracing` writer of every
//! command: `solo`, `pool`, `bench` and the rest), so that a log line
//! clears the live line, is written whole, and the live line is drawn
//! again below it. It writes to stderr, so results on stdout stay clean.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::report::units::{format_count, format_duration, format_rate};

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

/// The terminal's state: the live line on screen, if any. Every write to
/// stderr that goes through here holds this lock, so a log line and a
/// redraw never interleave.
pub struct Screen<W: Write> {
    out: W,
    /// Whether `out` is a terminal (only then is a line redrawn in place).
    tty: bool,
    /// The live line as last drawn (no newline).
    live: Option<String>,
}

/// Return to column 0 and clear the line.
const CLEAR: &str = "\r\x1b[2K";

impl<W: Write> Screen<W> {
    pub fn new(out: W, tty: bool) -> Self {
        Screen {
            out,
            tty,
            live: None,
        }
    }

    /// Draw `line` as the live line (replacing the one shown). Off a
    /// terminal it is written as a line of its own.
    pub fn draw_live(&mut self, line: &str) {
        if self.tty {
            let _ = write!(self.out, "{CLEAR}{line}");
            self.live = Some(line.to_string());
        } else {
            let _ = writeln!(self.out, "{line}");
        }
        let _ = self.out.flush();
    }

    /// End the live line: it stays on screen, and what follows goes below.
    pub fn end_live(&mut self) {
        if self.live.take().is_some() {
            let _ = writeln!(self.out);
            let _ = self.out.flush();
        }
    }

    /// Remove the live line from the screen (nothing is left of it).
    pub fn clear_live(&mut self) {
        if self.live.take().is_some() {
            let _ = write!(self.out, "{CLEAR}");
            let _ = self.out.flush();
        }
    }

    /// Write log output (whole lines): the live line is cleared first and
    /// drawn again after.
    pub fn log(&mut self, bytes: &[u8]) {
        if let Some(live) = &self.live {
            let _ = write!(self.out, "{CLEAR}");
            let _ = self.out.write_all(bytes);
            if !bytes.ends_with(b"\n") {
                let _ = writeln!(self.out);
            }
            let _ = write!(self.out, "{live}");
        } else {
            let _ = self.out.write_all(bytes);
        }
        let _ = self.out.flush();
    }

    /// The writer (for tests).
    pub fn into_inner(self) -> W {
        self.out
    }
}

static SCREEN: std::sync::OnceLock<Mutex<Screen<std::io::Stderr>>> = std::sync::OnceLock::new();

/// The process's stderr, owned by one [`Screen`].
fn screen() -> std::sync::MutexGuard<'static, Screen<std::io::Stderr>> {
    SCREEN
        .get_or_init(|| {
            let tty = std::io::stderr().is_terminal();
            Mutex::new(Screen::new(std::io::stderr(), tty))
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The `tracing` writer for stderr: each event is buffered and written
/// whole through the [`Screen`], which keeps the live line below the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

/// One log event being formatted; written out when dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            screen().log(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// When and how a progress line is shown: on a terminal, redrawn in place
/// at most every 200 ms; otherwise a plain line every 5 s; through
/// `tracing` with JSON logs; not at all when hidden.
struct Pace {
    tty: bool,
    enabled: bool,
    interval: Duration,
    /// When a line was last shown (at first: when the work started).
    last: Mutex<Instant>,
}

impl Pace {
    /// With `eager`, the first line on a terminal is due at once (off a
    /// terminal it always waits one interval: short runs print none).
    fn new(eager: bool) -> Pace {
        let tty = std::io::stderr().is_terminal() && !json_logs();
        let interval = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        let now = Instant::now();
        let last = if eager && tty {
            now.checked_sub(interval).unwrap_or(now)
        } else {
            now
        };
        Pace {
            tty,
            enabled: true,
            interval,
            last: Mutex::new(last),
        }
    }

    fn hidden() -> Pace {
        Pace {
            enabled: false,
            ..Pace::new(false)
        }
    }

    /// Whether a line is due now; if so, it counts as shown.
    fn due(&self) -> bool {
        if !self.enabled {
            return false;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < self.interval {
            return false;
        }
        *last = Instant::now();
        true
    }

    /// Show `line`: the live line on a terminal, else a line of its own.
    fn show(&self, line: &str) {
        if json_logs() {
            tracing::info!(target: "progress", "{line}");
        } else if self.tty {
            screen().draw_live(line);
        } else {
            screen().log(format!("{line}\n").as_bytes());
        }
    }

    /// Whether a live line is drawn (shown on a terminal).
    fn live(&self) -> bool {
        self.enabled && self.tty
    }
}

/// Progress of one long piece of work.
pub struct Progress {
    label: String,
    total: Option<u64>,
    start: Instant,
    done: AtomicU64,
    pace: Pace,
}

impl Progress {
    /// `total` is the amount of work when known (for the ETA).
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Arc<Self> {
        Progress::with_pace(label.into(), total, Pace::new(false))
    }

    /// A progress that shows nothing (for `--json` and quiet runs).
    pub fn hidden() -> Arc<Self> {
        Progress::with_pace(String::new(), None, Pace::hidden())
    }

    fn with_pace(label: String, total: Option<u64>, pace: Pace) -> Arc<Self> {
        Arc::new(Progress {
            label,
            total,
            start: Instant::now(),
            done: AtomicU64::new(0),
            pace,
        })
    }

    /// Record that `done` units are complete, and redraw if it is time.
    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
        if self.pace.due() {
            self.pace.show(&self.line());
        }
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

    /// Finish: on a terminal, draw the line a last time and end it there.
    pub fn finish(&self) {
        if self.pace.live() {
            let mut screen = screen();
            screen.draw_live(&self.line());
            screen.end_live();
        }
    }
}

/// Progress of work of a known length in time rather than in hashes: a
/// benchmark's passes, whose subjects take turns for a set number of
/// seconds. Shown like [`Progress`] (its first line at once on a
/// terminal); [`TimedProgress::clear`] removes the live line before
/// results are printed on stdout.
pub struct TimedProgress {
    label: String,
    pace: Pace,
}

impl TimedProgress {
    pub fn new(label: impl Into<String>) -> Self {
        TimedProgress {
            label: label.into(),
            pace: Pace::new(true),
        }
    }

    /// A progress that shows nothing (for `--json` and quiet runs).
    pub fn hidden() -> Self {
        TimedProgress {
            label: String::new(),
            pace: Pace::hidden(),
        }
    }

    /// `done` of `total` seconds are measured; `what` says what runs.
    pub fn set(&self, done: f64, total: f64, what: &str) {
        if self.pace.due() {
            self.pace.show(&timed_line(&self.label, done, total, what));
        }
    }

    /// Remove the live line (on a terminal), so that what is printed next
    /// starts on a clean line.
    pub fn clear(&self) {
        if self.pace.live() {
            screen().clear_live();
        }
    }
}

/// `bench: 4.5s of 12.0s (38%), ETA 7.5s; 1 thread, shani versions x4`.
pub fn timed_line(label: &str, done: f64, total: f64, what: &str) -> String {
    let done = done.clamp(0.0, total.max(0.0));
    let pct = if total > 0.0 {
        100.0 * done / total
    } else {
        100.0
    };
    format!(
        "{label}: {} of {} ({pct:.0}%), ETA {}; {what}",
        format_duration(done),
        format_duration(total),
        format_duration(total - done)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a terminal shows after `out`: `\r` returns to column 0,
    /// `ESC[2K` clears the line, text overwrites from the cursor.
    fn render(out: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(out).replace(CLEAR, "\u{0}");
        let mut lines = vec![String::new()];
        let mut col = 0;
        for c in text.chars() {
            let cur = lines.last_mut().expect("a line");
            match c {
                '\n' => {
                    lines.push(String::new());
                    col = 0;
                }
                '\u{0}' => {
                    cur.clear();
                    col = 0;
                }
                '\r' => col = 0,
                c => {
                    let mut chars: Vec<char> = cur.chars().collect();
                    if col < chars.len() {
                        chars[col] = c;
                    } else {
                        chars.push(c);
                    }
                    *cur = chars.into_iter().collect();
                    col += 1;
                }
            }
        }
        lines
    }

    #[test]
    fn log_lines_never_overwrite_the_live_line() {
        let mut s = Screen::new(Vec::new(), true);
        s.draw_live("solo mining: 1.00 M hashes, 1.00 MH/s");
        s.log(b"INFO connected\n");
        s.draw_live("solo mining: 2.00 M hashes, 1.00 MH/s");
        s.log(b"WARN a long warning line, longer than the live line is\n");
        s.log(b"INFO no newline");
        s.draw_live("solo mining: 3.00 M hashes, 1.00 MH/s");
        let screen = render(&s.into_inner());
        assert_eq!(
            screen,
            [
                "INFO connected",
                "WARN a long warning line, longer than the live line is",
                "INFO no newline",
                "solo mining: 3.00 M hashes, 1.00 MH/s",
            ]
        );
    }

    #[test]
    fn the_ended_live_line_stays_above_later_logs() {
        let mut s = Screen::new(Vec::new(), true);
        s.draw_live("remine: 50%");
        s.log(b"INFO midway\n");
        s.draw_live("remine: 100%");
        s.end_live();
        s.log(b"INFO done\n");
        assert_eq!(
            render(&s.into_inner()),
            ["INFO midway", "remine: 100%", "INFO done", ""]
        );
    }

    #[test]
    fn a_cleared_live_line_leaves_nothing_and_later_output_starts_clean() {
        let mut s = Screen::new(Vec::new(), true);
        s.draw_live("bench: 1.0s of 4.0s (25%), ETA 3.0s; 1 thread, sha2-loop");
        s.clear_live();
        // Nothing is live any more: a log line is written as it is.
        s.log(b"row 1\n");
        s.clear_live();
        assert_eq!(render(&s.into_inner()), ["row 1", ""]);
    }

    #[test]
    fn timed_lines_say_how_far_and_how_long_to_go() {
        assert_eq!(
            timed_line("bench", 4.5, 12.0, "1 thread, shani versions x4"),
            "bench: 4.5s of 12.0s (38%), ETA 7.5s; 1 thread, shani versions x4"
        );
        // Past the end (a slice ran long) and an empty run stay in range.
        assert_eq!(
            timed_line("bench", 13.0, 12.0, "x"),
            "bench: 12.0s of 12.0s (100%), ETA 0.0s; x"
        );
        assert_eq!(
            timed_line("bench", 0.0, 0.0, "x"),
            "bench: 0.0s of 0.0s (100%), ETA 0.0s; x"
        );
    }

    #[test]
    fn off_a_terminal_everything_is_plain_lines() {
        let mut s = Screen::new(Vec::new(), false);
        s.draw_live("progress 1");
        s.log(b"INFO a\n");
        s.draw_live("progress 2");
        s.end_live();
        let out = String::from_utf8(s.into_inner()).unwrap();
        assert_eq!(out, "progress 1\nINFO a\nprogress 2\n");
        assert!(!out.contains('\r'));
    }
}
