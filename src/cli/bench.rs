//! `noncesweep bench`: prints the throughput table (or one JSON object).

use anyhow::{bail, Result};
use clap::Args;
use noncesweep::bench::{self, BenchOptions, BenchReport, CpuInfo};
use noncesweep::sha256::{self, Backend, BackendChoice};

use super::Common;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub seconds: f64,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
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
}

impl TopBenchArgs {
    pub fn is_set(&self) -> bool {
        self.seconds.is_some() || self.json
    }
    pub fn into_args(self) -> BenchArgs {
        BenchArgs {
            seconds: self.seconds.unwrap_or(3.0),
            json: self.json,
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
    // The choice in effect (auto: the calibration's pick), and what to
    // measure: every backend that passed its self-test, or the one asked for.
    let selection = sha256::select(common.backend);
    let backends: Vec<Backend> = match common.backend {
        BackendChoice::Auto => Backend::available()
            .into_iter()
            .filter(|&b| sha256::self_test(b).is_ok())
            .collect(),
        BackendChoice::Fixed(_) => vec![selection.backend],
    };
    let opts = BenchOptions {
        backends,
        threads: common.threads(),
        single_thread: true,
        seconds,
    };
    let cpu = CpuInfo::detect();
    let json = args.json;
    if !json {
        println!(
            "noncesweep bench: {} ({} logical CPUs)",
            cpu.model, cpu.logical_cpus
        );
        println!("CPU features: {}", cpu.features.join(" "));
        println!("backend: {} ({})", selection.backend, selection.reason);
        println!("{}", bench::table_header());
    }
    let results = bench::run(&opts, |r| {
        if !json {
            println!("{}", bench::format_result(r));
        }
    })?;
    if json {
        let report = BenchReport {
            cpu,
            selection: Some((&selection).into()),
            results,
        };
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}
