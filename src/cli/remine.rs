//! `noncesweep remine`: re-mines a header and prints nonce, hash and rate.

use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::Args;
use noncesweep::hashing::header::HeaderTemplate;
use noncesweep::remine;
use noncesweep::report::progress::Progress;
use noncesweep::report::units::{format_count, format_rate, parse_u32};

use super::Common;

#[derive(Debug, Args)]
pub struct RemineArgs {
    /// The 80-byte header as 160 hex characters; its own nonce is ignored.
    #[arg(long, value_name = "HEX")]
    pub header: String,
    /// First nonce to try (decimal or 0x hex).
    #[arg(long, default_value = "0", value_parser = parse_u32, value_name = "N")]
    pub from: u32,
    /// Last nonce to try, inclusive (decimal or 0x hex).
    #[arg(long, default_value = "4294967295", value_parser = parse_u32, value_name = "N")]
    pub to: u32,
}

pub fn run(common: &Common, args: &RemineArgs) -> Result<()> {
    let header = HeaderTemplate::from_hex(&args.header).context("bad --header")?;
    let backend = common.backend();
    let threads = common.threads();
    let total = (args.to as u64 + 1).saturating_sub(args.from as u64);
    let progress = Progress::new("remine", Some(total));
    let cancel = AtomicBool::new(false);
    let result = remine::remine(
        &header,
        args.from,
        args.to,
        backend,
        threads,
        &|d| progress.set(d),
        &cancel,
    );
    progress.finish();
    let r = result?;
    let secs = r.elapsed.as_secs_f64();
    println!("nonce {} ({:#010x})", r.nonce, r.nonce);
    println!("hash {}", r.hash);
    println!(
        "swept {} hashes ({}) in {:.2} s, {} on {} thread(s) with {}",
        r.hashes,
        format_count(r.hashes as f64),
        secs,
        format_rate(r.hashes as f64 / secs.max(1e-9)),
        threads,
        backend
    );
    Ok(())
}
