//! Stratum v1 as a [`PoolProtocol`] of the pool runner
//! ([`crate::sources::pool`]): what one connection says and does.
//!
//! A session asks for version rolling, subscribes (resuming the previous
//! session when it reconnects to the same pool), authorizes, and then
//! polls: lines from the pool become jobs for the [`Miner`](crate::hashing::engine::Miner), shares from
//! the engine become `mining.submit`s. A `client.reconnect` is followed
//! only within the pool's registered domain or to hosts the user listed.
//! The failback probe is a TLS handshake and a `mining.subscribe` answer.
//! The runner does the rest: the `-o` list, backoff, failback timing, the
//! offline queue, the pause after `offline_grace`, the accounting.
//!
//! No share vanishes: a share of an older job that the pool still accepts
//! (no `clean_jobs`, difficulty or extranonce change since) is submitted;
//! a share found while disconnected waits in the runner's queue and is
//! submitted after the reconnect if its job is still valid in the resumed
//! session; otherwise it is counted stale and logged. Every share ends up
//! accepted, rejected (with the pool's reason) or stale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::codec::{
    Answer, ClientMessage, CodecError, LineBuffer, Pending, PendingMap, Request, ServerMessage,
    VersionRolling,
};
use super::job::JobBook;
use super::transport::{redirect_allowed, Connection, TlsSettings};
use super::wire::Difficulty;
use crate::hashing::work::Share;
use crate::sources::pool::{
    ConnectFailure, End, PoolConfig, PoolError, PoolProtocol, PoolSession, PoolUrl, Prober,
    SessionContext, SessionEnd,
};

/// The version bits noncesweep asks to roll by default (BIP320's range).
/// The bits rolled are the pool's answer within the request.
pub const REQUESTED_MASK: u32 = 0x1fff_e000;

/// How the client behaves: the runner's settings and Stratum v1's own.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The pools, credentials, timeouts and limits of the runner.
    pub pool: PoolConfig,
    /// The user agent sent with `mining.subscribe`.
    pub agent: String,
    pub suggest_difficulty: Option<Difficulty>,
    pub version_rolling: bool,
    /// The version bits asked for in `mining.configure` (`--version-mask`);
    /// only bits both asked for and granted are rolled.
    pub version_mask: u32,
    pub tls_insecure: bool,
    /// Hosts a pool may send us to with `client.reconnect`
    /// (`--allow-reconnect-to`), besides its own.
    pub allow_reconnect_to: Vec<String>,
    /// Also follow a `client.reconnect` to a host of the pool's own
    /// registered domain (off with cpuminer's `--no-redirect`).
    pub reconnect_same_domain: bool,
}

impl SessionConfig {
    /// Defaults for everything but the pools and credentials.
    pub fn new(pools: Vec<PoolUrl>, user: String, password: String) -> Self {
        SessionConfig {
            pool: PoolConfig::new(pools, user, password),
            agent: format!("noncesweep/{}", env!("CARGO_PKG_VERSION")),
            suggest_difficulty: None,
            version_rolling: true,
            version_mask: REQUESTED_MASK,
            tls_insecure: false,
            allow_reconnect_to: Vec::new(),
            reconnect_same_domain: true,
        }
    }
}

/// The previous session, to resume after a reconnect.
struct Resume {
    pool: usize,
    session_id: String,
    extranonce1: Vec<u8>,
}

/// Stratum v1, with what it keeps across connections: the jobs shares may
/// still be submitted for, and the session to resume.
pub struct StratumV1<'a> {
    cfg: &'a SessionConfig,
    tls: Option<TlsSettings>,
    book: JobBook,
    resume: Option<Resume>,
}

impl<'a> StratumV1<'a> {
    /// Set up for `cfg`'s pools (TLS when any of them asks for it).
    pub fn new(cfg: &'a SessionConfig) -> Result<Self, PoolError> {
        let tls = if cfg.pool.pools.iter().any(|p| p.tls) {
            Some(
                TlsSettings::new(cfg.tls_insecure)
                    .map_err(|e| PoolError::Setup(format!("cannot set up TLS: {e}")))?,
            )
        } else {
            None
        };
        Ok(StratumV1 {
            cfg,
            tls,
            book: JobBook::with_requested_mask(cfg.version_mask),
            resume: None,
        })
    }
}

impl PoolProtocol for StratumV1<'_> {
    fn connect(
        &mut self,
        url: &PoolUrl,
        timeout: Duration,
    ) -> Result<Box<dyn PoolSession + '_>, ConnectFailure> {
        let conn =
            Connection::open(url, self.tls.as_ref(), timeout).map_err(|e| ConnectFailure {
                message: e.to_string(),
                permanent: e.is_permanent(),
            })?;
        Ok(Box::new(Conn {
            v1: self,
            url: url.clone(),
            conn,
            pending: PendingMap::new(),
            inflight: HashMap::new(),
            subscribed: false,
        }))
    }

    fn prober(&self) -> Prober {
        let (tls, agent) = (self.tls.clone(), self.cfg.agent.clone());
        Arc::new(move |url: &PoolUrl, timeout: Duration| probe(url, tls.as_ref(), &agent, timeout))
    }
}

/// One open connection's state.
struct Conn<'p, 'a> {
    v1: &'p mut StratumV1<'a>,
    url: PoolUrl,
    conn: Connection,
    pending: PendingMap,
    /// Submitted shares waiting for their reply, by request id.
    inflight: HashMap<u64, (Share, bool)>,
    subscribed: bool,
}

impl PoolSession for Conn<'_, '_> {
    /// One connection, from the handshake until it ends.
    fn run(mut self: Box<Self>, ctx: &mut SessionContext<'_, '_>) -> SessionEnd {
        let end = self.drive(ctx);
        // Submissions without a reply: resubmitted if the session resumes,
        // else stale.
        let mut unanswered: Vec<(u64, (Share, bool))> = self.inflight.drain().collect();
        unanswered.sort_by_key(|(id, _)| *id);
        if !unanswered.is_empty() {
            tracing::warn!(
                shares = unanswered.len(),
                "submissions unanswered when the connection ended"
            );
            ctx.stats(|st| st.unanswered += unanswered.len() as u64);
        }
        for (_, (share, _)) in unanswered {
            if matches!(end, End::Stop) {
                ctx.stats(|st| st.stale(None));
            } else {
                ctx.queue_offline(share, true);
            }
        }
        self.conn.close();
        SessionEnd {
            end,
            served: self.subscribed,
        }
    }
}

impl Conn<'_, '_> {
    fn send(&mut self, request: Request, pending: Pending) -> Result<u64, String> {
        let msg = self
            .pending
            .register(request, pending, Instant::now())
            .map_err(|e| e.to_string())?;
        let line = msg.to_line();
        self.conn
            .write_line(&line)
            .map_err(|e| format!("write failed: {e}"))?;
        match msg {
            ClientMessage::Request { id, .. } => Ok(id),
            ClientMessage::Reply { .. } => Ok(0),
        }
    }

    fn handshake(&mut self, ctx: &mut SessionContext<'_, '_>) -> Result<(), String> {
        let cfg = self.v1.cfg;
        if cfg.version_rolling {
            self.send(
                Request::Configure(Some(VersionRolling {
                    mask: cfg.version_mask,
                    min_bit_count: 2.min(cfg.version_mask.count_ones()),
                })),
                Pending::Configure,
            )?;
        } else if let Some(job) = self.v1.book.set_version_mask(0) {
            ctx.miner().set_job(Some(job));
        }
        let session = self
            .v1
            .resume
            .as_ref()
            .filter(|r| r.pool == ctx.index())
            .map(|r| r.session_id.clone());
        self.send(
            Request::Subscribe {
                agent: cfg.agent.clone(),
                session: session.clone(),
            },
            Pending::Subscribe { resume: session },
        )?;
        self.send(
            Request::Authorize {
                user: cfg.pool.user.clone(),
                password: cfg.pool.password.clone(),
            },
            Pending::Authorize,
        )?;
        self.send(Request::ExtranonceSubscribe, Pending::ExtranonceSubscribe)?;
        if let Some(d) = cfg.suggest_difficulty {
            self.send(Request::SuggestDifficulty(d), Pending::SuggestDifficulty)?;
        }
        Ok(())
    }

    fn drive(&mut self, ctx: &mut SessionContext<'_, '_>) -> End {
        if let Err(e) = self.handshake(ctx) {
            return End::Lost(e);
        }
        let idle_timeout = ctx.config().idle_timeout;
        let mut lines = LineBuffer::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_rx = Instant::now();
        let mut draining: Option<Instant> = None;
        loop {
            if draining.is_none() && (ctx.stop() || ctx.reached_max()) {
                // Give outstanding submissions a moment to be answered.
                draining = Some(Instant::now() + Duration::from_secs(2));
                ctx.miner().set_job(None);
            }
            if let Some(deadline) = draining {
                if self.inflight.is_empty() || Instant::now() > deadline {
                    return End::Stop;
                }
            }
            match self.conn.poll(&mut buf) {
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
                        if let Some(end) = self.on_line(ctx, &line) {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(CodecError::NotUtf8) => {
                        protocol_error(ctx, &CodecError::NotUtf8, "");
                    }
                    Err(e) => {
                        ctx.stats(|st| st.protocol_errors += 1);
                        return End::Lost(format!("protocol error: {e}"));
                    }
                }
            }
            if draining.is_none() {
                while let Some(share) = ctx.next_share() {
                    if self.subscribed {
                        if let Err(e) = self.submit(ctx, share, false) {
                            return End::Lost(e);
                        }
                    } else {
                        ctx.queue_offline(share, false);
                    }
                }
            }
            if last_rx.elapsed() > idle_timeout {
                return End::Lost(format!("nothing heard for {} s", idle_timeout.as_secs()));
            }
            if ctx.failback() {
                return End::Failback;
            }
            ctx.publish();
        }
    }

    /// Submit a share if its job is still valid (`Ok(true)`), else count
    /// it stale (`Ok(false)`).
    fn submit(
        &mut self,
        ctx: &mut SessionContext<'_, '_>,
        share: Share,
        resubmit: bool,
    ) -> Result<bool, String> {
        let Some(submit) = self.v1.book.submit_for(&share, &self.v1.cfg.pool.user) else {
            tracing::info!(job = %share.job_id, "share's job is no longer valid: counted as stale");
            let index = ctx.index();
            ctx.stats(|st| st.stale(Some(index)));
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
        let id = match self.send(Request::Submit(submit), Pending::Submit { share_job: job }) {
            Ok(id) => id,
            Err(e) => {
                // The connection is gone (the line may have left in part):
                // keep the share for the next session, as a resubmission.
                ctx.queue_offline(share, true);
                return Err(e);
            }
        };
        self.inflight.insert(id, (share, resubmit));
        Ok(true)
    }

    fn on_line(&mut self, ctx: &mut SessionContext<'_, '_>, line: &str) -> Option<End> {
        tracing::trace!("<- {line}");
        let msg = match ServerMessage::from_line(line) {
            Ok(m) => m,
            Err(e) => {
                protocol_error(ctx, &e, line);
                return None;
            }
        };
        let url = &self.url;
        match msg {
            ServerMessage::Reply(reply) => {
                let (answer, latency) = match self.pending.resolve(&reply, Instant::now()) {
                    Ok(a) => a,
                    Err(e) => {
                        protocol_error(ctx, &e, line);
                        return None;
                    }
                };
                let share = self.inflight.remove(&reply.id);
                return self.on_answer(ctx, answer, latency, share);
            }
            ServerMessage::Notify(n) => {
                let job = self.v1.book.on_notify(&n);
                let difficulty = self.v1.book.difficulty();
                tracing::debug!(
                    job = %n.job_id,
                    clean = n.clean_jobs,
                    difficulty,
                    "new job"
                );
                ctx.stats(|st| st.difficulty = difficulty);
                ctx.miner().set_job(Some(job));
            }
            ServerMessage::SetDifficulty(d) => {
                tracing::debug!(difficulty = d.get(), "difficulty for the next job");
                self.v1.book.set_difficulty(d.get());
            }
            ServerMessage::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                tracing::info!(extranonce1 = %extranonce1, size = extranonce2_size.get(), "new extranonce from the next job on");
                self.v1
                    .book
                    .set_extranonce(extranonce1.as_bytes(), extranonce2_size.get());
                if let Some(r) = self.v1.resume.as_mut() {
                    r.extranonce1 = extranonce1.as_bytes().to_vec();
                }
            }
            ServerMessage::SetVersionMask(mask) => {
                self.grant_version_mask(ctx, mask, "mining.set_version_mask");
            }
            ServerMessage::Reconnect { host, port, wait } => {
                let cfg = self.v1.cfg;
                let mut target = url.clone();
                if let Some(h) = host {
                    if let Err(why) = redirect_allowed(
                        &url.host,
                        &h,
                        &cfg.allow_reconnect_to,
                        cfg.reconnect_same_domain,
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
                let line = ClientMessage::version_reply(id, &self.v1.cfg.agent).to_line();
                if let Err(e) = self.conn.write_line(&line) {
                    return Some(End::Lost(format!("write failed: {e}")));
                }
            }
            ServerMessage::Ping { id } => {
                if let Err(e) = self.conn.write_line(&ClientMessage::pong(id).to_line()) {
                    return Some(End::Lost(format!("write failed: {e}")));
                }
            }
        }
        None
    }

    fn on_answer(
        &mut self,
        ctx: &mut SessionContext<'_, '_>,
        answer: Answer,
        latency: Duration,
        share: Option<(Share, bool)>,
    ) -> Option<End> {
        let index = ctx.index();
        match answer {
            Answer::Configure(mask) => {
                self.grant_version_mask(ctx, mask.unwrap_or(0), "mining.configure");
            }
            Answer::Subscribe(Ok(sub)) => {
                let en1 = sub.extranonce1.as_bytes().to_vec();
                let resumed = self
                    .v1
                    .resume
                    .as_ref()
                    .is_some_and(|r| r.pool == index && r.extranonce1 == en1);
                ctx.online();
                if resumed {
                    tracing::info!(extranonce1 = %sub.extranonce1, "session resumed");
                    // The resumed session's job is still good: hash on from
                    // where the pause stopped it, so that no share already
                    // found is found (and submitted) again.
                    if ctx.paused() {
                        ctx.resume_hashing(self.v1.book.current());
                    }
                } else {
                    ctx.forget_pause();
                    tracing::info!(extranonce1 = %sub.extranonce1, extranonce2_size = sub.extranonce2_size.get(), "subscribed (new session)");
                    self.v1.book.new_session(&en1, sub.extranonce2_size.get());
                    ctx.miner().set_job(None);
                }
                self.v1.resume = sub.session_id().map(|id| Resume {
                    pool: index,
                    session_id: id.to_string(),
                    extranonce1: en1,
                });
                self.subscribed = true;
                ctx.set_pool_status("Alive");
                while let Some((share, resubmit)) = ctx.take_offline() {
                    match self.submit(ctx, share, resubmit) {
                        Ok(true) => ctx.stats(|st| st.submitted_after_reconnect += 1),
                        Ok(false) => {}
                        Err(e) => return Some(End::Lost(e)),
                    }
                }
            }
            Answer::Subscribe(Err(r)) => {
                return Some(End::Lost(format!("subscribe refused: {}", r.reason)));
            }
            Answer::Authorize(Ok(())) => {
                tracing::info!(pool = %self.url, user = %self.v1.cfg.pool.user, "authorized");
            }
            Answer::Authorize(Err(r)) => {
                return Some(End::Refused(format!(
                    "{} refused to authorize {:?}: {}",
                    self.url, self.v1.cfg.pool.user, r.reason
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
                            .v1
                            .book
                            .entry(&share_job)
                            .map(|e| crate::hashing::pow::target_difficulty(e.job.share_target))
                            .unwrap_or(diff);
                        let (accepted, answered) = ctx.stats(|st| {
                            let counts = st.accepted(index, pool_diff, is_block);
                            st.reply(latency);
                            counts
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
                        ctx.stats(|st| {
                            st.stale(Some(index));
                            st.reply(latency);
                        });
                    }
                    Err(r) => {
                        tracing::warn!(job = %share_job, reason = %r.reason, latency_ms = ms, "share rejected");
                        ctx.stats(|st| {
                            st.rejected(index, &r.reason);
                            st.reply(latency);
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
    fn grant_version_mask(&mut self, ctx: &mut SessionContext<'_, '_>, granted: u32, from: &str) {
        let granted = if self.v1.cfg.version_rolling {
            granted
        } else {
            0
        };
        let book = &mut self.v1.book;
        let job = book.set_version_mask(granted);
        let rolled = book.version_mask();
        let requested = book.requested_mask();
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
        if let (Some(job), false) = (job, ctx.paused()) {
            ctx.miner().set_job(Some(job));
        }
    }
}

fn protocol_error(ctx: &SessionContext<'_, '_>, e: &CodecError, line: &str) {
    ctx.stats(|st| st.protocol_errors += 1);
    let shown: String = line.chars().take(200).collect();
    tracing::warn!("ignoring a bad line from the pool: {e}: {shown:?}");
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
