//! Stratum V2 as a [`PoolProtocol`] of the pool runner: a connection is a
//! TCP socket with a Noise handshake checked against the pool's authority
//! key; a session sets the connection up for the mining protocol, opens one
//! channel (extended when the pool allows it, so the miner rolls the
//! extranonce and the version; else standard, header-only), then feeds the
//! channel's jobs to the engine and submits its shares until the connection
//! ends.
//!
//! Everything around the session (the `-o` list, backoff, failback, the
//! offline queue and pause, the accounting) is the runner's. A new
//! connection is always a new channel, so shares found before it are
//! stale there: the channel says so and they are counted, never sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::{is_stale_code, Channel, Kind, NotSent, Outcome};
use super::key::AuthorityKey;
use super::wire::{FromPool, Link, LinkError, ToPool, REQUIRES_FIXED_VERSION};
use crate::hashing::pow::target_difficulty;
use crate::hashing::work::{Job, Share};
use crate::report::units::format_rate;
use crate::sources::pool::{
    ConnectFailure, End, PoolProtocol, PoolSession, PoolUrl, Prober, SessionContext, SessionEnd,
};
use crate::sources::stratum::transport::{redirect_allowed, Connection};

/// Which channel to ask for (`--sv2-channel`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelChoice {
    /// Extended when the pool allows it, else standard.
    #[default]
    Auto,
    /// Extended only: the miner builds the coinbase and rolls the extranonce.
    Extended,
    /// Standard only: header-only mining on the pool's merkle root.
    Standard,
}

/// How noncesweep speaks Stratum V2.
#[derive(Clone, Debug)]
pub struct Sv2Settings {
    /// The key for pools whose URL has none (`--sv2-authority-key`).
    pub authority_key: Option<AuthorityKey>,
    pub channel: ChannelChoice,
    /// Roll version bits where the pool allows it.
    pub version_rolling: bool,
    /// The version bits to roll (BIP320's by default).
    pub version_mask: u32,
    /// The hash rate announced when opening the channel (hashes per
    /// second): the pool sets the first share target from it.
    pub hash_rate: f64,
    /// How often the rate measured on an open channel is compared with
    /// the one announced (`Duration::ZERO`: never); when they differ by
    /// more than [`RATE_DRIFT`], the measured one is announced with
    /// `UpdateChannel`, and the pool sets a target to match.
    pub hash_rate_check: Duration,
    /// The fewest extranonce bytes the miner asks for on an extended
    /// channel.
    pub min_extranonce_size: u16,
    /// Sent as the device's firmware in `SetupConnection`.
    pub agent: String,
    pub allow_reconnect_to: Vec<String>,
    pub reconnect_same_domain: bool,
}

impl Sv2Settings {
    pub fn new(hash_rate: f64) -> Self {
        Sv2Settings {
            authority_key: None,
            channel: ChannelChoice::Auto,
            version_rolling: true,
            version_mask: crate::hashing::work::BIP320_MASK,
            hash_rate,
            hash_rate_check: Duration::from_secs(60),
            min_extranonce_size: 4,
            agent: format!("noncesweep/{}", env!("CARGO_PKG_VERSION")),
            allow_reconnect_to: Vec::new(),
            reconnect_same_domain: true,
        }
    }

    /// The key a pool at `url` must prove it holds.
    fn key_for(&self, url: &PoolUrl) -> Result<AuthorityKey, ConnectFailure> {
        url.authority_key
            .or(self.authority_key)
            .ok_or_else(|| ConnectFailure {
                message: format!(
                    "no authority key for {url}: put the pool's key in the URL (stratum2+tcp://host:port/KEY) or give --sv2-authority-key"
                ),
                permanent: true,
            })
    }
}

/// The protocol object the runner drives.
pub struct Sv2 {
    pub settings: Sv2Settings,
}

/// Open TCP and run the Noise handshake.
fn connect(url: &PoolUrl, key: AuthorityKey, timeout: Duration) -> Result<Link, ConnectFailure> {
    let conn = Connection::open(url, None, timeout).map_err(|e| ConnectFailure {
        message: e.to_string(),
        permanent: e.is_permanent(),
    })?;
    Link::handshake(conn, key, timeout).map_err(|e| ConnectFailure {
        message: format!("{url}: {e}"),
        permanent: e.is_permanent(),
    })
}

fn setup_message(url: &PoolUrl, agent: &str) -> ToPool {
    ToPool::Setup {
        host: url.host.clone(),
        port: url.port,
        vendor: "noncesweep".into(),
        firmware: agent.to_string(),
        device_id: format!("{}-{}", hostname(), std::process::id()),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cpu".into())
}

/// Wait for the next message that `want` accepts, within `timeout`;
/// other messages are logged and dropped (nothing else may come first).
fn expect<T>(
    link: &mut Link,
    timeout: Duration,
    stop: &dyn Fn() -> bool,
    mut want: impl FnMut(&FromPool) -> Option<T>,
) -> Result<Option<T>, String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if stop() {
            return Ok(None);
        }
        match link.poll() {
            Ok(Some(m)) => match want(&m) {
                Some(t) => return Ok(Some(t)),
                None => {
                    tracing::debug!(message = ?m, "unexpected message before the channel opened: ignored")
                }
            },
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("no answer within {}s", timeout.as_secs()))
}

/// `SetupConnection` on a fresh link: `Ok(flags)` or why not.
fn setup(
    link: &mut Link,
    url: &PoolUrl,
    agent: &str,
    timeout: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<Option<u32>, End> {
    link.send(&setup_message(url, agent))
        .map_err(|e| End::Lost(e.to_string()))?;
    let answer = expect(link, timeout, stop, |m| match m {
        FromPool::SetupSuccess { flags, .. } => Some(Ok(*flags)),
        FromPool::SetupError { code } => Some(Err(code.clone())),
        _ => None,
    })
    .map_err(|e| End::Lost(format!("connection setup: {e}")))?;
    match answer {
        None => Ok(None),
        Some(Ok(flags)) => Ok(Some(flags)),
        Some(Err(code)) => Err(End::Refused(format!(
            "{url} refused the connection setup: {code}"
        ))),
    }
}

impl PoolProtocol for Sv2 {
    fn connect(
        &mut self,
        url: &PoolUrl,
        timeout: Duration,
    ) -> Result<Box<dyn PoolSession + '_>, ConnectFailure> {
        let key = self.settings.key_for(url)?;
        let link = connect(url, key, timeout)?;
        tracing::info!(pool = %url, "Noise handshake done: the pool holds the authority key");
        Ok(Box::new(Session {
            settings: &self.settings,
            url: url.clone(),
            link,
            channel: None,
            announced: self.settings.hash_rate,
        }))
    }

    fn prober(&self) -> Prober {
        let settings = self.settings.clone();
        Arc::new(move |url: &PoolUrl, timeout: Duration| {
            let key = settings.key_for(url).map_err(|e| e.message)?;
            let mut link = connect(url, key, timeout).map_err(|e| e.message)?;
            let r = setup(&mut link, url, &settings.agent, timeout, &|| false);
            link.close();
            match r {
                Ok(_) => Ok(()),
                Err(End::Refused(why) | End::Lost(why)) => Err(why),
                Err(other) => Err(format!("{other:?}")),
            }
        })
    }
}

/// One connection's session.
struct Session<'a> {
    settings: &'a Sv2Settings,
    url: PoolUrl,
    link: Link,
    channel: Option<Channel>,
    /// The hash rate the pool was last told (hashes per second).
    announced: f64,
}

impl PoolSession for Session<'_> {
    fn run(mut self: Box<Self>, ctx: &mut SessionContext<'_, '_>) -> SessionEnd {
        ctx.forget_pause();
        let (end, served) = match self.open(ctx) {
            Ok(true) => (self.drive(ctx), true),
            Ok(false) => (End::Stop, false),
            Err(end) => (end, false),
        };
        // Submissions still unanswered: the channel dies with the
        // connection, so they can never be answered now.
        if let Some(ch) = self.channel.as_mut() {
            give_up(
                ctx,
                ch.forget_inflight(),
                "submissions unanswered when the connection ended",
            );
        }
        self.link.close();
        SessionEnd { end, served }
    }
}

impl Session<'_> {
    /// Set the connection up and open a channel. `Ok(false)` on a stop.
    fn open(&mut self, ctx: &mut SessionContext<'_, '_>) -> Result<bool, End> {
        let timeout = ctx.config().connect_timeout;
        let stop = || ctx.stop();
        let Some(flags) = setup(
            &mut self.link,
            &self.url,
            &self.settings.agent,
            timeout,
            &stop,
        )?
        else {
            return Ok(false);
        };
        let fixed_version = flags & REQUIRES_FIXED_VERSION != 0;
        let mask = if self.settings.version_rolling && !fixed_version {
            self.settings.version_mask
        } else {
            0
        };
        let user = ctx.config().user.clone();
        let hash_rate = self.settings.hash_rate as f32;
        let kinds: &[Kind] = match self.settings.channel {
            ChannelChoice::Auto => &[Kind::Extended, Kind::Standard],
            ChannelChoice::Extended => &[Kind::Extended],
            ChannelChoice::Standard => &[Kind::Standard],
        };
        let mut refusals = Vec::new();
        for (i, kind) in kinds.iter().enumerate() {
            let request_id = i as u32 + 1;
            let msg = match kind {
                Kind::Extended => ToPool::OpenExtended {
                    request_id,
                    user: user.clone(),
                    hash_rate,
                    min_extranonce_size: self.settings.min_extranonce_size,
                },
                Kind::Standard => ToPool::OpenStandard {
                    request_id,
                    user: user.clone(),
                    hash_rate,
                },
            };
            self.link.send(&msg).map_err(|e| End::Lost(e.to_string()))?;
            let stop = || ctx.stop();
            let answer = expect(&mut self.link, timeout, &stop, |m| match m {
                FromPool::ExtendedOpened { request_id: r, .. }
                | FromPool::StandardOpened { request_id: r, .. }
                    if *r == request_id =>
                {
                    Some(Ok(m.clone()))
                }
                FromPool::OpenError {
                    request_id: r,
                    code,
                } if *r == request_id => Some(Err(code.clone())),
                _ => None,
            })
            .map_err(|e| End::Lost(format!("opening a channel: {e}")))?;
            match answer {
                None => return Ok(false),
                Some(Ok(opened)) => {
                    let ch = Channel::opened(&opened, mask)
                        .ok_or_else(|| End::Lost("no channel in the pool's answer".into()))?;
                    tracing::info!(
                        pool = %self.url,
                        channel = ch.id,
                        kind = ch.kind.name(),
                        extranonce_prefix = %hex::encode(ch.extranonce_prefix()),
                        extranonce_size = ch.extranonce_size(),
                        difficulty = format!("{:.4}", target_difficulty(ch.target())),
                        version_rolling = mask != 0,
                        "channel open"
                    );
                    let difficulty = target_difficulty(ch.target());
                    ctx.stats(|st| st.difficulty = difficulty);
                    self.channel = Some(ch);
                    ctx.online();
                    ctx.set_pool_status("Alive");
                    return Ok(true);
                }
                Some(Err(code)) => {
                    tracing::info!(pool = %self.url, kind = kind.name(), "the pool refused the channel: {code}");
                    refusals.push(format!("{} channel: {code}", kind.name()));
                }
            }
        }
        Err(End::Refused(format!(
            "{} refused to open a channel ({})",
            self.url,
            refusals.join("; ")
        )))
    }

    /// Mine on the open channel until the connection ends.
    fn drive(&mut self, ctx: &mut SessionContext<'_, '_>) -> End {
        // Shares found while no pool was connected belong to another
        // channel's jobs: counted stale by the channel.
        while let Some((share, _)) = ctx.take_offline() {
            if let Err(end) = self.submit(ctx, share) {
                return end;
            }
        }
        let idle = ctx.config().idle_timeout;
        let mut heard = Instant::now();
        let mut published = Instant::now();
        let mut window = (Instant::now(), ctx.miner().counters().total());
        loop {
            if ctx.stop() || ctx.reached_max() {
                return End::Stop;
            }
            if ctx.failback() {
                return End::Failback;
            }
            match self.link.poll() {
                Ok(Some(msg)) => {
                    heard = Instant::now();
                    if let Some(end) = self.on_message(ctx, msg) {
                        return end;
                    }
                }
                Ok(None) => {}
                Err(LinkError::Closed) => {
                    return End::Lost("the pool closed the connection".into())
                }
                Err(e) => return End::Lost(e.to_string()),
            }
            while let Some(share) = ctx.next_share() {
                if let Err(end) = self.submit(ctx, share) {
                    return end;
                }
            }
            if heard.elapsed() >= idle {
                return End::Lost(format!(
                    "nothing heard from the pool for {}s",
                    idle.as_secs()
                ));
            }
            if published.elapsed() >= Duration::from_millis(500) {
                ctx.publish();
                published = Instant::now();
            }
            let check = self.settings.hash_rate_check;
            if !check.is_zero() && window.0.elapsed() >= check {
                let total = ctx.miner().counters().total();
                let rate = total.saturating_sub(window.1) as f64 / window.0.elapsed().as_secs_f64();
                window = (Instant::now(), total);
                if let Err(end) = self.check_rate(rate) {
                    return end;
                }
            }
        }
    }

    /// Tell the pool the channel's hash rate when the `measured` one has
    /// drifted from the one it was told (by more than [`RATE_DRIFT`]
    /// either way). A window without hashing (no job yet) says nothing.
    fn check_rate(&mut self, measured: f64) -> Result<(), End> {
        let Some(ch) = self.channel.as_ref() else {
            return Ok(());
        };
        if !rate_drifted(self.announced, measured) {
            return Ok(());
        }
        self.link
            .send(&ToPool::UpdateChannel {
                channel_id: ch.id,
                hash_rate: measured as f32,
            })
            .map_err(|e| End::Lost(e.to_string()))?;
        tracing::info!(
            channel = ch.id,
            measured = format_rate(measured),
            announced = format_rate(self.announced),
            "hash rate differs from the one the pool was told: sent UpdateChannel"
        );
        self.announced = measured;
        Ok(())
    }

    fn channel(&mut self) -> &mut Channel {
        self.channel
            .as_mut()
            .expect("drive runs only on an open channel")
    }

    /// Submit a share, or count it stale when its job is gone.
    fn submit(&mut self, ctx: &mut SessionContext<'_, '_>, share: Share) -> Result<(), End> {
        let job = share.job_id.clone();
        match self.channel().submit(share) {
            Ok(msg) => {
                if let Err(e) = self.link.send(&msg) {
                    return Err(End::Lost(e.to_string()));
                }
                let dropped = self.channel().overflow();
                give_up(
                    ctx,
                    dropped,
                    "too many submissions unanswered: the oldest counted stale",
                );
                Ok(())
            }
            Err(NotSent::Stale) => {
                tracing::info!(job = %job, "share's job is no longer valid: counted as stale");
                let index = ctx.index();
                ctx.stats(|st| st.stale(Some(index)));
                Ok(())
            }
        }
    }

    /// Put `job` to work; a new target for the same job continues where
    /// the cursor is.
    fn mine(&self, ctx: &SessionContext<'_, '_>, job: Arc<Job>, same_work: bool) {
        let miner = ctx.miner();
        if same_work {
            if let Some((old, cursor)) = miner.pause() {
                if old.id == job.id {
                    miner.resume(job, cursor);
                    return;
                }
            }
        }
        miner.set_job(Some(job));
    }

    fn on_message(&mut self, ctx: &mut SessionContext<'_, '_>, msg: FromPool) -> Option<End> {
        let index = ctx.index();
        let ch = self.channel();
        // Jobs, tips, targets and closes may go to the channel's group;
        // answers to submits go to the channel itself.
        let for_us = match &msg {
            FromPool::ExtendedJob(j) => ch.accepts(j.channel_id),
            FromPool::StandardJob(j) => ch.accepts(j.channel_id),
            FromPool::NewPrevHash { channel_id, .. }
            | FromPool::SetTarget { channel_id, .. }
            | FromPool::SetExtranoncePrefix { channel_id, .. }
            | FromPool::CloseChannel { channel_id, .. } => ch.accepts(*channel_id),
            FromPool::SubmitSuccess { channel_id, .. }
            | FromPool::SubmitError { channel_id, .. } => *channel_id == ch.id,
            _ => true,
        };
        if !for_us {
            tracing::debug!(message = ?msg, "message for another channel: ignored");
            return None;
        }
        match msg {
            FromPool::ExtendedJob(_) => {
                if let Some(job) = self.channel().on_job(&msg) {
                    tracing::debug!(job = %job.id, "new job");
                    self.mine(ctx, job, false);
                }
            }
            FromPool::StandardJob(_) => {
                if let Some(job) = self.channel().on_job(&msg) {
                    tracing::debug!(job = %job.id, "new job");
                    self.mine(ctx, job, false);
                }
            }
            FromPool::NewPrevHash {
                channel_id: _,
                job_id,
                prev_hash,
                min_ntime,
                nbits,
            } => {
                match self
                    .channel()
                    .on_prev_hash(job_id, prev_hash, min_ntime, nbits)
                {
                    Ok(job) => {
                        tracing::info!(job = %job.id, prev = %job.prev_hash, "new block to build on");
                        self.mine(ctx, job, false);
                    }
                    Err(why) => {
                        tracing::warn!(pool = %self.url, "{why}");
                        ctx.stats(|st| st.protocol_errors += 1);
                        ctx.miner().set_job(None);
                    }
                }
            }
            FromPool::SetTarget { target, .. } => {
                let current = self.channel().on_target(target);
                let difficulty = target_difficulty(self.channel().target());
                tracing::info!(difficulty = format!("{difficulty:.4}"), "new share target");
                ctx.stats(|st| st.difficulty = difficulty);
                if let Some(job) = current {
                    self.mine(ctx, job, true);
                }
            }
            FromPool::SetExtranoncePrefix {
                channel_id: _,
                extranonce_prefix,
            } => {
                tracing::info!(prefix = %hex::encode(&extranonce_prefix), "new extranonce prefix");
                if let Some(job) = self.channel().on_extranonce_prefix(extranonce_prefix) {
                    self.mine(ctx, job, false);
                }
            }
            FromPool::SubmitSuccess {
                channel_id: _,
                last_sequence_number,
                accepted_count,
            } => {
                let outcomes = self.channel().on_success(last_sequence_number);
                if outcomes.len() != accepted_count as usize {
                    tracing::debug!(
                        settled = outcomes.len(),
                        pool_count = accepted_count,
                        "the pool's accepted count differs from the shares settled"
                    );
                }
                let difficulty = target_difficulty(self.channel().target());
                for o in outcomes {
                    record(ctx, index, o, difficulty);
                }
            }
            FromPool::SubmitError {
                channel_id: _,
                sequence_number,
                code,
            } => {
                let difficulty = target_difficulty(self.channel().target());
                match self.channel().on_error(sequence_number, &code) {
                    Some(o) => record(ctx, index, o, difficulty),
                    None => {
                        tracing::warn!(sequence_number, %code, "the pool rejected a share we have no record of");
                        ctx.stats(|st| st.protocol_errors += 1);
                    }
                }
            }
            FromPool::CloseChannel { reason, .. } => {
                return Some(End::Lost(format!("the pool closed the channel: {reason}")));
            }
            FromPool::Reconnect { host, port } => {
                let host = if host.is_empty() {
                    self.url.host.clone()
                } else {
                    host
                };
                let port = if port == 0 { self.url.port } else { port };
                match redirect_allowed(
                    &self.url.host,
                    &host,
                    &self.settings.allow_reconnect_to,
                    self.settings.reconnect_same_domain,
                ) {
                    Ok(()) => {
                        let target = PoolUrl {
                            host,
                            port,
                            ..self.url.clone()
                        };
                        return Some(End::Reconnect {
                            target,
                            wait: Duration::ZERO,
                        });
                    }
                    Err(why) => {
                        tracing::warn!(pool = %self.url, "pool asked us to reconnect; refused: {why}");
                    }
                }
            }
            FromPool::UpdateChannelError { code, .. } => {
                tracing::warn!(%code, "the pool refused a channel update");
            }
            other => {
                tracing::debug!(message = ?other, "message ignored");
            }
        }
        None
    }
}

/// How far the measured hash rate may be from the announced one, as a
/// factor either way, before the pool is told: vardiff absorbs smaller
/// differences, and a CPU's rate moves by a few percent with its load.
pub const RATE_DRIFT: f64 = 1.5;

/// Whether `measured` has drifted from `announced` by more than
/// [`RATE_DRIFT`] (a measured 0, a window without work, never has).
pub fn rate_drifted(announced: f64, measured: f64) -> bool {
    measured > 0.0 && (measured > announced * RATE_DRIFT || measured * RATE_DRIFT < announced)
}

/// Count `n` submissions that will never be answered: unanswered, and
/// stale.
fn give_up(ctx: &mut SessionContext<'_, '_>, n: usize, why: &str) {
    if n == 0 {
        return;
    }
    tracing::warn!(shares = n, "{why}");
    ctx.stats(|st| {
        st.unanswered += n as u64;
        for _ in 0..n {
            st.stale(None);
        }
    });
}

/// Count an answered share.
fn record(ctx: &mut SessionContext<'_, '_>, index: usize, o: Outcome, difficulty: f64) {
    match o {
        Outcome::Accepted { share, latency } => {
            let (accepted, answered) = ctx.stats(|st| {
                let counts = st.accepted(index, difficulty, share.is_block);
                st.reply(latency);
                counts
            });
            tracing::info!(
                job = %share.job_id,
                latency_ms = format!("{:.1}", latency.as_secs_f64() * 1e3),
                "accepted: {accepted}/{answered} ({:.2}%), share difficulty {}{}",
                100.0 * accepted as f64 / answered.max(1) as f64,
                crate::report::units::format_count(share.difficulty),
                if share.is_block { ", and it is a BLOCK" } else { "" }
            );
        }
        Outcome::Rejected {
            share,
            latency,
            code,
        } => {
            let ms = latency.as_secs_f64() * 1e3;
            if is_stale_code(&code) {
                tracing::info!(job = %share.job_id, reason = %code, latency_ms = ms, "share refused as stale");
                ctx.stats(|st| {
                    st.stale(Some(index));
                    st.reply(latency);
                });
            } else {
                tracing::warn!(job = %share.job_id, reason = %code, latency_ms = ms, "share rejected");
                ctx.stats(|st| {
                    st.rejected(index, &code);
                    st.reply(latency);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_told_only_of_a_drift_beyond_half_either_way() {
        assert!(!rate_drifted(30e6, 30e6));
        assert!(!rate_drifted(30e6, 44e6));
        assert!(!rate_drifted(30e6, 21e6));
        assert!(rate_drifted(30e6, 46e6));
        assert!(rate_drifted(30e6, 19e6));
        assert!(rate_drifted(1e18, 30e6));
        // No hashing in the window (no job yet): nothing to tell.
        assert!(!rate_drifted(30e6, 0.0));
        // Nothing announced yet: any measured rate is news.
        assert!(rate_drifted(0.0, 1.0));
    }
}
