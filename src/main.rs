//! The `noncesweep` binary: parse the command line, set up logging to
//! stderr, run the command, and turn errors into a message and exit code.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

mod cli;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let argv = match cli::config::expand_args(&cli::Cli::command(), argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = cli::Cli::parse_from(argv);
    let level = match (cli.common.quiet, cli.common.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = cli.common.log_format == cli::LogFormat::Json;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder
            .with_ansi(noncesweep::progress::colour_allowed())
            .init();
    }
    noncesweep::progress::set_json_logs(json);
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                tracing::error!("{e:#}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
