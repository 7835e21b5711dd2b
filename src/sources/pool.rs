//! The pool runner: what every pool protocol needs around its sessions,
//! written once so that a protocol only speaks its wire.
//!
//! The runner walks the `-o` list in order, one connection at a time:
//! it opens a connection through the URL's [`PoolProtocol`], lets the
//! protocol run its session to the end, and decides what comes next from
//! how it ended ([`End`]). A lost connection is retried with exponential
//! backoff and jitter, moving down the list; refusals from every pool end
//! the run; a `client.reconnect`-style redirect is tried at once (the
//! protocol checks that it may be followed); while on a backup pool a
//! probe on its own thread checks every `failback_interval` whether an
//! earlier pool is back, and the session ends with [`End::Failback`] when
//! one is.
//!
//! It also owns what outlives a connection: shares found while no pool is
//! connected wait in a bounded [`Outbox`] for the next session; after
//! `offline_grace` with no pool, hashing is paused, and a session that
//! resumes with the same job continues from where the cursor stopped; the
//! share accounting ([`ShareStats`], one row per pool) is mirrored into
//! the run's [`Stats`]; shares still queued at exit are counted stale.

use std::fmt;
use std::str::FromStr;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::accounting::{self, update, ShareStats, SharedStats};
use super::backoff::{sleep_unless, Backoff};
use super::outbox::Outbox;
use super::WorkSource;
use crate::hashing::engine::Miner;
use crate::hashing::work::{Job, Share};
use crate::report::stats::{SourceStatus, Stats};
use crate::sources::sv2::key::{AuthorityKey, KeyError};

/// The protocol a pool URL's scheme names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Stratum v1: `stratum+tcp://`, `stratum+ssl://` (alias `stratum+tls://`).
    StratumV1,
    /// Stratum V2: `stratum2+tcp://HOST:PORT/AUTHORITY_PUBKEY`.
    StratumV2,
}

impl Protocol {
    /// What the status rows and the API call pools of this protocol.
    pub fn kind(self) -> &'static str {
        match self {
            Protocol::StratumV1 => "stratum",
            Protocol::StratumV2 => "stratum2",
        }
    }
}

/// A pool address from `-o`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolUrl {
    /// The protocol the scheme names.
    pub protocol: Protocol,
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Stratum V2: the pool's authority key, when the URL names it.
    pub authority_key: Option<AuthorityKey>,
}

/// A `-o` value that is not a pool URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad pool URL {url:?}: {why} (expected stratum+tcp://host:port, stratum+ssl://host:port or stratum2+tcp://host:port/AUTHORITY_PUBKEY)"
)]
pub struct UrlError {
    pub url: String,
    pub why: String,
}

impl FromStr for PoolUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        let err = |why: &str| UrlError {
            url: s.to_string(),
            why: why.to_string(),
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| err("no scheme"))?;
        let (protocol, tls) = match scheme.to_ascii_lowercase().as_str() {
            "stratum+tcp" | "stratum" | "tcp" => (Protocol::StratumV1, false),
            "stratum+ssl" | "stratum+tls" | "ssl" | "tls" => (Protocol::StratumV1, true),
            "stratum2+tcp" | "stratum2" | "sv2" => (Protocol::StratumV2, false),
            _ => return Err(err("unknown scheme")),
        };
        // Stratum V2 URLs may end in the pool's authority key.
        let (hostport, path) = match rest.split_once('/') {
            Some((hp, p)) => (hp, p.trim_end_matches('/')),
            None => (rest, ""),
        };
        let only = if protocol == Protocol::StratumV2 {
            "only host:port and the key may follow the scheme"
        } else {
            "only host:port may follow the scheme"
        };
        if hostport.contains('@') || path.contains('/') {
            return Err(err(only));
        }
        let authority_key = match (protocol, path) {
            (_, "") => None,
            (Protocol::StratumV2, key) => Some(
                key.parse()
                    .map_err(|e: KeyError| err(&format!("bad authority key {key:?}: {e}")))?,
            ),
            (Protocol::StratumV1, _) => return Err(err(only)),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once("]:").ok_or_else(|| err("missing port"))?;
            (h, p)
        } else {
            hostport
                .rsplit_once(':')
                .ok_or_else(|| err("missing port"))?
        };
        if host.is_empty() || !host.is_ascii() {
            return Err(err("bad host"));
        }
        let port: u16 = port.parse().map_err(|_| err("bad port"))?;
        if port == 0 {
            return Err(err("bad port"));
        }
        Ok(PoolUrl {
            protocol,
            tls,
            host: host.to_string(),
            port,
            authority_key,
        })
    }
}

impl fmt::Display for PoolUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.protocol, self.tls) {
            (Protocol::StratumV1, true) => "stratum+ssl",
            (Protocol::StratumV1, false) => "stratum+tcp",
            (Protocol::StratumV2, _) => "stratum2+tcp",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)?;
        }
        if let Some(key) = &self.authority_key {
            write!(f, "/{key}")?;
        }
        Ok(())
    }
}

/// How the runner behaves, whatever the protocol.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub pools: Vec<PoolUrl>,
    pub user: String,
    pub password: String,
    pub connect_timeout: Duration,
    /// With nothing heard from the pool for this long, reconnect.
    pub idle_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// While on a backup pool, how often to check whether an earlier pool
    /// is back.
    pub failback_interval: Duration,
    /// Stop after this many accepted shares.
    pub max_shares: Option<u64>,
    /// With no pool connected for this long, stop hashing until a pool
    /// sends work again (the last job is going stale). Shares found before
    /// stay queued for the next connection.
    pub offline_grace: Duration,
}

impl PoolConfig {
    /// Defaults for everything but the pools and credentials.
    pub fn new(pools: Vec<PoolUrl>, user: String, password: String) -> Self {
        PoolConfig {
            pools,
            user,
            password,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            failback_interval: Duration::from_secs(60),
            max_shares: None,
            offline_grace: Duration::from_secs(120),
        }
    }
}

/// Why the runner gave up.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("no pool given (use -o stratum+tcp://host:port)")]
    NoPools,
    /// A protocol could not be set up (its own words).
    #[error("{0}")]
    Setup(String),
    #[error("every pool refused us: {0}")]
    Refused(String),
}

/// How a session ended.
#[derive(Debug)]
pub enum End {
    /// Stop asked for, or `--max-shares` reached.
    Stop,
    /// Connection lost or broken; try again.
    Lost(String),
    /// A refusal that retrying will not fix (authorization).
    Refused(String),
    /// The pool asked us to move (`client.reconnect`) and may be followed.
    Reconnect { target: PoolUrl, wait: Duration },
    /// An earlier pool in the list is back.
    Failback,
}

/// How a session ended, and whether the pool served in it (answered the
/// handshake), which resets the backoff.
#[derive(Debug)]
pub struct SessionEnd {
    pub end: End,
    pub served: bool,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub struct ConnectFailure {
    pub message: String,
    /// Retrying will not fix it (a certificate we refuse): it counts as a
    /// refusal.
    pub permanent: bool,
}

/// Whether a pool serves again (`Ok`), checked within a timeout on a
/// thread of its own; `Err` says why not.
pub type Prober = Arc<dyn Fn(&PoolUrl, Duration) -> Result<(), String> + Send + Sync>;

/// A pool protocol as the runner drives it: connections opened one at a
/// time, each running one session. The protocol keeps what it needs across
/// connections (a session to resume, the jobs shares may still be
/// submitted for). A protocol that serves several schemes dispatches on
/// [`PoolUrl::protocol`].
pub trait PoolProtocol {
    /// Open a connection to `url` within `timeout` (transport and
    /// encryption; the session's own handshake is part of its run).
    fn connect(
        &mut self,
        url: &PoolUrl,
        timeout: Duration,
    ) -> Result<Box<dyn PoolSession + '_>, ConnectFailure>;

    /// The failback check for this protocol's pools (asked for once per
    /// run): a pool is back when it would serve a session, not merely
    /// accept a connection.
    fn prober(&self) -> Prober;
}

/// One open connection of a [`PoolProtocol`].
pub trait PoolSession {
    /// Run the session until it ends: jobs to `ctx.miner()`, shares from
    /// [`SessionContext::next_share`] submitted (or queued while the pool
    /// cannot take them), answers counted through [`SessionContext::stats`].
    /// End with [`End::Stop`] when [`SessionContext::stop`] or
    /// [`SessionContext::reached_max`] says so, and with
    /// [`End::Failback`] when [`SessionContext::failback`] does.
    fn run(self: Box<Self>, ctx: &mut SessionContext<'_, '_>) -> SessionEnd;
}

/// The runner as a work source: `cfg`'s pools through `protocol`, for
/// `miner`, until `stop()` says so, `max_shares` is reached, or every pool
/// refuses us. Shares come from `shares`, the channel the `miner` sends
/// them on. The details go to `stats`; the totals, difficulty and per-pool
/// state are mirrored into `report`.
pub struct Pool<'a> {
    pub cfg: &'a PoolConfig,
    pub protocol: &'a mut dyn PoolProtocol,
    pub miner: &'a Miner,
    pub shares: &'a Receiver<Share>,
    pub stats: SharedStats,
    pub report: &'a Stats,
    pub stop: &'a dyn Fn() -> bool,
}

impl WorkSource for Pool<'_> {
    type Output = ();
    type Error = PoolError;

    fn name(&self) -> &'static str {
        "pool"
    }

    fn stats(&self) -> SharedStats {
        Arc::clone(&self.stats)
    }

    fn mine(self) -> Result<(), PoolError> {
        let Pool {
            cfg,
            protocol,
            miner,
            shares,
            stats,
            report,
            stop,
        } = self;
        if cfg.pools.is_empty() {
            return Err(PoolError::NoPools);
        }
        let mut r = Runner {
            cfg,
            miner,
            shares,
            stats,
            stop,
            outbox: Outbox::new(),
            prober: protocol.prober(),
            report,
            offline_since: None,
            paused: false,
            paused_at: None,
        };
        update(&r.stats, |s| {
            s.per_pool = cfg
                .pools
                .iter()
                .map(|p| SourceStatus {
                    url: p.to_string(),
                    kind: p.protocol.kind().into(),
                    user: cfg.user.clone(),
                    status: "Connecting".into(),
                    ..SourceStatus::default()
                })
                .collect();
        });
        let result = r.run(protocol);
        miner.set_job(None);
        // Shares still queued can no longer be submitted.
        let left = r.outbox.len() as u64;
        if left > 0 {
            tracing::info!(
                shares = left,
                "shares still queued at exit counted as stale"
            );
            update(&r.stats, |s| s.stale += left);
        }
        r.publish();
        result
    }
}

struct Runner<'a> {
    cfg: &'a PoolConfig,
    miner: &'a Miner,
    shares: &'a Receiver<Share>,
    stats: SharedStats,
    stop: &'a dyn Fn() -> bool,
    /// Shares waiting for a connection.
    outbox: Outbox,
    /// The protocol's failback check.
    prober: Prober,
    /// The run's shared counters (status line, summary, monitoring API).
    report: &'a Stats,
    /// Since when no pool has been connected (after a connection ended).
    offline_since: Option<Instant>,
    /// Hashing stopped after [`PoolConfig::offline_grace`].
    paused: bool,
    /// The job hashing stopped on, and where its cursor was, to continue
    /// from there if the session resumes.
    paused_at: Option<(Arc<Job>, u64)>,
}

impl Runner<'_> {
    fn run(&mut self, protocol: &mut dyn PoolProtocol) -> Result<(), PoolError> {
        let backoff = Backoff {
            min: self.cfg.backoff_min,
            max: self.cfg.backoff_max,
            jitter: true,
        };
        let mut failures = 0u32;
        let mut redirect: Option<(usize, PoolUrl)> = None;
        loop {
            if (self.stop)() {
                return Ok(());
            }
            let targets: Vec<(usize, PoolUrl)> = match redirect.take() {
                Some(t) => vec![t],
                None => self.cfg.pools.iter().cloned().enumerate().collect(),
            };
            let mut refusals = Vec::new();
            let tried = targets.len();
            for (i, url) in targets {
                if (self.stop)() {
                    return Ok(());
                }
                self.take_shares_offline();
                self.pause_if_offline_too_long();
                self.set_pool_status(i, "Connecting");
                let session = match protocol.connect(&url, self.cfg.connect_timeout) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(pool = %url, "{}", e.message);
                        self.set_pool_status(i, "Dead");
                        if e.permanent {
                            refusals.push(e.message);
                        }
                        continue;
                    }
                };
                tracing::info!(pool = %url, "connected");
                update(&self.stats, |s| {
                    s.connections += 1;
                    s.pool = Some(url.to_string());
                });
                let mut ctx = SessionContext {
                    runner: self,
                    index: i,
                    last_probe: Instant::now(),
                    probe: None,
                };
                let SessionEnd { end, served } = session.run(&mut ctx);
                update(&self.stats, |s| s.pool = None);
                self.offline_since.get_or_insert_with(Instant::now);
                let after = match end {
                    End::Lost(_) | End::Refused(_) => "Dead",
                    _ => "Connecting",
                };
                self.set_pool_status(i, after);
                if served {
                    failures = 0;
                }
                match end {
                    End::Stop => return Ok(()),
                    End::Refused(why) => {
                        tracing::error!(pool = %url, "{why}");
                        refusals.push(why);
                    }
                    End::Lost(why) if served => {
                        tracing::warn!(pool = %url, "connection lost: {why}");
                        break;
                    }
                    End::Lost(why) => {
                        // Never served (silent, or closed before answering
                        // the handshake): try the next pool of the list.
                        tracing::warn!(pool = %url, "pool did not serve: {why}");
                    }
                    End::Reconnect { target, wait } => {
                        tracing::info!(pool = %url, to = %target, wait_s = wait.as_secs(), "pool asked us to reconnect");
                        self.sleep(wait);
                        redirect = Some((i, target));
                        break;
                    }
                    End::Failback => {
                        tracing::info!(pool = %url, "an earlier pool is back; switching to it");
                        break;
                    }
                }
            }
            if redirect.is_some() {
                continue;
            }
            if !refusals.is_empty() && refusals.len() == tried {
                return Err(PoolError::Refused(refusals.join("; ")));
            }
            let wait = backoff.delay(failures);
            failures = failures.saturating_add(1);
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "waiting before reconnecting"
            );
            self.sleep(wait);
        }
    }

    /// Sleep (in small steps, honouring stop), keeping found shares.
    fn sleep(&mut self, d: Duration) {
        let stop = self.stop;
        sleep_unless(d, Duration::from_millis(10), stop, || {
            self.take_shares_offline();
            self.pause_if_offline_too_long();
            self.publish();
        });
    }

    /// Stop hashing once no pool has been connected for the grace period.
    fn pause_if_offline_too_long(&mut self) {
        let Some(since) = self.offline_since else {
            return;
        };
        if !self.paused && since.elapsed() >= self.cfg.offline_grace {
            self.take_shares_offline();
            self.paused_at = self.miner.pause();
            self.paused = true;
            tracing::warn!(
                offline_s = since.elapsed().as_secs(),
                queued = self.outbox.len(),
                "no pool connection: hashing paused until a pool sends work (--offline-grace)"
            );
        }
    }

    fn take_shares_offline(&mut self) {
        while let Ok(share) = self.shares.try_recv() {
            self.found(&share);
            self.queue_offline(share, false);
        }
    }

    fn queue_offline(&mut self, share: Share, resubmit: bool) {
        let job = share.job_id.clone();
        if self.outbox.push(share, resubmit) {
            tracing::debug!(job = %job, "share found while disconnected: queued");
        } else {
            tracing::warn!(job = %job, "offline queue full: share counted as stale");
            update(&self.stats, |s| s.stale(None));
        }
    }

    fn found(&self, share: &Share) {
        accounting::found(&self.stats, self.report, share);
    }

    fn set_pool_status(&self, index: usize, status: &str) {
        update(&self.stats, |st| st.set_status(index, status));
    }

    fn publish(&self) {
        accounting::publish(&self.stats, self.report);
    }
}

/// What the runner gives a session: the engine, the shares it finds, the
/// offline queue, the accounting, and the run's stop, `max_shares`,
/// pause and failback state.
pub struct SessionContext<'r, 'a> {
    runner: &'r mut Runner<'a>,
    /// The pool's place in the `-o` list.
    index: usize,
    last_probe: Instant,
    probe: Option<Receiver<Option<usize>>>,
}

impl SessionContext<'_, '_> {
    /// The pool's place in the `-o` list (and its status row).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The runner's settings (user, password, timeouts).
    pub fn config(&self) -> &PoolConfig {
        self.runner.cfg
    }

    /// The engine: jobs go to [`Miner::set_job`].
    pub fn miner(&self) -> &Miner {
        self.runner.miner
    }

    /// The next share the engine found, if any, counted as found.
    pub fn next_share(&mut self) -> Option<Share> {
        let share = self.runner.shares.try_recv().ok()?;
        self.runner.found(&share);
        Some(share)
    }

    /// Keep a share for the next session (`resubmit`: its first
    /// submission got no reply); a full queue counts it stale.
    pub fn queue_offline(&mut self, share: Share, resubmit: bool) {
        self.runner.queue_offline(share, resubmit);
    }

    /// The oldest share waiting for a connection, to submit now.
    pub fn take_offline(&mut self) -> Option<(Share, bool)> {
        self.runner.outbox.pop()
    }

    /// Change the run's share accounting.
    pub fn stats<R>(&self, f: impl FnOnce(&mut ShareStats) -> R) -> R {
        update(&self.runner.stats, f)
    }

    /// Set this pool's status word (`Alive`, `Dead`, `Connecting`).
    pub fn set_pool_status(&self, status: &str) {
        self.runner.set_pool_status(self.index, status);
    }

    /// Mirror the accounting into the run's [`Stats`].
    pub fn publish(&self) {
        self.runner.publish();
    }

    /// Whether the run is asked to stop.
    pub fn stop(&self) -> bool {
        (self.runner.stop)()
    }

    /// Whether `max_shares` accepted shares are reached.
    pub fn reached_max(&self) -> bool {
        self.runner
            .cfg
            .max_shares
            .is_some_and(|m| update(&self.runner.stats, |s| s.accepted) >= m)
    }

    /// The pool serves: the run is online again.
    pub fn online(&mut self) {
        self.runner.offline_since = None;
    }

    /// Whether hashing is paused after the offline grace.
    pub fn paused(&self) -> bool {
        self.runner.paused
    }

    /// The session continues the previous one (`current` is still its
    /// job): if hashing was paused, go on from where the cursor stopped
    /// when it is the same job, else from the start of `current`.
    pub fn resume_hashing(&mut self, current: Option<Arc<Job>>) {
        if !std::mem::take(&mut self.runner.paused) {
            return;
        }
        let at = self.runner.paused_at.take();
        match (current, at) {
            (Some(job), Some((was, cursor))) if was.id == job.id => {
                tracing::info!(job = %job.id, "hashing resumed where it stopped");
                self.runner.miner.resume(job, cursor);
            }
            (Some(job), _) => {
                tracing::info!(job = %job.id, "hashing resumed");
                self.runner.miner.set_job(Some(job));
            }
            (None, _) => {}
        }
    }

    /// A new session: where a pause stopped no longer matters.
    pub fn forget_pause(&mut self) {
        self.runner.paused = false;
        self.runner.paused_at = None;
    }

    /// Whether an earlier pool of the list is back (then end the session
    /// with [`End::Failback`]). Earlier pools are probed every
    /// `failback_interval` on a thread of their own, so a pool that is
    /// slow to answer never holds up this one.
    pub fn failback(&mut self) -> bool {
        if self.index == 0 {
            return false;
        }
        if let Some(rx) = &self.probe {
            match rx.try_recv() {
                Ok(Some(back)) => {
                    tracing::info!(pool = %self.runner.cfg.pools[back], "earlier pool answered the failback probe");
                    return true;
                }
                Ok(None) | Err(TryRecvError::Disconnected) => self.probe = None,
                Err(TryRecvError::Empty) => {}
            }
        }
        let cfg = self.runner.cfg;
        if self.probe.is_none() && self.last_probe.elapsed() >= cfg.failback_interval {
            self.last_probe = Instant::now();
            // A pool that does not answer within the idle timeout would be
            // dropped as silent anyway.
            self.probe = Some(spawn_probe(
                cfg.pools[..self.index].to_vec(),
                Arc::clone(&self.runner.prober),
                cfg.connect_timeout.min(cfg.idle_timeout),
            ));
        }
        false
    }
}

/// Probe `pools` in order on a thread of its own; the receiver gets the
/// index of the first one that is back, or `None`.
fn spawn_probe(pools: Vec<PoolUrl>, probe: Prober, timeout: Duration) -> Receiver<Option<usize>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let run = move || {
        let back = pools.iter().position(|p| match probe(p, timeout) {
            Ok(()) => true,
            Err(why) => {
                tracing::debug!(pool = %p, "earlier pool not back: {why}");
                false
            }
        });
        let _ = tx.send(back);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("noncesweep-failback".into())
        .spawn(run)
    {
        tracing::warn!("cannot start the failback probe: {e}");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: PoolUrl = "stratum+tcp://pool.example:3333".parse().unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port),
            (false, "pool.example", 3333)
        );
        let u: PoolUrl = "stratum+tls://[::1]:443".parse().unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (true, "::1", 443));
        assert_eq!(u.to_string(), "stratum+ssl://[::1]:443");
        assert!("stratum+ssl://h:1".parse::<PoolUrl>().unwrap().tls);
        for bad in [
            "pool:3333",
            "http://h:1",
            "stratum+tcp://h",
            "stratum+tcp://h:0",
            "stratum+tcp://h:99999",
            "stratum+tcp://u:p@h:1",
            "stratum+tcp://:1",
        ] {
            assert!(bad.parse::<PoolUrl>().is_err(), "{bad}");
        }
    }

    /// The authority key of the SRI's example configurations.
    const SRI_EXAMPLE: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";

    #[test]
    fn stratum_v2_urls_parse_with_and_without_a_key() {
        let u: PoolUrl = format!("stratum2+tcp://127.0.0.1:34254/{SRI_EXAMPLE}")
            .parse()
            .unwrap();
        assert_eq!(u.protocol, Protocol::StratumV2);
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 34254);
        assert_eq!(u.authority_key.unwrap().to_string(), SRI_EXAMPLE);
        assert_eq!(
            u.to_string(),
            format!("stratum2+tcp://127.0.0.1:34254/{SRI_EXAMPLE}")
        );
        let bare: PoolUrl = "stratum2+tcp://[::1]:3333/".parse().unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.authority_key),
            ("::1", 3333, None)
        );
        assert_eq!(bare.to_string(), "stratum2+tcp://[::1]:3333");
    }

    #[test]
    fn bad_stratum_v2_urls_say_why() {
        for (url, want) in [
            ("stratum2+tcp://h", "missing port"),
            ("stratum2+tcp://h:0", "bad port"),
            ("stratum2+tcp://u@h:1", "only host:port"),
            ("stratum2+tcp://h:1/a/b", "only host:port"),
            ("stratum+tcp://h:1/key", "only host:port"),
            ("stratum2+tcp://h:1/notakey", "bad authority key"),
        ] {
            let e = url.parse::<PoolUrl>().unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
    }
}
