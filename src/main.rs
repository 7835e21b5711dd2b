//! The `noncesweep` binary: parse the command line, set up logging to
//! stderr, run the command, and turn errors into a message and exit code.

use std::process::ExitCode;

use clap::FromArgMatches;
use tracing_subscriber::EnvFilter;

mod cli;

/// cpuminer writes `--cpu-affinity 0x3`; the flag also works alone, so its
/// value is taken only in the `--cpu-affinity=0x3` form: join a mask
/// given as the next argument.
fn join_affinity_mask(argv: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--cpu-affinity" {
            if let Some(mask) = it.next_if(|m| cli::monitor::looks_like_mask(m)) {
                out.push(format!("--cpu-affinity={mask}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

fn main() -> ExitCode {
    let argv: Vec<String> = join_affinity_mask(std::env::args().collect());
    let cmd = cli::command();
    let argv = match cli::config::expand_args(&cmd, argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let matches = cmd.get_matches_from(argv);
    if let Err(e) = cli::cpuminer::refuse_unsupported(&matches) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if cli.cpuminer.no_color {
        // Before any thread starts: progress lines and the log read it.
        std::env::set_var("NO_COLOR", "1");
    }
    // cpuminer's -q hides the per-thread lines but keeps --benchmark's
    // Total lines, which scripts parse.
    let quiet = cli.common.quiet && !cli.cpuminer.benchmark;
    let verbose = cli.common.verbose.max(cli.cpuminer.verbosity());
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        // The HTTP client's own debug lines drown the miner's.
        (false, 1) => "debug,ureq=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = cli.common.log_format == cli::LogFormat::Json;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(noncesweep::report::progress::LogWriter)
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder
            .with_ansi(noncesweep::report::progress::colour_allowed())
            .init();
    }
    noncesweep::report::progress::set_json_logs(json);
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
