//! How to reach and log in to a node's JSON-RPC: the network, user and
//! password (flag, file or environment), cookie file and data directory.
//! Shared by `solo` and by `profit --rpc-url`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use noncesweep::sources::gbt::rpc::{cookie_path, default_datadir, Auth, RpcClient};
use noncesweep::sources::gbt::Network;

/// Environment variable holding the RPC password.
pub const PASSWORD_ENV: &str = "NONCESWEEP_RPC_PASSWORD";

#[derive(Debug, Args, Clone, Default)]
pub struct NodeArgs {
    /// The node's network: regtest, signet, testnet3, testnet4 or mainnet
    /// (default: from the RPC port when it is Core's default, else mainnet).
    /// Used to find the cookie and checked against the node.
    #[arg(long, value_name = "NAME", value_parser = parse_network)]
    pub network: Option<Network>,
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
}

impl NodeArgs {
    /// How to authenticate to the node at `url`.
    pub fn auth(&self, url: &str) -> Result<Auth> {
        auth(self, url)
    }

    /// An RPC client for the node at `url`.
    pub fn client(&self, url: &str, timeout: Duration) -> Result<RpcClient> {
        RpcClient::new(url, self.auth(url)?, timeout).map_err(|e| anyhow!(e))
    }
}

fn parse_network(s: &str) -> Result<Network, String> {
    s.parse()
}

fn url_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn auth(args: &NodeArgs, url: &str) -> Result<Auth> {
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
        .or_else(|| url_port(url).and_then(Network::from_default_rpc_port))
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
