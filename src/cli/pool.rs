//! `noncesweep pool`: mine for a Stratum v1 or V2 pool (with backups of
//! either protocol), print a
//! status line every few seconds on stderr and a summary on stdout when
//! stopped (Ctrl-C, SIGTERM or `--max-shares`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use noncesweep::hashing::engine::{Miner, MinerConfig};
use noncesweep::report::stats::{summary_line, Stats};
use noncesweep::report::units::format_rate;
use noncesweep::shutdown;
use noncesweep::sources::accounting::ShareStats;
use noncesweep::sources::pool::{PoolUrl, UrlError};
use noncesweep::sources::pools;
use noncesweep::sources::stratum::session::SessionConfig;
use noncesweep::sources::stratum::wire::Difficulty;
use noncesweep::sources::sv2::key::AuthorityKey;
use noncesweep::sources::sv2::session::{ChannelChoice, Sv2Settings};

use super::Common;

#[derive(Debug, Args)]
pub struct PoolArgs {
    /// Pool URL: stratum+tcp://host:port, or stratum+ssl:// (alias
    /// stratum+tls://) for TLS; Stratum V2:
    /// stratum2+tcp://host:port/AUTHORITY_PUBKEY. Repeat for backup pools,
    /// in order of preference (the protocols may be mixed).
    #[arg(short = 'o', long = "url", value_name = "URL", required = true, value_parser = parse_url)]
    pub urls: Vec<PoolUrl>,
    /// Pool user (often `ADDRESS.WORKER` or `ACCOUNT.WORKER`).
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: String,
    /// Pool password (most pools ignore it; some read options from it).
    #[arg(
        short = 'p',
        long = "pass",
        value_name = "PASS",
        env = "NONCESWEEP_POOL_PASSWORD",
        hide_env_values = true,
        default_value = "x"
    )]
    pub password: String,
    /// Ask the pool for this share difficulty (mining.suggest_difficulty).
    #[arg(long = "suggest-diff", value_name = "D", value_parser = parse_difficulty)]
    pub suggest_diff: Option<Difficulty>,
    /// Do not ask for BIP310 version rolling.
    #[arg(long)]
    pub no_version_rolling: bool,
    /// The version bits to ask the pool to roll (hex, default 1fffe000,
    /// BIP320's bits). Only bits both asked for and granted are rolled.
    #[arg(long, value_name = "HEX", value_parser = parse_version_mask, conflicts_with = "no_version_rolling")]
    pub version_mask: Option<u32>,
    /// Accept any TLS certificate (self-signed test pools only).
    #[arg(long)]
    pub tls_insecure: bool,
    /// Stop after this many accepted shares.
    #[arg(long, value_name = "N")]
    pub max_shares: Option<u64>,
    /// Reconnect when nothing is heard from the pool for this many seconds.
    #[arg(
        short = 'T',
        long = "timeout",
        value_name = "SECS",
        default_value = "300"
    )]
    pub timeout: u64,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub retry_max: f64,
    /// While on a backup pool, check this often (seconds) whether an
    /// earlier pool is back.
    #[arg(long, value_name = "SECS", default_value = "60")]
    pub failback: f64,
    /// With no pool connected for this long (seconds), stop hashing until a
    /// pool sends work again, since the last job goes stale. Shares found
    /// before are kept and submitted after the reconnect.
    #[arg(long, value_name = "SECS", default_value = "120")]
    pub offline_grace: f64,
    /// Hosts a pool may move us to with client.reconnect, besides hosts of
    /// its own registered domain (comma-separated, or repeat the flag).
    #[arg(long, value_name = "HOST[,HOST]", value_delimiter = ',')]
    pub allow_reconnect_to: Vec<String>,
    /// Stratum V2: the pool's authority public key, for stratum2+tcp://
    /// URLs that do not end in one. The pool's certificate must be signed
    /// by it.
    #[arg(long, value_name = "KEY", value_parser = parse_authority_key)]
    pub sv2_authority_key: Option<AuthorityKey>,
    /// Stratum V2: the channel to open (auto: extended when the pool
    /// allows it, else standard, header-only).
    #[arg(long, value_name = "KIND", value_enum, default_value_t = ChannelChoice::Auto)]
    pub sv2_channel: ChannelChoice,
    /// Stratum V2: the hash rate to announce when opening a channel
    /// (e.g. `50MH/s`, `1.2GH`; default: calibration's rate times the threads).
    /// The pool sets the first share target from it.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub sv2_hash_rate: Option<f64>,
    /// Stratum V2: seconds between comparisons of the measured hash rate
    /// with the announced one; when they differ by more than half, the
    /// measured one is sent with UpdateChannel (0: never).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_check)]
    pub sv2_rate_check: f64,
    /// Follow client.reconnect only to the pool's own host or the
    /// --allow-reconnect-to list (cpuminer's --no-redirect).
    #[arg(skip)]
    pub no_redirect: bool,
}

fn parse_authority_key(s: &str) -> Result<AuthorityKey, String> {
    s.parse()
        .map_err(|e| format!("{s:?} is not a Stratum V2 authority key: {e}"))
}

fn parse_url(s: &str) -> Result<PoolUrl, String> {
    s.parse().map_err(|e: UrlError| e.to_string())
}

/// `--version-mask`: hex digits (with or without `0x`), some bit set, none
/// of the top three (BIP9's version prefix, which rolling must not touch).
pub fn parse_version_mask(s: &str) -> Result<u32, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mask = u32::from_str_radix(hex, 16)
        .ok()
        .filter(|_| !hex.is_empty() && hex.len() <= 8)
        .ok_or_else(|| {
            format!("{s:?} is not a version mask: give up to 8 hex digits, e.g. 1fffe000")
        })?;
    if mask == 0 {
        return Err("a version mask of 0 rolls nothing; use --no-version-rolling".into());
    }
    if mask & 0xe000_0000 != 0 {
        return Err(format!(
            "version mask {mask:08x} touches bits 29-31, which say how to read the version (BIP9) and cannot be rolled"
        ));
    }
    Ok(mask)
}

fn parse_difficulty(s: &str) -> Result<Difficulty, String> {
    let d: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    Difficulty::new(d)
        .map_err(|_| format!("difficulty must be a finite number above zero, got {s}"))
}

fn seconds(name: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("--{name} must be a non-negative number of seconds"))
}

pub fn run(common: &Common, args: &PoolArgs) -> Result<()> {
    run_with(common, args, Arc::new(|_: &Stats| shutdown::requested()))
}

/// [`run`], stopping when `stop` says so (polled often with the run's
/// stats).
pub fn run_with(common: &Common, args: &PoolArgs, stop: super::StopFn) -> Result<()> {
    if args.user.is_empty() {
        anyhow::bail!("--user must not be empty");
    }
    let mut cfg = SessionConfig::new(args.urls.clone(), args.user.clone(), args.password.clone());
    cfg.suggest_difficulty = args.suggest_diff;
    cfg.version_rolling = !args.no_version_rolling;
    if let Some(mask) = args.version_mask {
        cfg.version_mask = mask;
    }
    cfg.tls_insecure = args.tls_insecure;
    cfg.pool.max_shares = args.max_shares;
    cfg.pool.idle_timeout = Duration::from_secs(args.timeout.max(1));
    cfg.pool.backoff_max = seconds("retry-max", args.retry_max)?.max(cfg.pool.backoff_min);
    cfg.pool.failback_interval = seconds("failback", args.failback)?;
    cfg.pool.offline_grace = seconds("offline-grace", args.offline_grace)?;
    cfg.allow_reconnect_to = args
        .allow_reconnect_to
        .iter()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    cfg.reconnect_same_domain = !args.no_redirect;
    if let Err(e) = shutdown::install() {
        tracing::warn!("{e}");
    }
    let selection = common.selection();
    let backend = selection.backend();
    let threads = common.threads();
    let (tx, rx) = std::sync::mpsc::channel();
    let miner = Miner::start(MinerConfig::from_selection(&selection, threads), tx)?;
    tracing::info!(
        threads,
        pools = args.urls.len(),
        user = %args.user,
        "pool mining (Ctrl-C prints a summary and stops)"
    );
    let stats = Arc::new(std::sync::Mutex::new(ShareStats::default()));
    let report = Stats::new("pool");
    report.set_hash_source(Arc::new(miner.hash_counts()));
    report.set_config(serde_json::json!({
        "url": args.urls.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "user": args.user,
        "pass": args.password,
        "threads": threads,
        "backend": backend.name(),
    }));
    let info = super::monitor::run_info(&selection, !args.no_version_rolling);
    let monitoring = common.monitor.start(&report, common.quiet, info)?;
    let t0 = Instant::now();
    let mut sv2 = Sv2Settings::new(
        args.sv2_hash_rate
            .unwrap_or_else(|| announced_hash_rate(&selection, threads)),
    );
    sv2.hash_rate_check = Duration::from_secs_f64(args.sv2_rate_check);
    sv2.authority_key = args.sv2_authority_key;
    sv2.channel = args.sv2_channel;
    sv2.version_rolling = cfg.version_rolling;
    sv2.version_mask = cfg.version_mask;
    sv2.allow_reconnect_to = cfg.allow_reconnect_to.clone();
    sv2.reconnect_same_domain = cfg.reconnect_same_domain;
    let result = pools::run(&cfg, sv2, &miner, &rx, Arc::clone(&stats), &report, &|| {
        stop(&report)
    });
    let snapshot = report.snapshot();
    drop(monitoring);
    let hashes = miner.counters().total();
    let false_hits = miner.false_hits();
    miner.stop();
    let secs = t0.elapsed().as_secs_f64();
    let st = stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
    print!("{}", st.summary());
    println!("{}", summary_line(&snapshot));
    println!(
        "hashes {hashes} in {secs:.1} s, {} on {threads} thread(s) with {backend}",
        format_rate(hashes as f64 / secs.max(1e-9))
    );
    if false_hits > 0 {
        println!("kernel false hits {false_hits} (dropped before submission)");
    }
    result.map_err(Into::into)
}

/// `--sv2-hash-rate`: a rate with its unit (`profit`'s parser), above 0
/// and within the `f32` the protocol carries.
fn parse_rate(s: &str) -> Result<f64, String> {
    // The parser's messages name `profit`'s flag.
    let r = noncesweep::profit::parse_hashrate(s)
        .map_err(|e| e.to_string().replacen("--hashrate ", "", 1))?;
    if r > 0.0 && r <= f32::MAX as f64 {
        Ok(r)
    } else {
        Err(format!(
            "{s}: the hash rate must be above 0 and fit the protocol's 32-bit float"
        ))
    }
}

/// `--sv2-rate-check`: 0 (never) or 1 s to a day.
fn parse_check(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v == 0.0 || (1.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s}: give 0 (never) or a number of seconds from 1 to 86400"
        )),
    }
}

/// The hash rate a Stratum V2 channel is opened with (the pool's first
/// share target follows it): calibration's rate of the kernel that mines
/// version-rolling work, times the threads. Without a calibration (one
/// candidate only) a modest 2 MH/s per thread; the pool's own adjustment
/// takes over from its shares.
fn announced_hash_rate(selection: &noncesweep::hashing::sha256::Selection, threads: usize) -> f64 {
    let per_thread = selection
        .rates
        .iter()
        .find(|(c, _)| *c == selection.rolling)
        .map(|(_, r)| *r)
        .unwrap_or(2.0e6);
    per_thread * threads as f64
}

#[cfg(test)]
mod tests {
    use super::{parse_check, parse_rate, parse_version_mask};

    #[test]
    fn sv2_rate_flags_take_rates_and_seconds_and_refuse_the_rest() {
        assert_eq!(parse_rate("45MH/s"), Ok(45e6));
        assert_eq!(parse_rate("1EH"), Ok(1e18));
        for bad in ["0H", "50M", "", "fast", "1e40H"] {
            let e = parse_rate(bad).expect_err(bad);
            assert!(!e.contains("--hashrate"), "{bad}: {e}");
        }
        assert_eq!(parse_check("0"), Ok(0.0));
        assert_eq!(parse_check("60"), Ok(60.0));
        for bad in ["0.5", "-1", "86401", "never", "NaN"] {
            assert!(parse_check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_masks_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_version_mask("1fffe000"), Ok(0x1fff_e000));
        assert_eq!(parse_version_mask("0x0001E000"), Ok(0x0001_e000));
        assert!(parse_version_mask("0")
            .unwrap_err()
            .contains("--no-version-rolling"));
        assert!(parse_version_mask("ffffffff")
            .unwrap_err()
            .contains("29-31"));
        for bad in ["", "0x", "zz", "1fffe0000", "-1"] {
            assert!(parse_version_mask(bad).is_err(), "{bad:?}");
        }
    }
}
