//! cpuminer-compatible invocation. With no command, noncesweep takes the
//! flags of cpuminer (pooler's) and cpuminer-opt, so that the scripts,
//! systemd units and container images written for them run unchanged:
//! `-o stratum+tcp://…` mines for a pool, `-o http://HOST:PORT` mines solo
//! against a node over getblocktemplate, `--benchmark` hashes offline and
//! prints `Total: N.NN MH/s` lines. A cpuminer flag noncesweep does not
//! support is refused by name with the reason, never silently ignored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command};
use noncesweep::hashing::engine::{self, Miner, MinerConfig};
use noncesweep::report::stats::{SourceStatus, Stats};
use noncesweep::sources::pool::PoolUrl;

use super::monitor::{self, set_niceness};
use super::node::NodeArgs;
use super::pool::PoolArgs;
use super::solo::{SoloArgs, SoloOptions};
use super::Common;

/// Algorithms `-a` accepts: SHA-256d, and `sha256`, the name some setups
/// give it.
pub const ALGORITHMS: &[&str] = &["sha256d", "sha256"];

/// cpuminer's flags, accepted when no command is given.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "cpuminer-compatible options (without a command)")]
pub struct CpuminerArgs {
    /// The algorithm: sha256d (or sha256); anything else is refused.
    #[arg(short = 'a', long = "algo", value_name = "ALGO")]
    pub algo: Option<String>,
    /// Mine for a pool (stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT;
    /// repeat for backups) or solo for a node (http://HOST:PORT).
    #[arg(short = 'o', long = "url", value_name = "URL")]
    pub url: Vec<String>,
    /// USER:PASS in one argument.
    #[arg(short = 'O', long = "userpass", value_name = "USER:PASS")]
    pub userpass: Option<String>,
    /// Pool user, or the node's RPC user (solo).
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Pool password, or the node's RPC password (solo).
    #[arg(short = 'p', long = "pass", value_name = "PASS")]
    pub pass: Option<String>,
    /// Solo: the address block rewards go to.
    #[arg(long = "coinbase-addr", value_name = "ADDR")]
    pub coinbase_addr: Option<String>,
    /// Solo: text put in the coinbase.
    #[arg(long = "coinbase-sig", value_name = "TEXT")]
    pub coinbase_sig: Option<String>,
    /// Give up after this many failed retries of the connection (-1: never).
    #[arg(
        short = 'r',
        long = "retries",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub retries: Option<i64>,
    /// Seconds between retries (default 30).
    #[arg(short = 'R', long = "retry-pause", value_name = "SECS")]
    pub retry_pause: Option<u64>,
    /// Network timeout in seconds (pool: silence before reconnecting,
    /// default 300; node: each RPC call, default 30).
    #[arg(short = 'T', long = "timeout", value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Solo: seconds between template refreshes (default 30);
    /// --benchmark: seconds between reports (default 5).
    #[arg(short = 's', long = "scantime", value_name = "SECS")]
    pub scantime: Option<u64>,
    /// Solo: do not wait on the node's longpoll; poll only.
    #[arg(long = "no-longpoll")]
    pub no_longpoll: bool,
    /// Accepted: noncesweep never uses getwork.
    #[arg(long = "no-getwork")]
    pub no_getwork: bool,
    /// Accepted: noncesweep never switches an http:// URL to Stratum.
    #[arg(long = "no-stratum")]
    pub no_stratum: bool,
    /// Follow a pool's client.reconnect only to the same host (by default
    /// also to hosts of the pool's registered domain).
    #[arg(long = "no-redirect")]
    pub no_redirect: bool,
    /// Hash offline and print each thread's rate and `Total: N.NN MH/s`.
    #[arg(long)]
    pub benchmark: bool,
    /// Stop after this many seconds.
    #[arg(long = "time-limit", value_name = "SECS")]
    pub time_limit: Option<u64>,
    /// Debug output (as -v).
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Log every line exchanged with the pool (as -vv).
    #[arg(short = 'P', long = "protocol-dump", visible_alias = "protocol")]
    pub protocol_dump: bool,
    /// Each thread's rate with every status line (as --per-thread).
    #[arg(long = "hash-meter")]
    pub hash_meter: bool,
    /// No colours in the log (as NO_COLOR=1).
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Serve the cgminer-compatible API on [HOST:]PORT (HOST defaults to
    /// 127.0.0.1).
    #[arg(short = 'b', long = "api-bind", value_name = "[HOST:]PORT")]
    pub api_bind: Option<String>,
    /// Process priority: 0 idle, 1 low, 2 normal, 3 above normal, 4 high,
    /// 5 highest (3 to 5 need root or CAP_SYS_NICE).
    #[arg(long = "cpu-priority", value_name = "N")]
    pub cpu_priority: Option<u8>,
}

/// A cpuminer flag noncesweep refuses, and why.
pub struct Unsupported {
    pub long: &'static str,
    pub short: Option<char>,
    pub takes_value: bool,
    pub reason: &'static str,
}

const fn refuse(
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    reason: &'static str,
) -> Unsupported {
    Unsupported {
        long,
        short,
        takes_value,
        reason,
    }
}

const SCRYPT_PARAM: &str =
    "it sets a parameter of other algorithms; noncesweep mines only SHA-256d";
const DIFF: &str = "noncesweep mines at the difficulty the pool sets; to ask for another, use `noncesweep pool --suggest-diff D`";

/// Every cpuminer / cpuminer-opt flag that noncesweep does not support.
pub const UNSUPPORTED: &[Unsupported] = &[
    refuse("proxy", Some('x'), true, "noncesweep does not connect through proxies; run it where it reaches the pool, or forward the port (ssh -L)"),
    refuse("cert", None, true, "noncesweep checks a TLS pool against the web's root certificates; for a self-signed test pool use `noncesweep pool --tls-insecure`"),
    refuse("diff-factor", Some('f'), true, DIFF),
    refuse("diff", None, true, DIFF),
    refuse("diff-multiplier", Some('m'), true, DIFF),
    refuse("no-gbt", None, false, "noncesweep mines solo only over getblocktemplate, so it cannot be turned off"),
    refuse("no-extranonce", None, false, "noncesweep always follows the pool's extranonce changes"),
    refuse("randomize", None, false, "noncesweep's threads sweep disjoint nonce ranges, so there are no duplicate scans to randomize away"),
    refuse("hide-diff", None, false, "the status line always shows the difficulty"),
    refuse("syslog", Some('S'), false, "noncesweep logs to stderr (text, or --log-format json); let journald or logger(1) take it"),
    refuse("background", Some('B'), false, "run noncesweep under systemd, nohup or a container instead"),
    refuse("cputest", None, false, "use `noncesweep bench` to test every hashing backend"),
    refuse("api-remote", None, false, "the monitoring API is read-only: nothing can be changed remotely"),
    refuse("max-temp", None, true, "noncesweep does not read CPU temperatures"),
    refuse("max-rate", None, true, "noncesweep does not watch the network hashrate"),
    refuse("max-diff", None, true, "noncesweep does not pause on the network difficulty"),
    refuse("param-n", Some('N'), true, SCRYPT_PARAM),
    refuse("param-r", None, true, SCRYPT_PARAM),
    refuse("param-key", Some('K'), true, SCRYPT_PARAM),
    refuse("key", None, true, SCRYPT_PARAM),
    refuse("stratum-keepalive", None, false, "noncesweep reconnects after --timeout seconds of silence instead"),
    refuse("data-file", None, true, SCRYPT_PARAM),
    refuse("verify", None, false, "noncesweep re-checks every share with the bitcoin crate's header hash already"),
];

/// Add the refused flags to the command line, hidden, so that they parse
/// and can be refused by name.
pub fn add_unsupported(mut cmd: Command) -> Command {
    for u in UNSUPPORTED {
        let mut arg = Arg::new(u.long).long(u.long).hide(true);
        if let Some(c) = u.short {
            arg = arg.short(c);
        }
        arg = if u.takes_value {
            arg.action(ArgAction::Set).allow_hyphen_values(true)
        } else {
            arg.action(ArgAction::SetTrue)
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Refuse any unsupported cpuminer flag that was given, by name.
pub fn refuse_unsupported(m: &ArgMatches) -> Result<()> {
    for u in UNSUPPORTED {
        if m.value_source(u.long) == Some(ValueSource::CommandLine) {
            let name = match u.short {
                Some(c) => format!("-{c}/--{}", u.long),
                None => format!("--{}", u.long),
            };
            bail!("cpuminer's {name} is not supported: {}", u.reason);
        }
    }
    Ok(())
}

/// What the URLs given with `-o` ask for.
enum Target {
    Pool(Vec<PoolUrl>),
    Node(String),
}

fn target(urls: &[String]) -> Result<Target> {
    let mut pools = Vec::new();
    let mut nodes = Vec::new();
    for u in urls {
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("stratum+") || lower.starts_with("stratum2+") {
            pools.push(u.parse::<PoolUrl>().map_err(|e| anyhow!("-o {u}: {e}"))?);
        } else if lower.starts_with("http://") {
            nodes.push(u.clone());
        } else if lower.starts_with("https://") {
            bail!("-o {u}: a node's RPC is plain http:// (keep it on the node's machine or a trusted network)");
        } else if !u.contains("://") {
            // cpuminer reads a bare HOST:PORT as http.
            nodes.push(format!("http://{u}"));
        } else {
            bail!("-o {u}: use stratum+tcp://, stratum+ssl:// or stratum2+tcp://HOST:PORT/KEY for a pool, http://HOST:PORT for a node");
        }
    }
    match (pools.is_empty(), nodes.len()) {
        (false, 0) => Ok(Target::Pool(pools)),
        (true, 1) => Ok(Target::Node(nodes.remove(0))),
        (true, 0) => bail!("no -o URL given"),
        (true, _) => bail!("solo mining takes one node URL (-o http://HOST:PORT)"),
        (false, _) => bail!("-o mixes pools and a node: give stratum URLs or one http:// URL"),
    }
}

impl CpuminerArgs {
    /// Whether any of these flags was given (they belong to no command).
    pub fn is_set(&self) -> bool {
        self.algo.is_some()
            || self.mining_flags_given()
            || self.debug
            || self.protocol_dump
            || self.hash_meter
            || self.no_color
            || self.api_bind.is_some()
            || self.cpu_priority.is_some()
    }

    /// Flags that only make sense while mining (or with `--benchmark`).
    fn mining_flags_given(&self) -> bool {
        !self.url.is_empty()
            || self.userpass.is_some()
            || self.user.is_some()
            || self.pass.is_some()
            || self.coinbase_addr.is_some()
            || self.coinbase_sig.is_some()
            || self.retries.is_some()
            || self.retry_pause.is_some()
            || self.timeout.is_some()
            || self.scantime.is_some()
            || self.no_longpoll
            || self.no_getwork
            || self.no_stratum
            || self.no_redirect
            || self.benchmark
            || self.time_limit.is_some()
    }

    /// Whether this invocation mines (pool, node or `--benchmark`) rather
    /// than running noncesweep's own benchmark table.
    pub fn mines(&self) -> bool {
        self.benchmark || !self.url.is_empty()
    }

    /// Check the algorithm and flags that need others.
    pub fn validate(&self) -> Result<()> {
        if let Some(a) = &self.algo {
            if !ALGORITHMS.contains(&a.to_ascii_lowercase().as_str()) {
                bail!(
                    "unsupported algorithm {a:?}: noncesweep mines Bitcoin's proof of work only; supported: {}",
                    ALGORITHMS.join(", ")
                );
            }
        }
        if self.benchmark && !self.url.is_empty() {
            bail!("--benchmark hashes offline: drop -o, or drop --benchmark to mine");
        }
        if self.mining_flags_given() && !self.mines() {
            bail!("no -o URL: give -o stratum+tcp://HOST:PORT (pool), -o http://HOST:PORT (solo) or --benchmark");
        }
        if matches!(self.cpu_priority, Some(p) if p > 5) {
            bail!("--cpu-priority must be from 0 (idle) to 5 (highest)");
        }
        if self.retry_pause == Some(0) {
            bail!("--retry-pause must be at least 1 second");
        }
        Ok(())
    }

    /// The shared options with cpuminer's spellings folded in
    /// (`-b` → `--api-listen`, `--hash-meter` → `--per-thread`).
    pub fn apply_to(&self, common: &Common) -> Result<Common> {
        let mut c = common.clone();
        if let Some(bind) = &self.api_bind {
            if c.monitor.api_listen.is_some() {
                bail!("give either -b/--api-bind or --api-listen, not both");
            }
            let with_host = if bind.contains(':') {
                bind.clone()
            } else {
                format!("127.0.0.1:{bind}")
            };
            c.monitor.api_listen = Some(with_host.parse().map_err(|_| {
                anyhow!("-b/--api-bind {bind:?}: expected PORT or HOST:PORT (an IP address)")
            })?);
        }
        c.monitor.per_thread |= self.hash_meter;
        if self.cpu_priority.is_some() && c.monitor.nice.is_some() {
            bail!("give either --cpu-priority or --nice, not both");
        }
        Ok(c)
    }

    /// The log verbosity `-D` and `-P` ask for.
    pub fn verbosity(&self) -> u8 {
        if self.protocol_dump {
            2
        } else {
            u8::from(self.debug)
        }
    }

    /// The niceness of `--cpu-priority`.
    fn niceness(p: u8) -> i32 {
        match p {
            0 => 19,
            1 => 10,
            2 => 0,
            3 => -5,
            4 => -10,
            _ => -15,
        }
    }
}

/// When to stop a cpuminer-style run: Ctrl-C, `--time-limit`, or no pool
/// or node answering for as long as `-r` retries `-R` seconds apart last.
struct Limits {
    start: Instant,
    time_limit: Option<Duration>,
    give_up_after: Option<Duration>,
    offline_since: Mutex<Option<Instant>>,
    timed_out: AtomicBool,
    gave_up: AtomicBool,
}

/// Time allowed for connection attempts on top of `-r` × `-R`.
const CONNECT_GRACE: Duration = Duration::from_secs(10);

impl Limits {
    fn new(args: &CpuminerArgs) -> Limits {
        let pause = args.retry_pause.unwrap_or(30);
        Limits {
            start: Instant::now(),
            time_limit: args.time_limit.map(Duration::from_secs),
            give_up_after: args
                .retries
                .filter(|&n| n >= 0)
                .map(|n| Duration::from_secs((n as u64).saturating_mul(pause)) + CONNECT_GRACE),
            offline_since: Mutex::new(None),
            timed_out: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
        }
    }

    fn should_stop(&self, stats: &Stats) -> bool {
        if noncesweep::shutdown::requested() {
            return true;
        }
        if self.time_limit.is_some_and(|t| self.start.elapsed() >= t) {
            self.timed_out.store(true, Ordering::Relaxed);
            return true;
        }
        if let Some(after) = self.give_up_after {
            let up = stats.sources().iter().any(|s| s.status == "Alive");
            let mut since = self.offline_since.lock().unwrap_or_else(|e| e.into_inner());
            if up {
                *since = None;
            } else if since.get_or_insert_with(Instant::now).elapsed() >= after {
                self.gave_up.store(true, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Turn how the run ended into the exit status.
    fn finish(&self, result: Result<()>, args: &CpuminerArgs) -> Result<()> {
        if self.gave_up.load(Ordering::Relaxed) {
            result?;
            bail!(
                "gave up: no pool or node answered for {} s (-r {} retries, {} s apart)",
                self.give_up_after.unwrap_or_default().as_secs(),
                args.retries.unwrap_or_default(),
                args.retry_pause.unwrap_or(30)
            );
        }
        if self.timed_out.load(Ordering::Relaxed) {
            tracing::info!(
                "--time-limit of {} s reached, exiting",
                args.time_limit.unwrap_or_default()
            );
        }
        result
    }
}

/// Run a cpuminer-style invocation that mines (see [`CpuminerArgs::mines`]).
pub fn run(common: &Common, args: &CpuminerArgs) -> Result<()> {
    if let Some(p) = args.cpu_priority {
        set_niceness(CpuminerArgs::niceness(p), "--cpu-priority")?;
    }
    noncesweep::shutdown::install().map_err(|e| anyhow!(e))?;
    let limits = Arc::new(Limits::new(args));
    if args.benchmark {
        return benchmark(common, args, &limits);
    }
    let stop_limits = Arc::clone(&limits);
    let stop: super::StopFn = Arc::new(move |stats: &Stats| stop_limits.should_stop(stats));
    let result = match target(&args.url)? {
        Target::Pool(urls) => {
            let (user, pass) = credentials(args);
            let user =
                user.ok_or_else(|| anyhow!("pool mining needs -u USER (or -O USER:PASS)"))?;
            let pool = PoolArgs {
                urls,
                user,
                password: pass
                    .or_else(|| std::env::var("NONCESWEEP_POOL_PASSWORD").ok())
                    .unwrap_or_else(|| "x".into()),
                suggest_diff: None,
                no_version_rolling: false,
                version_mask: None,
                tls_insecure: false,
                max_shares: None,
                timeout: args.timeout.unwrap_or(300),
                retry_max: args.retry_pause.unwrap_or(30) as f64,
                failback: 60.0,
                offline_grace: 120.0,
                allow_reconnect_to: Vec::new(),
                sv2_authority_key: None,
                sv2_channel: Default::default(),
                sv2_hash_rate: None,
                sv2_rate_check: 60.0,
                no_redirect: args.no_redirect,
            };
            super::pool::run_with(common, &pool, stop)
        }
        Target::Node(url) => {
            let (user, pass) = credentials(args);
            let address = args.coinbase_addr.clone().ok_or_else(|| {
                anyhow!(
                    "solo mining (-o http://…) needs --coinbase-addr ADDRESS for the block reward"
                )
            })?;
            let solo = SoloArgs {
                rpc_url: url,
                address,
                coinbase_message: args
                    .coinbase_sig
                    .clone()
                    .unwrap_or_else(|| "/noncesweep/".into()),
                max_blocks: None,
                poll_interval: args.scantime.unwrap_or(30).max(1) as f64,
                node: NodeArgs {
                    rpc_user: user,
                    rpc_password: pass,
                    ..NodeArgs::default()
                },
                state_dir: None,
                no_version_rolling: false,
            };
            let opts = SoloOptions {
                rpc_timeout: Duration::from_secs(args.timeout.unwrap_or(30).max(1)),
                longpoll: !args.no_longpoll,
                stop,
            };
            super::solo::run_with(common, &solo, opts)
        }
    };
    limits.finish(result, args)
}

/// The user and password from `-u`/`-p`, or `-O USER:PASS`.
fn credentials(args: &CpuminerArgs) -> (Option<String>, Option<String>) {
    let (mut user, mut pass) = (args.user.clone(), args.pass.clone());
    if let Some(up) = &args.userpass {
        let (u, p) = up.split_once(':').unwrap_or((up.as_str(), ""));
        user = user.or_else(|| Some(u.to_string()));
        pass = pass.or_else(|| Some(p.to_string()));
    }
    (user, pass)
}

/// The `Total:` line of a benchmark report.
pub fn total_line(rate: f64) -> String {
    format!("Total: {:.2} MH/s", rate / 1e6)
}

/// cpuminer's `--benchmark`: hash offline on every thread, reporting each
/// thread's rate and the total every `-s` seconds (default 5) and at the
/// end.
fn benchmark(common: &Common, args: &CpuminerArgs, limits: &Limits) -> Result<()> {
    let selection = common.selection();
    let backend = selection.backend();
    let threads = common.threads();
    let (tx, _shares) = std::sync::mpsc::channel();
    let miner = Miner::start(MinerConfig::from_selection(&selection, threads), tx)?;
    let mut job = engine::synthetic_job(bitcoin::Target::ZERO);
    job.version_mask = noncesweep::hashing::work::BIP320_MASK;
    miner.set_job(Some(Arc::new(job)));
    let stats = Stats::new("benchmark");
    stats.set_hash_source(Arc::new(miner.hash_counts()));
    stats.set_sources(vec![SourceStatus::benchmark()]);
    stats.set_config(serde_json::json!({
        "command": "benchmark",
        "threads": threads,
        "backend": backend.name(),
        "time-limit": args.time_limit,
    }));
    // The report lines below are the status: no second status line.
    let monitoring = common
        .monitor
        .start(&stats, true, monitor::run_info(&selection, true))?;
    let every = Duration::from_secs(args.scantime.unwrap_or(5).max(1));
    tracing::info!(
        threads,
        %backend,
        "benchmark: hashing offline, a report every {} s (Ctrl-C stops)",
        every.as_secs()
    );
    let report = |from: &(Instant, Vec<u64>), to: &(Instant, Vec<u64>)| {
        let secs = to.0.duration_since(from.0).as_secs_f64().max(1e-9);
        let rates: Vec<f64> =
            to.1.iter()
                .enumerate()
                .map(|(i, &c)| c.saturating_sub(from.1.get(i).copied().unwrap_or(0)) as f64 / secs)
                .collect();
        if !common.quiet {
            for (i, r) in rates.iter().enumerate() {
                tracing::info!(target: "status", "CPU #{i}: {:.2} MH/s", r / 1e6);
            }
        }
        tracing::info!(target: "status", "{}", total_line(rates.iter().sum()));
    };
    let sample = || (Instant::now(), miner.counters().per_thread());
    let mut last = sample();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if limits.should_stop(&stats) {
            break;
        }
        if last.0.elapsed() >= every {
            let now = sample();
            report(&last, &now);
            last = now;
        }
    }
    let now = sample();
    if now.0.duration_since(last.0) >= Duration::from_millis(200) {
        report(&last, &now);
    }
    drop(monitoring);
    miner.stop();
    tracing::info!(
        "{}",
        noncesweep::report::stats::summary_line(&stats.snapshot())
    );
    limits.finish(Ok(()), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_pool_or_node() {
        let t = |u: &[&str]| target(&u.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(
            matches!(t(&["stratum+tcp://127.0.0.1:3333"]), Ok(Target::Pool(p)) if p.len() == 1)
        );
        // Stratum V2 pools (with a v1 backup) go to `pool` too.
        let key = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";
        assert!(matches!(
            t(&[&format!("stratum2+tcp://127.0.0.1:34254/{key}"), "stratum+tcp://b:2"]),
            Ok(Target::Pool(p)) if p.len() == 2
        ));
        assert!(
            matches!(t(&["http://127.0.0.1:18443"]), Ok(Target::Node(u)) if u == "http://127.0.0.1:18443")
        );
        assert!(
            matches!(t(&["127.0.0.1:9882"]), Ok(Target::Node(u)) if u == "http://127.0.0.1:9882")
        );
        for bad in [
            &["https://x:1"][..],
            &["ftp://x:1"],
            &["http://a:1", "http://b:2"],
            &["http://a:1", "stratum+tcp://b:2"],
        ] {
            assert!(t(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn userpass_splits_and_flags_win() {
        let mut a = CpuminerArgs {
            userpass: Some("alice:s3cret".into()),
            ..Default::default()
        };
        assert_eq!(
            credentials(&a),
            (Some("alice".into()), Some("s3cret".into()))
        );
        a.user = Some("bob".into());
        assert_eq!(credentials(&a).0.as_deref(), Some("bob"));
    }

    #[test]
    fn total_line_is_cpuminers() {
        assert_eq!(total_line(82_404_000.0), "Total: 82.40 MH/s");
    }
}
