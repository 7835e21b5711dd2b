//! The `noncesweep` binary: parse the command line, set up logging to
//! stderr, run the command, and turn errors into a message and exit code.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let level = match cli.common.verbose {
        0 => "info",
        // The HTTP client's own debug lines drown the miner's.
        1 => "debug,ureq=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
