//! The command line: clap definitions and one small runner per command.
//! Parsing and validation live here; the work itself is in the library.

use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::Result;
#[cfg(test)]
use clap::FromArgMatches;
use clap::{Args, CommandFactory, Parser, Subcommand};
use noncesweep::hashing::sha256::{Backend, BackendChoice, Selection};
use noncesweep::report::stats::Stats;

mod bench;
pub mod config;
pub mod cpuminer;
pub mod monitor;
mod node;
mod pool;
mod profit;
mod remine;
mod solo;
mod teach;

/// A Bitcoin SHA-256d proof-of-work miner for CPUs.
///
/// With no command, `noncesweep` benchmarks this machine (`noncesweep bench`),
/// or, given cpuminer's flags (`-o URL`, `--benchmark`), does what cpuminer
/// would do.
#[derive(Debug, Parser)]
#[command(name = "noncesweep", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// `bench` options, accepted without the command name.
    #[command(flatten)]
    pub bench: bench::TopBenchArgs,
    /// cpuminer's flags, accepted without a command.
    #[command(flatten)]
    pub cpuminer: cpuminer::CpuminerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every hashing command shares.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Worker threads (default: all logical CPUs).
    #[arg(long, short = 't', global = true, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// Hashing backend: auto picks the fastest this CPU supports.
    #[arg(long, global = true, value_name = "NAME", default_value = "auto", value_parser = parse_backend)]
    pub backend: BackendChoice,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr (results still go to stdout).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Read options from a TOML file (long flag names as keys; flags
    /// override it), or, without a command, a cpuminer JSON config.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Format of everything written to stderr: text, or newline-delimited JSON.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub monitor: monitor::MonitorArgs,
}

/// How stderr lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Common {
    /// The thread count: `--threads` or every logical CPU.
    pub fn threads(&self) -> usize {
        self.threads.map(NonZeroUsize::get).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(NonZeroUsize::get)
                .unwrap_or(1)
        })
    }

    /// The backend to mine with (the selection logs its choice and reason).
    pub fn backend(&self) -> Backend {
        self.backend.resolve()
    }

    /// The whole configuration to mine with: backend, lane mode and
    /// kernel, chosen by calibration (logged with its reason).
    pub fn selection(&self) -> Selection {
        noncesweep::hashing::sha256::select(self.backend)
    }
}

fn parse_backend(s: &str) -> Result<BackendChoice, String> {
    s.parse()
        .map_err(|e: noncesweep::hashing::sha256::BackendError| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure hash throughput on this machine (the default command).
    Bench(bench::BenchArgs),
    /// Re-mine a real block header: find the lowest nonce meeting its own target.
    Remine(remine::RemineArgs),
    /// Mine blocks for your own node (getblocktemplate/submitblock).
    Solo(Box<solo::SoloArgs>),
    /// Mine for a Stratum v1 pool (with backups, TLS, version rolling).
    Pool(pool::PoolArgs),
    /// A guided walkthrough of the nonce search on real data.
    Teach(teach::TeachArgs),
    /// Estimate what mining earns: revenue, energy cost, break-even, luck.
    Profit(profit::ProfitArgs),
}

/// Polled often with a run's stats; `true` stops the run.
pub type StopFn = Arc<dyn Fn(&Stats) -> bool + Send + Sync>;

/// The whole command line: [`Cli`] and the cpuminer flags refused by name.
pub fn command() -> clap::Command {
    cpuminer::add_unsupported(Cli::command())
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if cli.command.is_some() && cli.bench.is_set() {
        anyhow::bail!(
            "--seconds, --json and --plot belong to `bench`; put them after the command name"
        );
    }
    if cli.command.is_some() && cli.cpuminer.is_set() {
        anyhow::bail!("cpuminer's flags (-a, -o, -u, -p, --benchmark, ...) work only without a command: `noncesweep -o URL ...`");
    }
    let common = cli.cpuminer.apply_to(&cli.common)?;
    common.monitor.validate()?;
    common.monitor.apply_priority()?;
    match cli.command {
        None => {
            cli.cpuminer.validate()?;
            if cli.cpuminer.mines() {
                if cli.bench.is_set() {
                    anyhow::bail!("--seconds, --json and --plot are options of the benchmark table, not of cpuminer-style mining");
                }
                cpuminer::run(&common, &cli.cpuminer)
            } else {
                bench::run(&common, &cli.bench.into_args())
            }
        }
        Some(Command::Bench(args)) => bench::run(&cli.common, &args),
        Some(Command::Remine(args)) => remine::run(&cli.common, &args),
        Some(Command::Solo(args)) => solo::run(&cli.common, &args),
        Some(Command::Pool(args)) => pool::run(&cli.common, &args),
        Some(Command::Teach(args)) => teach::run(&cli.common, &args),
        Some(Command::Profit(args)) => {
            let node = profit::node_facts(&args)?;
            profit::run(&cli.common, &args, node.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        // clap's own checks (unique names, shorts and ids across the
        // top-level, global, cpuminer and refused flags and every command).
        command().debug_assert();
    }

    #[test]
    fn cpuminer_flags_parse_at_the_top_level_only() {
        let m = command()
            .try_get_matches_from([
                "noncesweep",
                "-a",
                "sha256d",
                "-o",
                "stratum+tcp://127.0.0.1:3333",
                "-O",
                "u:p",
                "-r",
                "-1",
                "-R",
                "5",
                "-T",
                "60",
                "-b",
                "4048",
                "--cpu-affinity=0x3",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert!(cli.command.is_none() && cli.cpuminer.mines());
        assert_eq!(cli.cpuminer.retries, Some(-1));
        assert_eq!(
            cli.common.monitor.cpu_affinity,
            Some(monitor::Affinity::Cpus(vec![0, 1]))
        );
        let common = cli.cpuminer.apply_to(&cli.common).unwrap();
        assert_eq!(
            common.monitor.api_listen,
            Some("127.0.0.1:4048".parse().unwrap())
        );
        // The pin-to-own-core form stays, before or after a command.
        let m = command()
            .try_get_matches_from([
                "noncesweep",
                "--cpu-affinity",
                "pool",
                "-o",
                "stratum+tcp://h:1",
                "-u",
                "x",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert_eq!(
            cli.common.monitor.cpu_affinity,
            Some(monitor::Affinity::EachCore)
        );
        assert!(matches!(cli.command, Some(Command::Pool(_))));
        assert!(command()
            .try_get_matches_from(["noncesweep", "solo", "-a", "sha256d"])
            .is_err());
    }
}
