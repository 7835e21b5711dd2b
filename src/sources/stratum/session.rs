//! The pool client: one thread that keeps a Stratum session alive and
//! feeds the engine.
//!
//! It connects to the first reachable pool of the `-o` list, asks for
//! version rolling, subscribes (resuming the previous session when it
//! reconnects to the same pool), authorizes, and then polls: lines from the
//! pool become jobs for the [`Miner`], shares from the engine become
//! `mining.submit`s. A lost connection is retried with exponential backoff
//! and jitter, moving down the pool list; while on a backup pool a probe
//! on its own thread checks every `failback_interval` whether an earlier
//! pool is back (TLS handshake and a `mining.subscribe` answer), and the
//! client returns to it. A `client.reconnect` is followed only within the
//! pool's registered domain or to hosts the user listed.
//!
//! No share vanishes: a share of an older job that the pool still accepts
//! (no `clean_jobs`, difficulty or extranonce change since) is submitted;
//! a share found while disconnected waits in a bounded queue and is
//! submitted after the reconnect if its job is still valid in the resumed
//! session; otherwise it is counted stale and logged. Every share ends up
//! accepted, rejected (with the pool's reason) or stale.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::codec::{
    Answer, ClientMessage, CodecError, LineBuffer, Pending, PendingMap, Request, ServerMessage,
    VersionRolling,
};
use super::job::JobBook;
use super::stats::{update, SharedStats};
use super::transport::{redirect_allowed, Connection, PoolUrl, TlsSettings};
use super::wire::Difficulty;
use crate::hashing::engine::Miner;
use crate::hashing::work::{Job, Share};
use crate::report::stats::{SourceStatus, Stats};

/// The version bits noncesweep asks to roll by default (BIP320's range).
/// The bits rolled are the pool's answer within the request.
pub const REQUESTED_MASK: u32 = 0x1fff_e000;
/// Shares kept while disconnected.
pub const MAX_OFFLINE: usize = 1024;

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub pools: Vec<PoolUrl>,
    pub user: String,
    pub password: String,
    /// The user agent sent with `mining.subscribe`.
    pub agent: String,
    pub suggest_difficulty: Option<Difficulty>,
    pub version_rolling: bool,
    /// The version bits asked for in `mining.configure` (`--version-mask`);
    /// only bits both asked for and granted are rolled.
    pub version_mask: u32,
    pub tls_insecure: bool,
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
    /// Hosts a pool may send us to with `client.reconnect`
    /// (`--allow-reconnect-to`), besides its own.
    pub allow_reconnect_to: Vec<String>,
    /// Also follow a `client.reconnect` to a host of the pool's own
    /// registered domain (off with cpuminer's `--no-redirect`).
    pub reconnect_same_domain: bool,
    /// With no pool connected for this long, stop hashing until a pool
    /// sends work again (the last job is going stale). Shares found before
    /// stay queued for the next connection.
    pub offline_grace: Duration,
}

impl SessionConfig {
    /// Defaults for everything but the pools and credentials.
    pub fn new(pools: Vec<PoolUrl>, user: String, password: String) -> Self {
        SessionConfig {
            pools,
            user,
            password,
            agent: format!("noncesweep/{}", env!("CARGO_PKG_VERSION")),
            suggest_difficulty: None,
            version_rolling: true,
            version_mask: REQUESTED_MASK,
            tls_insecure: false,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            failback_interval: Duration::from_secs(60),
            max_shares: None,
            allow_reconnect_to: Vec::new(),
            reconnect_same_domain: true,
            offline_grace: Duration::from_secs(120),
        }
    }
}

/// Why the client gave up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no pool given (use -o stratum+tcp://host:port)")]
    NoPools,
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("every pool refused us: {0}")]
    Refused(String),
}

/// How a connection ended.
enum End {
    /// Stop asked for, or `--max-shares` reached.
    Stop,
    /// Connection lost or broken; try again.
    Lost(String),
    /// A refusal that retrying will not fix (authorization).
    Refused(String),
    /// `client.reconnect`.
    Reconnect { target: PoolUrl, wait: Duration },
    /// An earlier pool in the list is back.
    Failback,
}

/// The previous session, to resume after a reconnect.
struct Resume {
    pool: usize,
    session_id: String,
    extranonce1: Vec<u8>,
}

struct Client<'a> {
    cfg: &'a SessionConfig,
    miner: &'a Miner,
    shares: &'a Receiver<Share>,
    stats: SharedStats,
    stop: &'a dyn Fn() -> bool,
    tls: Option<TlsSettings>,
    book: JobBook,
    /// Shares waiting for a connection; `true` marks a resubmission of
    /// one whose first submission got no reply.
    offline: VecDeque<(Share, bool)>,
    resume: Option<Resume>,
    /// The run's shared counters (status line, summary, monitoring API).
    report: &'a Stats,
    /// Since when no pool has been connected (after a connection ended).
    offline_since: Option<Instant>,
    /// Hashing stopped after [`SessionConfig::offline_grace`].
    paused: bool,
    /// The job hashing stopped on, and where its cursor was, to continue
    /// from there if the session resumes.
    paused_at: Option<(Arc<Job>, u64)>,
}

/// Mine for the pools in `cfg` until `stop()` says so, `max_shares` is
/// reached, or every pool refuses us. Shares come from `shares`, the
/// channel the `miner` sends them on. The details go to `stats`; the
/// totals, difficulty and per-pool state are mirrored into `report`.
pub fn run(
    cfg: &SessionConfig,
    miner: &Miner,
    shares: &Receiver<Share>,
    stats: SharedStats,
    report: &Stats,
    stop: &dyn Fn() -> bool,
) -> Result<(), SessionError> {
    if cfg.pools.is_empty() {
        return Err(SessionError::NoPools);
    }
    let tls = if cfg.pools.iter().any(|p| p.tls) {
        Some(TlsSettings::new(cfg.tls_insecure)?)
    } else {
        None
    };
    let mut c = Client {
        cfg,
        miner,
        shares,
        stats,
        stop,
        tls,
        book: JobBook::with_requested_mask(cfg.version_mask),
        offline: VecDeque::new(),
        resume: None,
        report,
        offline_since: None,
        paused: false,
        paused_at: None,
    };
    update(&c.stats, |s| {
        s.per_pool = cfg
            .pools
            .iter()
            .map(|p| SourceStatus {
                url: p.to_string(),
                kind: "stratum".into(),
                user: cfg.user.clone(),
                status: "Connecting".into(),
                ..SourceStatus::default()
            })
            .collect();
    });
    let r = c.run();
    miner.set_job(None);
    // Shares still queued can no longer be submitted.
    let left = c.offline.len() as u64;
    if left > 0 {
        tracing::info!(
            shares = left,
            "shares still queued at exit counted as stale"
        );
        update(&c.stats, |s| s.stale += left);
    }
    c.publish();
    r
}

/// A random fraction in [0, 1) for jitter (std's per-process random keys).
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait before retry number `failures` (0-based): doubling from
/// `min` up to `max`, then a random 50..100 % of it.
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let full = min.saturating_mul(1u32 << failures.min(16)).min(max);
    full.mul_f64(0.5 + 0.5 * random_unit())
}

impl Client<'_> {
    fn run(&mut self) -> Result<(), SessionError> {
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
                let conn = match Connection::open(&url, self.tls.as_ref(), self.cfg.connect_timeout)
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(pool = %url, "{e}");
                        self.set_pool_status(i, "Dead");
                        if e.is_permanent() {
                            refusals.push(e.to_string());
                        }
                        continue;
                    }
                };
                tracing::info!(pool = %url, "connected");
                update(&self.stats, |s| {
                    s.connections += 1;
                    s.pool = Some(url.to_string());
                });
                let (end, subscribed) = self.session(i, &url, conn);
                update(&self.stats, |s| s.pool = None);
                self.offline_since.get_or_insert_with(Instant::now);
                let after = match end {
                    End::Lost(_) | End::Refused(_) => "Dead",
                    _ => "Connecting",
                };
                self.set_pool_status(i, after);
                if subscribed {
                    failures = 0;
                }
                match end {
                    End::Stop => return Ok(()),
                    End::Refused(why) => {
                        tracing::error!(pool = %url, "{why}");
                        refusals.push(why);
                    }
                    End::Lost(why) if subscribed => {
                        tracing::warn!(pool = %url, "connection lost: {why}");
                        break;
                    }
                    End::Lost(why) => {
                        // Never served (silent, or closed before answering
                        // the subscribe): try the next pool of the list.
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
                return Err(SessionError::Refused(refusals.join("; ")));
            }
            let wait = backoff(self.cfg.backoff_min, self.cfg.backoff_max, failures);
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
        let until = Instant::now() + d;
        while Instant::now() < until && !(self.stop)() {
            self.take_shares_offline();
            self.pause_if_offline_too_long();
            self.publish();
            std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
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
                queued = self.offline.len(),
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
        if self.offline.len() >= MAX_OFFLINE {
            tracing::warn!(job = %share.job_id, "offline queue full: share counted as stale");
            update(&self.stats, |s| s.stale += 1);
        } else {
            tracing::debug!(job = %share.job_id, "share found while disconnected: queued");
            self.offline.push_back((share, resubmit));
        }
    }

    /// One connection, from the handshake until it ends. Returns how it
    /// ended and whether the pool answered our subscribe.
    fn session(&mut self, index: usize, url: &PoolUrl, conn: Connection) -> (End, bool) {
        let mut s = Conn {
            conn,
            pending: PendingMap::new(),
            inflight: HashMap::new(),
            subscribed: false,
            index,
        };
        let end = self.drive(index, url, &mut s);
        // Submissions without a reply: resubmitted if the session resumes,
        // else stale.
        let mut unanswered: Vec<(u64, (Share, bool))> = s.inflight.drain().collect();
        unanswered.sort_by_key(|(id, _)| *id);
        if !unanswered.is_empty() {
            tracing::warn!(
                shares = unanswered.len(),
                "submissions unanswered when the connection ended"
            );
            update(&self.stats, |st| st.unanswered += unanswered.len() as u64);
        }
        for (_, (share, _)) in unanswered {
            if matches!(end, End::Stop) {
                update(&self.stats, |st| st.stale += 1);
            } else {
                self.queue_offline(share, true);
            }
        }
        s.conn.close();
        (end, s.subscribed)
    }

    fn send(&mut self, s: &mut Conn, request: Request, pending: Pending) -> Result<u64, String> {
        let msg = s
            .pending
            .register(request, pending, Instant::now())
            .map_err(|e| e.to_string())?;
        let line = msg.to_line();
        s.conn
            .write_line(&line)
            .map_err(|e| format!("write failed: {e}"))?;
        match msg {
            ClientMessage::Request { id, .. } => Ok(id),
            ClientMessage::Reply { .. } => Ok(0),
        }
    }

    fn handshake(&mut self, index: usize, s: &mut Conn) -> Result<(), String> {
        if self.cfg.version_rolling {
            self.send(
                s,
                Request::Configure(Some(VersionRolling {
                    mask: self.cfg.version_mask,
                    min_bit_count: 2.min(self.cfg.version_mask.count_ones()),
                })),
                Pending::Configure,
            )?;
        } else if let Some(job) = self.book.set_version_mask(0) {
            self.miner.set_job(Some(job));
        }
        let session = self
            .resume
            .as_ref()
            .filter(|r| r.pool == index)
            .map(|r| r.session_id.clone());
        self.send(
            s,
            Request::Subscribe {
                agent: self.cfg.agent.clone(),
                session: session.clone(),
            },
            Pending::Subscribe { resume: session },
        )?;
        self.send(
            s,
            Request::Authorize {
                user: self.cfg.user.clone(),
                password: self.cfg.password.clone(),
            },
            Pending::Authorize,
        )?;
        self.send(
            s,
            Request::ExtranonceSubscribe,
            Pending::ExtranonceSubscribe,
        )?;
        if let Some(d) = self.cfg.suggest_difficulty {
            self.send(s, Request::SuggestDifficulty(d), Pending::SuggestDifficulty)?;
        }
        Ok(())
    }

    fn drive(&mut self, index: usize, url: &PoolUrl, s: &mut Conn) -> End {
        if let Err(e) = self.handshake(index, s) {
            return End::Lost(e);
        }
        let mut lines = LineBuffer::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_rx = Instant::now();
        let mut last_probe = Instant::now();
        let mut probe: Option<Receiver<Option<usize>>> = None;
        let mut draining: Option<Instant> = None;
        loop {
            if draining.is_none() && ((self.stop)() || self.reached_max()) {
                // Give outstanding submissions a moment to be answered.
                draining = Some(Instant::now() + Duration::from_secs(2));
                self.miner.set_job(None);
            }
            if let Some(deadline) = draining {
                if s.inflight.is_empty() || Instant::now() > deadline {
                    return End::Stop;
                }
            }
            match s.conn.poll(&mut buf) {
                Ok(Some(0)) => return End::Lost("the pool closed the connection".into()),
                Ok(Some(n)) => {
                    lines.push(&buf[..n]);
                    last_rx = Instant::now();
                }
                Ok(None) => {}
                Err(e) => return End::Lost(format!("read failed: {e}")),
            }
            loop {
                match lines.next_line() {
                    Ok(Some(line)) => {
                        if let Some(end) = self.on_line(index, url, s, &line) {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(CodecError::NotUtf8) => {
                        self.protocol_error(&CodecError::NotUtf8, "");
                    }
                    Err(e) => {
                        update(&self.stats, |st| st.protocol_errors += 1);
                        return End::Lost(format!("protocol error: {e}"));
                    }
                }
            }
            if draining.is_none() {
                while let Ok(share) = self.shares.try_recv() {
                    self.found(&share);
                    if s.subscribed {
                        if let Err(e) = self.submit(s, share, false) {
                            return End::Lost(e);
                        }
                    } else {
                        self.queue_offline(share, false);
                    }
                }
            }
            if last_rx.elapsed() > self.cfg.idle_timeout {
                return End::Lost(format!(
                    "nothing heard for {} s",
                    self.cfg.idle_timeout.as_secs()
                ));
            }
            if index > 0 {
                // Earlier pools are probed on their own thread: a pool
                // that is slow to answer never holds up this one.
                if let Some(rx) = &probe {
                    match rx.try_recv() {
                        Ok(Some(back)) => {
                            tracing::info!(pool = %self.cfg.pools[back], "earlier pool answered a subscribe");
                            return End::Failback;
                        }
                        Ok(None) | Err(TryRecvError::Disconnected) => probe = None,
                        Err(TryRecvError::Empty) => {}
                    }
                }
                if probe.is_none() && last_probe.elapsed() >= self.cfg.failback_interval {
                    last_probe = Instant::now();
                    // A pool that does not answer a subscribe within the
                    // idle timeout would be dropped as silent anyway.
                    probe = Some(spawn_probe(
                        self.cfg.pools[..index].to_vec(),
                        self.tls.clone(),
                        self.cfg.agent.clone(),
                        self.cfg.connect_timeout.min(self.cfg.idle_timeout),
                    ));
                }
            }
            self.publish();
        }
    }

    fn reached_max(&self) -> bool {
        self.cfg
            .max_shares
            .is_some_and(|m| update(&self.stats, |s| s.accepted) >= m)
    }

    fn protocol_error(&self, e: &CodecError, line: &str) {
        update(&self.stats, |st| st.protocol_errors += 1);
        let shown: String = line.chars().take(200).collect();
        tracing::warn!("ignoring a bad line from the pool: {e}: {shown:?}");
    }

    /// Submit a share if its job is still valid (`Ok(true)`), else count
    /// it stale (`Ok(false)`).
    fn submit(&mut self, s: &mut Conn, share: Share, resubmit: bool) -> Result<bool, String> {
        let Some(submit) = self.book.submit_for(&share, &self.cfg.user) else {
            tracing::info!(job = %share.job_id, "share's job is no longer valid: counted as stale");
            update(&self.stats, |st| {
                st.stale += 1;
                if let Some(p) = st.per_pool.get_mut(s.index) {
                    p.stale += 1;
                }
            });
            return Ok(false);
        };
        tracing::debug!(
            job = %submit.job_id,
            extranonce2 = %hex::encode(&submit.extranonce2),
            ntime = format_args!("{:08x}", submit.ntime),
            nonce = format_args!("{:08x}", submit.nonce),
            version_bits = ?submit.version_bits.map(|v| format!("{v:08x}")),
            difficulty = share.difficulty,
            hash = %share.hash,
            "submitting share"
        );
        let job = share.job_id.clone();
        let id = match self.send(
            s,
            Request::Submit(submit),
            Pending::Submit { share_job: job },
        ) {
            Ok(id) => id,
            Err(e) => {
                // The connection is gone (the line may have left in part):
                // keep the share for the next session, as a resubmission.
                self.queue_offline(share, true);
                return Err(e);
            }
        };
        s.inflight.insert(id, (share, resubmit));
        Ok(true)
    }

    fn on_line(&mut self, index: usize, url: &PoolUrl, s: &mut Conn, line: &str) -> Option<End> {
        tracing::trace!("<- {line}");
        let msg = match ServerMessage::from_line(line) {
            Ok(m) => m,
            Err(e) => {
                self.protocol_error(&e, line);
                return None;
            }
        };
        match msg {
            ServerMessage::Reply(reply) => {
                let (answer, latency) = match s.pending.resolve(&reply, Instant::now()) {
                    Ok(a) => a,
                    Err(e) => {
                        self.protocol_error(&e, line);
                        return None;
                    }
                };
                let share = s.inflight.remove(&reply.id);
                return self.on_answer(index, url, s, answer, latency, share);
            }
            ServerMessage::Notify(n) => {
                let job = self.book.on_notify(&n);
                tracing::debug!(
                    job = %n.job_id,
                    clean = n.clean_jobs,
                    difficulty = self.book.difficulty(),
                    "new job"
                );
                update(&self.stats, |st| st.difficulty = self.book.difficulty());
                self.miner.set_job(Some(job));
            }
            ServerMessage::SetDifficulty(d) => {
                tracing::debug!(difficulty = d.get(), "difficulty for the next job");
                self.book.set_difficulty(d.get());
            }
            ServerMessage::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                tracing::info!(extranonce1 = %extranonce1, size = extranonce2_size.get(), "new extranonce from the next job on");
                self.book
                    .set_extranonce(extranonce1.as_bytes(), extranonce2_size.get());
                if let Some(r) = self.resume.as_mut() {
                    r.extranonce1 = extranonce1.as_bytes().to_vec();
                }
            }
            ServerMessage::SetVersionMask(mask) => {
                self.grant_version_mask(mask, "mining.set_version_mask");
            }
            ServerMessage::Reconnect { host, port, wait } => {
                let mut target = url.clone();
                if let Some(h) = host {
                    if let Err(why) = redirect_allowed(
                        &url.host,
                        &h,
                        &self.cfg.allow_reconnect_to,
                        self.cfg.reconnect_same_domain,
                    ) {
                        tracing::warn!(pool = %url, "refusing the pool's client.reconnect: {why}; staying on {url}");
                        return None;
                    }
                    target.host = h;
                }
                if let Some(p) = port {
                    target.port = p;
                }
                let wait = Duration::from_secs(wait.unwrap_or(0).min(300));
                return Some(End::Reconnect { target, wait });
            }
            ServerMessage::ShowMessage(m) => {
                let clean: String = m.chars().filter(|c| !c.is_control()).take(500).collect();
                tracing::info!(pool = %url, "message from the pool: {clean}");
            }
            ServerMessage::GetVersion { id } => {
                let line = ClientMessage::version_reply(id, &self.cfg.agent).to_line();
                if let Err(e) = s.conn.write_line(&line) {
                    return Some(End::Lost(format!("write failed: {e}")));
                }
            }
            ServerMessage::Ping { id } => {
                if let Err(e) = s.conn.write_line(&ClientMessage::pong(id).to_line()) {
                    return Some(End::Lost(format!("write failed: {e}")));
                }
            }
        }
        None
    }

    fn on_answer(
        &mut self,
        index: usize,
        url: &PoolUrl,
        s: &mut Conn,
        answer: Answer,
        latency: Duration,
        share: Option<(Share, bool)>,
    ) -> Option<End> {
        match answer {
            Answer::Configure(mask) => {
                self.grant_version_mask(mask.unwrap_or(0), "mining.configure");
            }
            Answer::Subscribe(Ok(sub)) => {
                let en1 = sub.extranonce1.as_bytes().to_vec();
                let resumed = self
                    .resume
                    .as_ref()
                    .is_some_and(|r| r.pool == index && r.extranonce1 == en1);
                self.offline_since = None;
                if resumed {
                    tracing::info!(extranonce1 = %sub.extranonce1, "session resumed");
                    // The resumed session's job is still good: hash on from
                    // where the pause stopped it, so that no share already
                    // found is found (and submitted) again.
                    if std::mem::take(&mut self.paused) {
                        let at = self.paused_at.take();
                        match (self.book.current(), at) {
                            (Some(job), Some((was, cursor))) if was.id == job.id => {
                                tracing::info!(job = %job.id, "hashing resumed where it stopped");
                                self.miner.resume(job, cursor);
                            }
                            (Some(job), _) => {
                                tracing::info!(job = %job.id, "hashing resumed");
                                self.miner.set_job(Some(job));
                            }
                            (None, _) => {}
                        }
                    }
                } else {
                    self.paused = false;
                    self.paused_at = None;
                    tracing::info!(extranonce1 = %sub.extranonce1, extranonce2_size = sub.extranonce2_size.get(), "subscribed (new session)");
                    self.book.new_session(&en1, sub.extranonce2_size.get());
                    self.miner.set_job(None);
                }
                self.resume = sub.session_id().map(|id| Resume {
                    pool: index,
                    session_id: id.to_string(),
                    extranonce1: en1,
                });
                s.subscribed = true;
                self.set_pool_status(index, "Alive");
                while let Some((share, resubmit)) = self.offline.pop_front() {
                    match self.submit(s, share, resubmit) {
                        Ok(true) => update(&self.stats, |st| st.submitted_after_reconnect += 1),
                        Ok(false) => {}
                        Err(e) => return Some(End::Lost(e)),
                    }
                }
            }
            Answer::Subscribe(Err(r)) => {
                return Some(End::Lost(format!("subscribe refused: {}", r.reason)));
            }
            Answer::Authorize(Ok(())) => {
                tracing::info!(pool = %url, user = %self.cfg.user, "authorized");
            }
            Answer::Authorize(Err(r)) => {
                return Some(End::Refused(format!(
                    "{url} refused to authorize {:?}: {}",
                    self.cfg.user, r.reason
                )));
            }
            Answer::ExtranonceSubscribe(ok) => {
                tracing::debug!(ok, "extranonce.subscribe answered");
            }
            Answer::SuggestDifficulty(ok) => {
                tracing::debug!(ok, "suggest_difficulty answered");
            }
            Answer::Submit { share_job, outcome } => {
                let diff = share.as_ref().map(|(sh, _)| sh.difficulty).unwrap_or(0.0);
                let is_block = share.as_ref().is_some_and(|(sh, _)| sh.is_block);
                let resubmitted = share.as_ref().is_some_and(|(_, r)| *r);
                let ms = latency.as_secs_f64() * 1e3;
                let outcome = match outcome {
                    // The first submission reached the pool but its reply
                    // was lost with the connection: it was accepted then.
                    Err(r) if resubmitted && r.is_duplicate() => {
                        tracing::info!(job = %share_job, "resubmitted share was already accepted before the connection dropped");
                        Ok(())
                    }
                    other => other,
                };
                match outcome {
                    Ok(()) => {
                        let pool_diff = self
                            .book
                            .entry(&share_job)
                            .map(|e| crate::hashing::pow::target_difficulty(e.job.share_target))
                            .unwrap_or(diff);
                        let (accepted, answered) = update(&self.stats, |st| {
                            st.accepted += 1;
                            st.blocks += u64::from(is_block);
                            st.accepted_difficulty += pool_diff;
                            st.reply(latency);
                            if let Some(p) = st.per_pool.get_mut(index) {
                                p.accepted += 1;
                            }
                            (st.accepted, st.accepted + st.rejected + st.stale)
                        });
                        // One line per share, as cpuminer users expect.
                        tracing::info!(
                            job = %share_job,
                            latency_ms = format!("{ms:.1}"),
                            "accepted: {accepted}/{answered} ({:.2}%), share difficulty {}{}",
                            100.0 * accepted as f64 / answered.max(1) as f64,
                            crate::report::units::format_count(diff),
                            if is_block { ", and it is a BLOCK" } else { "" }
                        );
                    }
                    Err(r) if r.is_stale() => {
                        tracing::info!(job = %share_job, reason = %r.reason, latency_ms = ms, "share refused as stale");
                        update(&self.stats, |st| {
                            st.stale += 1;
                            st.reply(latency);
                            if let Some(p) = st.per_pool.get_mut(index) {
                                p.stale += 1;
                            }
                        });
                    }
                    Err(r) => {
                        tracing::warn!(job = %share_job, reason = %r.reason, latency_ms = ms, "share rejected");
                        update(&self.stats, |st| {
                            st.rejected += 1;
                            *st.reject_reasons.entry(r.reason.clone()).or_insert(0) += 1;
                            st.reply(latency);
                            if let Some(p) = st.per_pool.get_mut(index) {
                                p.rejected += 1;
                            }
                        });
                    }
                }
            }
        }
        None
    }

    /// The pool granted `granted` (in its answer to `mining.configure`, or
    /// with `mining.set_version_mask`): roll the granted bits that were
    /// asked for, and say which.
    fn grant_version_mask(&mut self, granted: u32, from: &str) {
        let granted = if self.cfg.version_rolling { granted } else { 0 };
        let job = self.book.set_version_mask(granted);
        let rolled = self.book.version_mask();
        let requested = self.book.requested_mask();
        if granted & !requested != 0 {
            tracing::warn!(
                granted = format_args!("{granted:08x}"),
                requested = format_args!("{requested:08x}"),
                "the pool granted version bits that were not asked for; they are left as the job has them"
            );
        }
        tracing::info!(
            rolled = format_args!("{rolled:08x}"),
            granted = format_args!("{granted:08x}"),
            requested = format_args!("{requested:08x}"),
            "version rolling mask from {from}: rolling {rolled:08x}"
        );
        // While hashing is paused the rebuilt job waits for the resume.
        if let (Some(job), false) = (job, self.paused) {
            self.miner.set_job(Some(job));
        }
    }

    /// A share from the engine: count it and keep the best difficulty.
    fn found(&self, share: &Share) {
        update(&self.stats, |st| st.found += 1);
        self.report.record_share_difficulty(share.difficulty);
    }

    fn set_pool_status(&self, index: usize, status: &str) {
        update(&self.stats, |st| {
            if let Some(p) = st.per_pool.get_mut(index) {
                p.status = status.to_string();
            }
        });
    }

    /// Mirror the counters into the run's shared [`Stats`] (status line,
    /// summary and monitoring API read them there).
    fn publish(&self) {
        let (accepted, rejected, stale, blocks, difficulty, pools, reasons) =
            update(&self.stats, |st| {
                (
                    st.accepted,
                    st.rejected,
                    st.stale,
                    st.blocks,
                    st.difficulty,
                    st.per_pool.clone(),
                    st.reject_reasons.clone(),
                )
            });
        let r = self.report;
        r.accepted.store(accepted, Ordering::Relaxed);
        r.rejected.store(rejected, Ordering::Relaxed);
        r.stale.store(stale, Ordering::Relaxed);
        r.blocks.store(blocks, Ordering::Relaxed);
        let pools: Vec<SourceStatus> = pools
            .into_iter()
            .map(|mut p| {
                if p.status == "Alive" {
                    p.difficulty = difficulty;
                }
                p
            })
            .collect();
        r.set_difficulty(difficulty);
        r.set_sources(pools);
        r.set_reject_reasons(reasons);
    }
}

/// Probe `pools` in order on a thread of its own; the receiver gets the
/// index of the first one that is back, or `None`.
fn spawn_probe(
    pools: Vec<PoolUrl>,
    tls: Option<TlsSettings>,
    agent: String,
    timeout: Duration,
) -> Receiver<Option<usize>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let run = move || {
        let back = pools
            .iter()
            .position(|p| match probe(p, tls.as_ref(), &agent, timeout) {
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

/// Whether a pool is back: it accepts a connection, completes the TLS
/// handshake for `stratum+ssl`, and answers a `mining.subscribe`, all
/// within `timeout`. A bare TCP accept is not enough (a port can accept
/// and never serve).
pub fn probe(
    url: &PoolUrl,
    tls: Option<&TlsSettings>,
    agent: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut conn = Connection::open(url, tls, timeout).map_err(|e| e.to_string())?;
    let mut pending = PendingMap::new();
    let result = (|| {
        let msg = pending
            .register(
                Request::Subscribe {
                    agent: agent.to_string(),
                    session: None,
                },
                Pending::Subscribe { resume: None },
                Instant::now(),
            )
            .map_err(|e| e.to_string())?;
        conn.write_line(&msg.to_line())
            .map_err(|e| format!("write failed: {e}"))?;
        let mut lines = LineBuffer::new();
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline {
            match conn.poll(&mut buf) {
                Ok(Some(0)) => return Err("closed the connection".to_string()),
                Ok(Some(n)) => lines.push(&buf[..n]),
                Ok(None) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
            while let Some(line) = lines.next_line().map_err(|e| e.to_string())? {
                let Ok(ServerMessage::Reply(reply)) = ServerMessage::from_line(&line) else {
                    continue;
                };
                match pending.resolve(&reply, Instant::now()) {
                    Ok((Answer::Subscribe(Ok(_)), _)) => return Ok(()),
                    Ok((Answer::Subscribe(Err(r)), _)) => {
                        return Err(format!("subscribe refused: {}", r.reason))
                    }
                    _ => {}
                }
            }
        }
        Err(format!(
            "no subscribe answer in {} s",
            timeout.as_secs_f64()
        ))
    })();
    conn.close();
    result
}

/// One open connection's state.
struct Conn {
    conn: Connection,
    pending: PendingMap,
    /// Submitted shares waiting for their reply, by request id.
    inflight: HashMap<u64, (Share, bool)>,
    subscribed: bool,
    /// The pool's place in the `-o` list.
    index: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let (min, max) = (Duration::from_millis(250), Duration::from_secs(30));
        for failures in 0..40 {
            let full = min.saturating_mul(1 << failures.min(16)).min(max);
            let d = backoff(min, max, failures);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
        assert!(backoff(min, max, 100) <= max);
        // Jitter: not every wait is the same.
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(min, max, 5)).collect();
        assert!(waits.len() > 1);
    }
}
