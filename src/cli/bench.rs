//! `noncesweep bench`: prints the throughput table (or one JSON object).

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

use noncesweep::bench::{self, BenchOptions, BenchReport, CpuInfo, SelectionInfo};
use noncesweep::hashing::engine::LiveCounts;
use noncesweep::hashing::sha256::{self, Backend, BackendChoice, Candidate};
use noncesweep::report::progress::TimedProgress;
use noncesweep::report::stats::{SourceStatus, Stats};

use super::Common;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub seconds: f64,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Measure as for work that allows no version rolling: nonces in the
    /// lanes of every kernel (by default the job rolls BIP320 version bits,
    /// as solo mining and most pools allow, and the SIMD kernels hash
    /// groups of versions).
    #[arg(long)]
    pub no_version_rolling: bool,
    /// Measure every configuration calibration timed (each kernel variant
    /// in each lane mode), not only each backend's fastest.
    #[arg(long)]
    pub candidates: bool,
    /// Also write the results as an SVG bar chart to FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// The same options given without the `bench` command name
/// (`noncesweep --json`): optional so that their use with another command
/// can be refused.
#[derive(Debug, Args)]
pub struct TopBenchArgs {
    /// Seconds per benchmark measurement (default 3).
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// Print the benchmark as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Benchmark nonce lanes only, as for work without version rolling.
    #[arg(long)]
    pub no_version_rolling: bool,
    /// Also write the benchmark as an SVG bar chart to FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

impl TopBenchArgs {
    pub fn is_set(&self) -> bool {
        self.seconds.is_some() || self.json || self.no_version_rolling || self.plot.is_some()
    }
    pub fn into_args(self) -> BenchArgs {
        BenchArgs {
            seconds: self.seconds.unwrap_or(3.0),
            json: self.json,
            no_version_rolling: self.no_version_rolling,
            candidates: false,
            plot: self.plot,
        }
    }
}

pub fn run(common: &Common, args: &BenchArgs) -> Result<()> {
    let seconds = args.seconds;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
        bail!(
            "--seconds must be more than 0 and at most 3600, got {}",
            args.seconds
        );
    }
    if let Some(path) = &args.plot {
        let svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if !svg {
            bail!(
                "--plot writes an SVG chart: give a file name ending in .svg, got {}",
                path.display()
            );
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            bail!("--plot {}: the directory does not exist", path.display());
        }
    }
    // The choice in effect (the calibration's pick among every backend that
    // passed its self-test, or among the kernels of the one asked for), and
    // what to measure: each backend in its fastest configuration for the
    // work, or with --candidates every configuration timed.
    let selection = sha256::select(common.backend);
    let version_rolling = !args.no_version_rolling;
    let mut subjects = bench::subjects_of(&selection, version_rolling, args.candidates);
    // With auto, the portable kernel too: the floor every SIMD kernel is
    // measured above (calibration never times it).
    let soft = Candidate::Nonces(Backend::Soft.nonce_kernels()[0]);
    if common.backend == BackendChoice::Auto && !subjects.contains(&soft) {
        subjects.push(soft);
    }
    let live = Arc::new(LiveCounts::default());
    let opts = BenchOptions {
        subjects,
        chosen: Some(selection.for_job(version_rolling)),
        threads: common.threads(),
        single_thread: true,
        seconds,
        version_rolling,
        live: Some(Arc::clone(&live)),
    };
    let stats = Stats::new("bench");
    let source = Arc::clone(&live);
    stats.set_hash_source(Arc::new(move || source.per_thread()));
    stats.set_sources(vec![SourceStatus::benchmark()]);
    stats.set_config(serde_json::json!({
        "command": "bench",
        "threads": opts.threads,
        "backend": format!("{:?}", common.backend),
        "seconds": seconds,
        "version_rolling": opts.version_rolling,
    }));
    noncesweep::shutdown::install().map_err(anyhow::Error::msg)?;
    let info = super::monitor::run_info(&selection, opts.version_rolling);
    let monitoring = common.monitor.start(&stats, common.quiet, info)?;
    let cpu = CpuInfo::detect();
    let json = args.json;
    if !json {
        println!(
            "noncesweep bench: {} ({} logical CPUs)",
            cpu.model, cpu.logical_cpus
        );
        println!("CPU features: {}", cpu.features.join(" "));
        let chosen = selection.for_job(version_rolling);
        println!("chosen: {} ({})", chosen.name(), selection.reason);
        println!("{}", bench::lanes_note(opts.version_rolling));
        println!("{}", bench::table_header());
    }
    // Each pass (one thread, then all) is silent until its rows: a live
    // line says how far it is.
    let progress = if json || common.quiet {
        TimedProgress::hidden()
    } else {
        TimedProgress::new("bench")
    };
    let results = bench::run(
        &opts,
        |done, total, what| progress.set(done, total, what),
        |r| {
            progress.clear();
            if !json {
                println!("{}", bench::format_result(r));
            }
        },
    )?;
    progress.clear();
    drop(monitoring);
    if noncesweep::shutdown::requested() {
        tracing::info!(
            "{}",
            noncesweep::report::stats::summary_line(&stats.snapshot())
        );
    }
    let report = BenchReport {
        cpu,
        selection: Some(SelectionInfo::of(&selection, version_rolling)),
        version_rolling: opts.version_rolling,
        results,
    };
    if let Some(path) = &args.plot {
        noncesweep::report::plot::write_svg(&report, path)?;
        if !json {
            println!("chart written to {}", path.display());
        }
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}
