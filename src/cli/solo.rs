//! `noncesweep solo`: mine blocks for the user's own node over
//! getblocktemplate/submitblock. This file turns flags into an RPC client
//! and a [`noncesweep::gbt::solo::SoloConfig`], and prints the summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use noncesweep::engine::MinerConfig;
use noncesweep::gbt::pending::{default_state_dir, manual_command};
use noncesweep::gbt::rpc::{cookie_path, default_datadir, Auth, RpcClient};
use noncesweep::gbt::solo::{Solo, SoloConfig, SoloSummary};
use noncesweep::gbt::Network;
use noncesweep::units::format_rate;

use super::Common;

/// Environment variable holding the RPC password.
pub const PASSWORD_ENV: &str = "NONCESWEEP_RPC_PASSWORD";

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
    /// The node's network: regtest, signet, testnet3, testnet4 or mainnet
    /// (default: from the RPC port when it is Core's default, else mainnet).
    /// Used to find the cookie and checked against the node.
    #[arg(long, value_name = "NAME", value_parser = parse_network)]
    pub network: Option<Network>,
    /// Text pushed into the coinbase scriptSig.
    #[arg(long, value_name = "TEXT", default_value = "/noncesweep/")]
    pub coinbase_message: String,
    /// Stop after this many accepted blocks.
    #[arg(long, value_name = "N")]
    pub max_blocks: Option<u64>,
    /// Seconds between template refreshes (new transactions and fees).
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub poll_interval: f64,
    /// RPC user (the password comes from --rpc-password-file, the
    /// NONCESWEEP_RPC_PASSWORD environment variable or --rpc-password).
    #[arg(long, value_name = "USER")]
    pub rpc_user: Option<String>,
    /// RPC password on the command line (visible to other local users:
    /// prefer --rpc-password-file or NONCESWEEP_RPC_PASSWORD).
    #[arg(long, value_name = "PASSWORD")]
    pub rpc_password: Option<String>,
    /// File whose first line is the RPC password.
    #[arg(long, value_name = "FILE")]
    pub rpc_password_file: Option<PathBuf>,
    /// The node's cookie file (default: found from --datadir and --network).
    #[arg(long, value_name = "PATH", conflicts_with = "rpc_user")]
    pub rpc_cookie: Option<PathBuf>,
    /// The node's data directory, for the cookie (default ~/.bitcoin).
    #[arg(long, value_name = "DIR")]
    pub datadir: Option<PathBuf>,
    /// Where found blocks wait for the node's answer
    /// (default ~/.local/share/noncesweep).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

fn parse_network(s: &str) -> Result<Network, String> {
    s.parse()
}

fn url_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn auth(args: &SoloArgs) -> Result<Auth> {
    if let Some(user) = &args.rpc_user {
        let env = std::env::var(PASSWORD_ENV).ok();
        let password = if let Some(file) = &args.rpc_password_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --rpc-password-file {}", file.display()))?;
            text.lines().next().unwrap_or("").to_string()
        } else if let Some(p) = &args.rpc_password {
            tracing::warn!("a password given with --rpc-password is visible to other users of this machine (ps); prefer --rpc-password-file or {PASSWORD_ENV}");
            p.clone()
        } else if let Some(p) = env {
            p
        } else {
            bail!("--rpc-user needs a password: --rpc-password-file FILE, the {PASSWORD_ENV} environment variable, or --rpc-password");
        };
        return Ok(Auth::UserPass {
            user: user.clone(),
            password,
        });
    }
    if args.rpc_password.is_some() || args.rpc_password_file.is_some() {
        bail!("a password needs --rpc-user");
    }
    if let Some(c) = &args.rpc_cookie {
        return Ok(Auth::Cookie(c.clone()));
    }
    let network = args
        .network
        .or_else(|| url_port(&args.rpc_url).and_then(Network::from_default_rpc_port))
        .unwrap_or(Network::Mainnet);
    let datadir = args
        .datadir
        .clone()
        .or_else(default_datadir)
        .ok_or_else(|| anyhow!("no --datadir given and HOME is not set"))?;
    let path = cookie_path(&datadir, network);
    tracing::info!(cookie = %path.display(), "using the node's cookie file");
    Ok(Auth::Cookie(path))
}

pub fn run(common: &Common, args: &SoloArgs) -> Result<()> {
    if !(args.poll_interval.is_finite() && args.poll_interval >= 0.1) {
        bail!("--poll-interval must be at least 0.1 seconds");
    }
    if args.max_blocks == Some(0) {
        bail!("--max-blocks must be at least 1");
    }
    let auth = auth(args)?;
    let rpc =
        RpcClient::new(&args.rpc_url, auth, Duration::from_secs(30)).map_err(|e| anyhow!(e))?;
    let state_dir = args
        .state_dir
        .clone()
        .or_else(default_state_dir)
        .ok_or_else(|| anyhow!("no --state-dir given and HOME is not set"))?;
    noncesweep::shutdown::install().map_err(|e| anyhow!(e))?;
    let threads = common.threads();
    let backend = common.backend();
    let cfg = SoloConfig {
        address: args.address.clone(),
        network: args.network,
        tag: args.coinbase_message.as_bytes().to_vec(),
        max_blocks: args.max_blocks,
        poll_interval: Duration::from_secs_f64(args.poll_interval),
        state_dir: state_dir.clone(),
        miner: MinerConfig::new(backend, threads),
        stop: Arc::new(noncesweep::shutdown::requested),
        show_progress: true,
        events: None,
    };
    let result = Solo::new(Arc::new(rpc), cfg).and_then(Solo::run);
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
        "summary: {} block(s) accepted, {} rejected, {} pending; {} hashes in {:.1} s ({})",
        s.accepted.len(),
        s.rejected.len(),
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
    print_pending(&s.pending_dir, &s.pending);
}

fn print_pending(dir: &std::path::Path, pending: &[noncesweep::gbt::pending::PendingBlock]) {
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
    if let Ok(store) = noncesweep::gbt::pending::PendingStore::open(state_dir) {
        if let Ok(list) = store.list() {
            print_pending(store.dir(), &list);
        }
    }
}
