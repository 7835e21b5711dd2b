//! `noncesweep teach`: runs the walkthrough of [`noncesweep::teach`] step by
//! step, as text (coloured on a terminal) or as one JSON object per step,
//! optionally waiting for Enter between steps.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use noncesweep::bench;
use noncesweep::report::progress::Progress;
use noncesweep::report::units::parse_u32;
use noncesweep::teach::{self, Lesson, SolutionOptions, Style};
use serde::Serialize;

use super::Common;

/// Nonces shown one by one before the sweep runs at full speed.
const SHOW_FIRST: u32 = 8;
/// Seconds the easy sweep and the re-mine each aim to take by default.
const SWEEP_SECS: f64 = 0.5;
const REMINE_SECS: f64 = 2.0;
/// An unsolved header (a template) is mined only if it takes at most this long.
const MAX_MINE_SECS: f64 = 60.0;

#[derive(Debug, Args)]
pub struct TeachArgs {
    /// Teach with this 80-byte header (160 hex characters) instead of the genesis block.
    #[arg(long, value_name = "HEX", conflicts_with = "template")]
    pub header: Option<String>,
    /// Teach with a getblocktemplate JSON answer (a block is built from it, paying OP_TRUE).
    #[arg(long, value_name = "FILE")]
    pub template: Option<String>,
    /// Difficulty of the easy sweep, a fraction of 1 (default: about half a second of hashing here).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub difficulty: Option<f64>,
    /// First nonce of the real-solution search (default: about 2 s of hashing below the real nonce).
    #[arg(long, value_parser = parse_u32, value_name = "N")]
    pub from: Option<u32>,
    /// Wait for Enter between steps.
    #[arg(long)]
    pub step: bool,
    /// Print each step's data as one JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Record<'a, T: Serialize> {
    step: u8,
    name: &'a str,
    #[serde(flatten)]
    data: &'a T,
}

struct Out {
    json: bool,
    quiet: bool,
    step: bool,
    style: Style,
    shown: u8,
}

impl Out {
    fn emit<T: Serialize>(
        &mut self,
        n: u8,
        name: &str,
        data: &T,
        render: fn(&T, &Style) -> String,
    ) -> Result<()> {
        self.pause()?;
        let mut out = std::io::stdout().lock();
        if self.json {
            let line = serde_json::to_string(&Record {
                step: n,
                name,
                data,
            })?;
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", render(data, &self.style))?;
        }
        out.flush()?;
        self.shown = n;
        Ok(())
    }

    /// With `--step`, wait for Enter before every step after the first.
    fn pause(&self) -> Result<()> {
        if !self.step || self.shown == 0 {
            return Ok(());
        }
        eprint!("-- press Enter for step {} --", self.shown + 1);
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(())
    }

    fn progress(&self, label: &str, total: Option<u64>) -> Arc<Progress> {
        if self.json || self.quiet {
            Progress::hidden()
        } else {
            Progress::new(label, total)
        }
    }
}

/// A cancel flag that follows Ctrl-C while `f` runs.
fn with_cancel<T>(f: impl FnOnce(&AtomicBool) -> T) -> T {
    let cancel = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            while !cancel.load(Ordering::Relaxed) {
                if noncesweep::shutdown::requested() {
                    cancel.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let r = f(&cancel);
        cancel.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        r
    })
}

pub fn run(common: &Common, args: &TeachArgs) -> Result<()> {
    if let Some(d) = args.difficulty {
        if !(d.is_finite() && d > 0.0 && d <= 1.0) {
            return Err(teach::TeachError::Difficulty(d).into());
        }
    }
    let lesson = if let Some(path) = &args.template {
        let text = std::fs::read_to_string(path).with_context(|| format!("--template {path}"))?;
        Lesson::from_template_json(path, &text)?
    } else if let Some(hex) = &args.header {
        Lesson::from_header_hex(hex)?
    } else {
        Lesson::genesis()
    };
    if let Some(from) = args.from {
        teach::check_from(&lesson.header, from)?;
    }
    if let Err(e) = noncesweep::shutdown::install() {
        tracing::warn!("{e}");
    }
    let selection = common.selection();
    let backend = selection.backend();
    let threads = common.threads();
    let mut out = Out {
        json: args.json,
        quiet: common.quiet,
        step: args.step,
        style: Style::detect(),
        shown: 0,
    };

    out.emit(1, "header", &lesson.header_step(), teach::render_header)?;
    out.emit(2, "target", &lesson.target_step(), teach::render_target)?;
    out.emit(3, "sha256d", &lesson.sha_step(), teach::render_sha)?;

    let rate = bench::measure(&selection, threads, teach::MEASURE.as_secs_f64())
        .context("measuring this machine's hashrate")?
        .hashrate;
    let difficulty = args
        .difficulty
        .unwrap_or_else(|| teach::easy_difficulty(rate, SWEEP_SECS));
    let progress = out.progress("sweep", None);
    let sweep = with_cancel(|cancel| {
        teach::easy_sweep(
            &lesson.header,
            difficulty,
            SHOW_FIRST,
            backend,
            threads,
            &|d| progress.set(d),
            cancel,
        )
    });
    progress.finish();
    out.emit(4, "sweep", &sweep?, teach::render_sweep)?;

    out.emit(
        5,
        "extranonce",
        &lesson.extranonce_step(rate)?,
        teach::render_extranonce,
    )?;

    let opts = SolutionOptions {
        from: args.from,
        seconds: REMINE_SECS,
        max_seconds: MAX_MINE_SECS,
        hashrate_hs: rate,
        backend,
        threads,
    };
    let progress = out.progress("solution", None);
    let solution =
        with_cancel(|cancel| teach::solution(&lesson.header, &opts, &|d| progress.set(d), cancel));
    progress.finish();
    out.emit(6, "solution", &solution?, teach::render_solution)?;
    Ok(())
}
