//! `noncesweep solo`: mine blocks for the user's own node over
//! getblocktemplate/submitblock. This file turns flags into an RPC client
//! and a [`noncesweep::sources::gbt::solo::SoloConfig`], and prints the summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use noncesweep::hashing::engine::MinerConfig;
use noncesweep::report::stats::{summary_line, SourceStatus, Stats};
use noncesweep::report::units::format_rate;
use noncesweep::sources::gbt::pending::{default_state_dir, manual_command};
use noncesweep::sources::gbt::rpc::RpcClient;
use noncesweep::sources::gbt::solo::{Solo, SoloConfig, SoloSummary};

use super::node::NodeArgs;
use super::Common;

#[derive(Debug, Args)]
pub struct SoloArgs {
    /// The node's RPC URL, e.g. http://127.0.0.1:18443 for regtest.
    #[arg(
        long = "rpc-url",
        short = 'o',
        visible_alias = "url",
        value_name = "URL"
    )]
    pub rpc_url: String,
    /// Where block rewards go (any address type of the node's network).
    #[arg(long, visible_alias = "coinbase-addr", value_name = "ADDR")]
    pub address: String,
    /// Text pushed into the coinbase scriptSig.
    #[arg(long, value_name = "TEXT", default_value = "/noncesweep/")]
    pub coinbase_message: String,
    /// Stop after this many accepted blocks.
    #[arg(long, value_name = "N")]
    pub max_blocks: Option<u64>,
    /// Seconds between template refreshes (new transactions and fees).
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub poll_interval: f64,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Where found blocks wait for the node's answer
    /// (default ~/.local/share/noncesweep).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the template's version: do not roll BIP320 version bits (by
    /// default bits 13-28 are rolled, which the SIMD kernels hash in
    /// groups of 32 versions per nonce).
    #[arg(long)]
    pub no_version_rolling: bool,
}

/// How the cpuminer-style front end tunes a solo run.
pub struct SoloOptions {
    /// Timeout of each RPC call (longpoll calls excepted).
    pub rpc_timeout: Duration,
    /// Whether to wait on the node's longpoll as well as polling.
    pub longpoll: bool,
    /// Polled often with the run's stats; `true` stops the run.
    pub stop: super::StopFn,
}

pub fn run(common: &Common, args: &SoloArgs) -> Result<()> {
    let opts = SoloOptions {
        rpc_timeout: Duration::from_secs(30),
        longpoll: true,
        stop: Arc::new(|_: &Stats| noncesweep::shutdown::requested()),
    };
    run_with(common, args, opts)
}

/// [`run`] with the RPC timeout, longpoll and stop condition given.
pub fn run_with(common: &Common, args: &SoloArgs, opts: SoloOptions) -> Result<()> {
    if !(args.poll_interval.is_finite() && args.poll_interval >= 0.1) {
        bail!("--poll-interval must be at least 0.1 seconds");
    }
    if args.max_blocks == Some(0) {
        bail!("--max-blocks must be at least 1");
    }
    let auth = args.node.auth(&args.rpc_url)?;
    let rpc = RpcClient::new(&args.rpc_url, auth, opts.rpc_timeout).map_err(|e| anyhow!(e))?;
    let state_dir = args
        .state_dir
        .clone()
        .or_else(default_state_dir)
        .ok_or_else(|| anyhow!("no --state-dir given and HOME is not set"))?;
    noncesweep::shutdown::install().map_err(|e| anyhow!(e))?;
    let threads = common.threads();
    let selection = common.selection();
    let backend = selection.backend();
    let stats = Stats::new("solo");
    stats.set_sources(vec![SourceStatus {
        url: args.rpc_url.clone(),
        kind: "getblocktemplate".into(),
        user: args.node.rpc_user.clone().unwrap_or_default(),
        status: "Alive".into(),
        ..Default::default()
    }]);
    stats.set_config(serde_json::json!({
        "rpc-url": args.rpc_url,
        "address": args.address,
        "network": args.node.network.map(|n| n.to_string()),
        "coinbase-message": args.coinbase_message,
        "max-blocks": args.max_blocks,
        "poll-interval": args.poll_interval,
        "rpc-user": args.node.rpc_user,
        "rpc-password": args.node.rpc_password,
        "rpc-cookie": args.node.rpc_cookie,
        "threads": threads,
        "backend": backend.name(),
        "version-rolling": !args.no_version_rolling,
    }));
    let info = super::monitor::run_info(&selection, !args.no_version_rolling);
    let monitoring = common.monitor.start(&stats, common.quiet, info)?;
    let cfg = SoloConfig {
        address: args.address.clone(),
        network: args.node.network,
        tag: args.coinbase_message.as_bytes().to_vec(),
        max_blocks: args.max_blocks,
        poll_interval: Duration::from_secs_f64(args.poll_interval),
        state_dir: state_dir.clone(),
        miner: MinerConfig::from_selection(&selection, threads),
        version_mask: if args.no_version_rolling {
            0
        } else {
            noncesweep::hashing::work::BIP320_MASK
        },
        stop: {
            let (stop, stats) = (opts.stop, Arc::clone(&stats));
            Arc::new(move || stop(&stats))
        },
        longpoll: opts.longpoll,
        show_progress: true,
        events: None,
        stats: Some(Arc::clone(&stats)),
    };
    let result = Solo::new(Arc::new(rpc), cfg).and_then(Solo::run);
    drop(monitoring);
    if noncesweep::shutdown::requested() {
        tracing::info!("{}", summary_line(&stats.snapshot()));
    }
    match result {
        Ok(summary) => {
            print_summary(&summary);
            Ok(())
        }
        Err(e) => {
            print_pending_from(&state_dir);
            Err(e.into())
        }
    }
}

fn print_summary(s: &SoloSummary) {
    let secs = s.elapsed.as_secs_f64();
    println!(
        "summary: {} block(s) accepted, {} rejected, {} stale, {} pending; {} hashes in {:.1} s ({})",
        s.accepted.len(),
        s.rejected.len(),
        s.stale.len(),
        s.pending.len(),
        s.hashes,
        secs,
        format_rate(s.hashes as f64 / secs.max(1e-9))
    );
    for (h, hash) in &s.accepted {
        println!("  accepted: height {h} hash {hash}");
    }
    for (h, hash, why) in &s.rejected {
        println!("  rejected: height {h} hash {hash}: {why}");
    }
    for (h, hash, why) in &s.stale {
        println!("  stale: height {h} hash {hash}: {why}, kept on a side branch");
    }
    print_pending(&s.pending_dir, &s.pending);
}

fn print_pending(
    dir: &std::path::Path,
    pending: &[noncesweep::sources::gbt::pending::PendingBlock],
) {
    if pending.is_empty() {
        return;
    }
    println!(
        "{} found block(s) were not answered by the node yet. They are kept in {} and will be submitted at the next start; to submit by hand:",
        pending.len(),
        dir.display()
    );
    for b in pending {
        println!("  {}", manual_command(b));
    }
}

fn print_pending_from(state_dir: &std::path::Path) {
    if let Ok(store) = noncesweep::sources::gbt::pending::PendingStore::open(state_dir) {
        if let Ok(list) = store.list() {
            print_pending(store.dir(), &list);
        }
    }
}
