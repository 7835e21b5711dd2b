//! The solo-mining loop: templates from the node in, blocks to the node out.
//!
//! Threads and their jobs:
//! - a longpoll thread repeats `getblocktemplate` with the last `longpollid`,
//!   so a new tip reaches the engine as soon as the node knows it;
//! - a poller thread fetches a fresh template every `poll_interval` (new
//!   transactions and fees) and at once after one of our blocks is accepted;
//! - the engine's workers mine the current job; the extranonce is rolled by
//!   the engine ([`crate::hashing::work::Job::variant`]) when a nonce range runs out;
//! - this loop switches jobs ([`Miner::set_job`]), turns a found block into
//!   a pending file, submits it, and follows its confirmations.
//!
//! A found block is never lost: it is on disk before the first
//! `submitblock`, transport failures are retried with backoff until the node
//! gives a definitive answer, and blocks left pending by a stop are
//! submitted again at the next start.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::BlockHash;
use serde_json::{json, Value};

use super::pending::{PendingBlock, PendingStore};
use super::rpc::{RpcClient, RpcError};
use super::template::{self, BlockTemplate, Payout, TemplateError, TemplateJob};
use super::{payout_script, Network};
use crate::hashing::engine::{Miner, MinerConfig};
use crate::hashing::work::Share;
use crate::report::progress::Progress;
use crate::report::stats::Stats;
use crate::sources::accounting::{self, update, SharedStats};
use crate::sources::backoff::{sleep_unless, Backoff};
use crate::sources::WorkSource;

/// Everything the solo loop needs besides the node.
pub struct SoloConfig {
    /// The payout address, checked against the node's network.
    pub address: String,
    /// The network the user expects (`--network`); checked when given.
    pub network: Option<Network>,
    /// Bytes pushed into the coinbase after the extranonce.
    pub tag: Vec<u8>,
    /// Stop after this many accepted blocks.
    pub max_blocks: Option<u64>,
    pub poll_interval: Duration,
    pub state_dir: PathBuf,
    pub miner: MinerConfig,
    /// Version bits the miner may roll: BIP320's mask by default (which
    /// lets the SIMD kernels hash groups of versions), 0 for none.
    pub version_mask: u32,
    /// Whether to wait on the node's longpoll for a new tip as well as
    /// polling every `poll_interval` (cpuminer's `--no-longpoll` turns it
    /// off).
    pub longpoll: bool,
    /// Polled often; `true` asks the loop to stop (Ctrl-C).
    pub stop: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Show a progress line while mining.
    pub show_progress: bool,
    /// Receives what happens, for tests and front ends.
    pub events: Option<Sender<SoloEvent>>,
    /// Counters for the status line and the monitoring API.
    pub stats: Option<Arc<Stats>>,
}

/// Something the loop did.
#[derive(Clone, Debug, PartialEq)]
pub enum SoloEvent {
    /// Mining a new job for `height`.
    Mining { height: u32, prev: BlockHash },
    /// A block was found and saved as pending.
    Found {
        height: u32,
        hash: BlockHash,
        path: PathBuf,
    },
    /// The node could not be reached.
    Outage { error: String },
    /// The node answers again.
    Recovered { after: Duration },
    /// An accepted block reached 6 confirmations.
    Confirmed { height: u32, hash: BlockHash },
    /// An accepted block left the main chain.
    Orphaned { height: u32, hash: BlockHash },
    /// The node's definitive answer to a block (`None` = accepted).
    Verdict {
        height: u32,
        hash: BlockHash,
        reason: Option<String>,
    },
    /// A valid block the node keeps off its main chain: it answered
    /// `reason` (`duplicate` or `inconclusive`) and the chain shows the
    /// block on a side branch (another block at its height came first).
    Stale {
        height: u32,
        hash: BlockHash,
        reason: String,
    },
}

/// How a run ended.
#[derive(Clone, Debug, Default)]
pub struct SoloSummary {
    pub accepted: Vec<(u32, BlockHash)>,
    pub rejected: Vec<(u32, BlockHash, String)>,
    /// Valid blocks the node keeps on a side branch.
    pub stale: Vec<(u32, BlockHash, String)>,
    /// Blocks still waiting for an answer (only after a stop).
    pub pending: Vec<PendingBlock>,
    pub pending_dir: PathBuf,
    pub hashes: u64,
    pub elapsed: Duration,
    pub templates: u64,
}

/// Why the loop could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SoloError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Config(String),
    #[error("state directory: {0}")]
    State(String),
    #[error("cannot start the miner: {0}")]
    Engine(String),
}

/// Where a submitted block stands on the node's chain.
enum Standing {
    /// On the active chain: the block counts as found.
    MainChain,
    /// Stored and valid, but on a side branch.
    SideChain,
    /// Not on the node: a rejection.
    Unknown,
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Standing::MainChain => "it is on the main chain",
            Standing::SideChain => "it is on a side branch",
            Standing::Unknown => "the node does not have it",
        })
    }
}

enum Event {
    Share(Share),
    Template(Box<BlockTemplate>, Instant),
    FetchError(RpcError),
    BadTemplate(TemplateError),
}

/// A fetch's outcome as an event for the loop.
fn to_event(r: Result<Value, RpcError>) -> Event {
    match r {
        Ok(v) => match BlockTemplate::from_json(&v) {
            Ok(t) => Event::Template(Box::new(t), Instant::now()),
            Err(e) => Event::BadTemplate(e),
        },
        Err(e) => Event::FetchError(e),
    }
}

/// Retries against the node: 0.5 s doubling to 10 s (the node is the
/// user's own, so no jitter).
const NODE_RETRY: Backoff = Backoff {
    min: Duration::from_millis(500),
    max: Duration::from_secs(10),
    jitter: false,
};

/// How often a retry wait checks for a stop.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The solo miner.
pub struct Solo {
    rpc: Arc<RpcClient>,
    cfg: SoloConfig,
    store: PendingStore,
    summary: SoloSummary,
    outage_since: Option<Instant>,
    /// The share accounting; its one row is the node's.
    ledger: SharedStats,
    /// The run's stats the accounting is mirrored into (`cfg.stats`, or
    /// the solo loop's own when none is given).
    report: Arc<Stats>,
}

impl Solo {
    pub fn new(rpc: Arc<RpcClient>, cfg: SoloConfig) -> Result<Solo, SoloError> {
        let store = PendingStore::open(&cfg.state_dir).map_err(|e| {
            SoloError::State(format!("cannot create {}: {e}", cfg.state_dir.display()))
        })?;
        let summary = SoloSummary {
            pending_dir: store.dir().to_path_buf(),
            ..SoloSummary::default()
        };
        let report = cfg.stats.clone().unwrap_or_else(|| Stats::new("solo"));
        let ledger = SharedStats::default();
        update(&ledger, |st| st.per_pool = report.sources());
        Ok(Solo {
            rpc,
            cfg,
            store,
            summary,
            outage_since: None,
            ledger,
            report,
        })
    }

    /// Count what happened in the share accounting (the node's row is
    /// source 0) and tell the events channel.
    fn emit(&self, e: SoloEvent) {
        update(&self.ledger, |st| match &e {
            SoloEvent::Verdict { reason: None, .. } => {
                let difficulty = st.difficulty;
                st.accepted(0, difficulty, true);
            }
            SoloEvent::Verdict {
                reason: Some(reason),
                ..
            } => st.rejected(0, reason),
            SoloEvent::Stale { .. } => st.stale(Some(0)),
            SoloEvent::Outage { .. } => st.set_status(0, "Dead"),
            SoloEvent::Recovered { .. } => st.set_status(0, "Alive"),
            _ => {}
        });
        accounting::publish(&self.ledger, &self.report);
        if let Some(tx) = &self.cfg.events {
            let _ = tx.send(e);
        }
    }

    fn stopping(&self) -> bool {
        (self.cfg.stop)()
    }

    /// Wait before retry number `attempt` of a call to the node and count
    /// it; `true` when a stop cut the wait short.
    fn wait_to_retry(&self, attempt: &mut u32) -> bool {
        let stopped = sleep_unless(
            NODE_RETRY.delay(*attempt),
            STOP_CHECK,
            &*self.cfg.stop,
            || {},
        );
        *attempt += 1;
        stopped
    }

    fn note_outage(&mut self, e: &RpcError) {
        if self.outage_since.is_none() {
            tracing::warn!("lost contact with the node: {e}; retrying");
            self.outage_since = Some(Instant::now());
            self.emit(SoloEvent::Outage {
                error: e.to_string(),
            });
        } else {
            tracing::debug!("node still unreachable: {e}");
        }
    }

    fn note_recovered(&mut self) {
        if let Some(t) = self.outage_since.take() {
            let after = t.elapsed();
            tracing::info!("the node answers again after {:.1} s", after.as_secs_f64());
            self.emit(SoloEvent::Recovered { after });
        }
    }

    /// Submit one block until the node answers definitively. Returns
    /// `false` if a stop came first (the block stays pending).
    fn submit(&mut self, block: &PendingBlock) -> Result<bool, SoloError> {
        let hash: BlockHash = block
            .hash
            .parse()
            .map_err(|e| SoloError::State(format!("{}: {e}", block.path.display())))?;
        let mut attempt = 0;
        let verdict = loop {
            match self.rpc.call("submitblock", json!([block.hex])) {
                Ok(Value::Null) => {
                    self.note_recovered();
                    break None;
                }
                Ok(Value::String(reason)) => {
                    self.note_recovered();
                    break Some(reason);
                }
                Ok(other) => {
                    self.note_recovered();
                    break Some(other.to_string());
                }
                Err(e) if e.is_transient() => {
                    if self.outage_since.is_none() || attempt == 0 {
                        tracing::warn!(
                            "block {} at height {} could not be submitted ({e}); it is saved in {} and will be retried",
                            block.hash,
                            block.height,
                            block.path.display()
                        );
                    }
                    self.note_outage(&e);
                    if self.wait_to_retry(&mut attempt) {
                        return Ok(false);
                    }
                }
                Err(RpcError::Node { message, .. }) => {
                    self.note_recovered();
                    break Some(message);
                }
                Err(e) => return Err(e.into()),
            }
        };
        // `duplicate` (a retried submit whose first answer was lost, or a
        // pending block from a run that stopped before the answer) and
        // `inconclusive` (stored, not connected) are not rejections: where
        // the block stands on the node's chain decides.
        let standing = match verdict.as_deref() {
            None => Standing::MainChain,
            Some(r @ ("duplicate" | "inconclusive")) => {
                let Some(standing) = self.standing(&hash)? else {
                    return Ok(false);
                };
                tracing::info!("the node answered {r} for block {hash}: {standing}");
                standing
            }
            Some(_) => Standing::Unknown,
        };
        if let Err(e) = self.store.remove(block) {
            tracing::warn!("cannot remove {}: {e}", block.path.display());
        }
        let (height, reason) = (block.height, verdict.unwrap_or_default());
        let event = match standing {
            Standing::MainChain => {
                let note = if reason.is_empty() {
                    String::new()
                } else {
                    format!(" (the node answered {reason}: it is on the main chain)")
                };
                println!("block accepted: height {height} hash {hash}{note}");
                self.summary.accepted.push((height, hash));
                SoloEvent::Verdict {
                    height,
                    hash,
                    reason: None,
                }
            }
            Standing::SideChain => {
                println!(
                    "block stale: height {height} hash {hash}: the node answered {reason} and keeps it on a side branch (another block at this height came first)"
                );
                self.summary.stale.push((height, hash, reason.clone()));
                SoloEvent::Stale {
                    height,
                    hash,
                    reason,
                }
            }
            Standing::Unknown => {
                println!("block rejected: height {height} hash {hash}: {reason}");
                self.summary.rejected.push((height, hash, reason.clone()));
                SoloEvent::Verdict {
                    height,
                    hash,
                    reason: Some(reason),
                }
            }
        };
        self.emit(event);
        Ok(true)
    }

    /// Where the node keeps block `hash`, asked until it answers; `None`
    /// if a stop came first.
    fn standing(&mut self, hash: &BlockHash) -> Result<Option<Standing>, SoloError> {
        let mut attempt = 0;
        loop {
            match self.rpc.call("getblockheader", json!([hash.to_string()])) {
                Ok(h) => {
                    self.note_recovered();
                    let confirmations = h.get("confirmations").and_then(Value::as_i64);
                    return Ok(Some(if confirmations.is_some_and(|c| c >= 1) {
                        Standing::MainChain
                    } else {
                        Standing::SideChain
                    }));
                }
                Err(e) if e.is_transient() => {
                    self.note_outage(&e);
                    if self.wait_to_retry(&mut attempt) {
                        return Ok(None);
                    }
                }
                // Not found (-5): the node does not have it after all.
                Err(RpcError::Node { .. }) => {
                    self.note_recovered();
                    return Ok(Some(Standing::Unknown));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn finish(mut self, start: Instant, hashes: u64) -> SoloSummary {
        self.summary.pending = self.store.list().unwrap_or_default();
        self.summary.elapsed = start.elapsed();
        self.summary.hashes = hashes;
        self.summary
    }

    fn done(&self) -> bool {
        self.cfg
            .max_blocks
            .is_some_and(|n| self.summary.accepted.len() as u64 >= n)
    }

    /// Run until `max_blocks` accepted blocks or a stop.
    pub fn run(mut self) -> Result<SoloSummary, SoloError> {
        let start = Instant::now();
        // 1. Blocks an earlier run left pending.
        let earlier = self
            .store
            .list()
            .map_err(|e| SoloError::State(e.to_string()))?;
        if !earlier.is_empty() {
            tracing::info!(
                "{} found block(s) from an earlier run are pending in {}; submitting them",
                earlier.len(),
                self.store.dir().display()
            );
        }
        for b in &earlier {
            if !self.submit(b)? {
                return Ok(self.finish(start, 0));
            }
        }
        if self.done() {
            return Ok(self.finish(start, 0));
        }

        // 2. Which network the node is on; the address must belong to it.
        let info = self.first_contact("getblockchaininfo", json!([]))?;
        let Some(info) = info else {
            return Ok(self.finish(start, 0));
        };
        let chain = info.get("chain").and_then(Value::as_str).unwrap_or("");
        let node_net = Network::from_chain_name(chain).ok_or_else(|| {
            SoloError::Config(format!("the node reports an unknown chain {chain:?}"))
        })?;
        if let Some(expected) = self.cfg.network {
            if expected != node_net {
                return Err(SoloError::Config(format!(
                    "--network is {expected} but the node at {} is on {node_net}",
                    self.rpc.url()
                )));
            }
        }
        let payout = Payout {
            script: payout_script(&self.cfg.address, node_net).map_err(SoloError::Config)?,
            tag: self.cfg.tag.clone(),
        };
        tracing::info!(network = %node_net, address = %self.cfg.address, "mining solo");

        // 3. The first template, then the engine.
        let first =
            match self.first_contact("getblocktemplate", json!([template::request(None)]))? {
                None => return Ok(self.finish(start, 0)),
                Some(v) => BlockTemplate::from_json(&v)?,
            };
        let (events_tx, events) = mpsc::channel::<Event>();
        let (share_tx, share_rx) = mpsc::channel::<Share>();
        let miner = Miner::start(self.cfg.miner.clone(), share_tx)
            .map_err(|e| SoloError::Engine(e.to_string()))?;
        self.report.set_hash_source(Arc::new(miner.hash_counts()));
        let quit = Arc::new(AtomicBool::new(false));
        let fwd = events_tx.clone();
        std::thread::Builder::new()
            .name("solo-shares".into())
            .spawn(move || {
                for s in share_rx {
                    if fwd.send(Event::Share(s)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| SoloError::Engine(e.to_string()))?;
        let (kick_tx, kick_rx) = mpsc::channel::<()>();
        if self.cfg.longpoll {
            spawn_longpoll(
                Arc::clone(&self.rpc),
                first.longpollid.clone(),
                events_tx.clone(),
                Arc::clone(&quit),
            );
        } else {
            tracing::info!(
                "longpoll off: polling the node every {:.1} s",
                self.cfg.poll_interval.as_secs_f64()
            );
        }
        spawn_poller(
            Arc::clone(&self.rpc),
            self.cfg.poll_interval,
            kick_rx,
            events_tx,
            Arc::clone(&quit),
        );
        let result = self.mine_templates(&miner, &payout, first, &events, &kick_tx);
        quit.store(true, Ordering::SeqCst);
        let hashes = miner.counters().total();
        miner.stop();
        result.map(|()| self.finish(start, hashes))
    }

    /// The first calls: a refused connection or wrong credentials here are
    /// the user's configuration, so they end the run with a clear error;
    /// a node that is starting or syncing is waited for.
    fn first_contact(&mut self, method: &str, params: Value) -> Result<Option<Value>, SoloError> {
        let mut attempt = 0;
        loop {
            match self.rpc.call(method, params.clone()) {
                Ok(v) => {
                    self.note_recovered();
                    return Ok(Some(v));
                }
                Err(e @ RpcError::NotReady { .. }) => {
                    if attempt == 0 {
                        tracing::warn!("{e}");
                    }
                    if self.wait_to_retry(&mut attempt) {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Mine the node's templates until done, a stop or a definitive error.
    fn mine_templates(
        &mut self,
        miner: &Miner,
        payout: &Payout,
        first: BlockTemplate,
        events: &Receiver<Event>,
        kick: &Sender<()>,
    ) -> Result<(), SoloError> {
        let progress = if self.cfg.show_progress {
            Progress::new("solo mining", None)
        } else {
            Progress::hidden()
        };
        let mut jobs: VecDeque<Arc<TemplateJob>> = VecDeque::new();
        let mut solved: HashSet<BlockHash> = HashSet::new();
        let mut current: Option<Arc<TemplateJob>> = None;
        let mut seq = 0u64;
        let mut following: HashMap<BlockHash, (u32, i64)> = HashMap::new();
        let mut pending_event = Some(Event::Template(Box::new(first), Instant::now()));
        let mut last_follow = Instant::now();
        loop {
            if self.stopping() || self.done() {
                break;
            }
            // Confirmations of our blocks, at most once per poll interval.
            if !following.is_empty() && last_follow.elapsed() >= self.cfg.poll_interval {
                self.follow(&mut following);
                last_follow = Instant::now();
            }
            let event = match pending_event.take() {
                Some(e) => e,
                None => match events.recv_timeout(Duration::from_millis(200)) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => {
                        progress.set(miner.counters().total());
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            match event {
                Event::FetchError(e) if e.is_transient() => self.note_outage(&e),
                Event::FetchError(e) => return Err(e.into()),
                Event::BadTemplate(e) => return Err(e.into()),
                Event::Template(t, received) => {
                    self.note_recovered();
                    let t = Arc::new(*t);
                    let cur = current.as_ref().map(|j| &j.template);
                    let tip_changed =
                        cur.is_none_or(|c| c.previous_block_hash != t.previous_block_hash);
                    // Templates race: a poll answered just before a new tip
                    // may arrive after it, and a tip we already solved must
                    // not be mined again. Ask the node which tip is current
                    // (this also follows reorgs to a lower height).
                    let was_solved = solved.contains(&t.previous_block_hash);
                    if (tip_changed && cur.is_some()) || was_solved {
                        let best = match self.rpc.call("getbestblockhash", json!([])) {
                            Ok(Value::String(best)) => Some(best),
                            _ => None,
                        };
                        // Unconfirmed, a solved tip is never mined twice.
                        let current_tip = match &best {
                            Some(b) => *b == t.previous_block_hash.to_string(),
                            None => !was_solved,
                        };
                        if !current_tip {
                            tracing::debug!(
                                height = t.height,
                                "ignoring a template for an old tip"
                            );
                            let _ = kick.send(());
                            continue;
                        }
                    }
                    // The node says a tip we solved is current again (our
                    // block was rejected or left the chain): mine it anew.
                    let tip_changed = solved.remove(&t.previous_block_hash) || tip_changed;
                    seq += 1;
                    // Each job gets its own extranonce range (2^40 values).
                    let job = Arc::new(
                        TemplateJob::new(Arc::clone(&t), payout, format!("{}-{seq}", t.height))?
                            .with_extranonce_start(seq << 40)
                            .with_version_mask(self.cfg.version_mask),
                    );
                    miner.set_job(Some(Arc::clone(&job.job)));
                    self.summary.templates += 1;
                    let difficulty = crate::hashing::pow::target_difficulty(job.job.share_target);
                    update(&self.ledger, |st| st.difficulty = difficulty);
                    accounting::publish(&self.ledger, &self.report);
                    if tip_changed {
                        tracing::debug!(
                            height = t.height,
                            latency_ms = format!("{:.3}", received.elapsed().as_secs_f64() * 1e3),
                            "new tip: every worker moved to the new job"
                        );
                        tracing::info!(
                            height = t.height,
                            transactions = t.transactions.len(),
                            "mining block {} on {}",
                            t.height,
                            t.previous_block_hash
                        );
                        self.emit(SoloEvent::Mining {
                            height: t.height,
                            prev: t.previous_block_hash,
                        });
                    } else {
                        tracing::debug!(
                            height = t.height,
                            transactions = t.transactions.len(),
                            "refreshed template"
                        );
                    }
                    jobs.push_back(Arc::clone(&job));
                    if jobs.len() > 4 {
                        jobs.pop_front();
                    }
                    current = Some(job);
                }
                Event::Share(share) => {
                    accounting::found(&self.ledger, &self.report, &share);
                    if !share.is_block {
                        continue;
                    }
                    let Some(job) = jobs.iter().find(|j| j.job.id == share.job_id).cloned() else {
                        continue;
                    };
                    let prev = job.template.previous_block_hash;
                    if !solved.insert(prev) {
                        continue; // another solution for a tip we already solved
                    }
                    if current
                        .as_ref()
                        .is_some_and(|c| c.template.previous_block_hash == prev)
                    {
                        miner.set_job(None);
                    }
                    let block = job.block(&share)?;
                    let hash = block.block_hash();
                    let saved = self
                        .store
                        .save(
                            job.template.height,
                            &hash.to_string(),
                            &template::block_hex(&block),
                        )
                        .map_err(|e| SoloError::State(format!("cannot save a found block: {e}")))?;
                    tracing::info!(
                        height = job.template.height,
                        "found block {hash}; saved to {}",
                        saved.path.display()
                    );
                    self.emit(SoloEvent::Found {
                        height: job.template.height,
                        hash,
                        path: saved.path.clone(),
                    });
                    if !self.submit(&saved)? {
                        break;
                    }
                    if self
                        .summary
                        .accepted
                        .last()
                        .is_some_and(|(_, h)| *h == hash)
                    {
                        following.insert(hash, (job.template.height, 0));
                    } else {
                        // Rejected: mine this tip again from the next template.
                        solved.remove(&prev);
                    }
                    let _ = kick.send(());
                }
            }
        }
        progress.set(miner.counters().total());
        progress.finish();
        if self.done() {
            // A last look at the confirmations of the blocks found.
            self.follow(&mut following);
        }
        Ok(())
    }

    /// Check the confirmations of our accepted blocks; report 6 or orphaned.
    fn follow(&mut self, following: &mut HashMap<BlockHash, (u32, i64)>) {
        let mut finished = Vec::new();
        for (hash, (height, last)) in following.iter_mut() {
            let Ok(h) = self.rpc.call("getblockheader", json!([hash.to_string()])) else {
                return; // the node is busy or away: try again later
            };
            let confs = h.get("confirmations").and_then(Value::as_i64).unwrap_or(0);
            if confs == *last {
                continue;
            }
            *last = confs;
            if confs < 0 {
                println!("block {hash} at height {height} left the main chain (orphaned)");
                finished.push((*height, *hash, false));
            } else if confs >= 6 {
                println!("block {hash} at height {height} has 6 confirmations");
                finished.push((*height, *hash, true));
            } else {
                tracing::info!("block {hash} at height {height}: {confs} confirmation(s)");
            }
        }
        for (height, hash, confirmed) in finished {
            following.remove(&hash);
            self.emit(if confirmed {
                SoloEvent::Confirmed { height, hash }
            } else {
                SoloEvent::Orphaned { height, hash }
            });
        }
    }
}

impl WorkSource for Solo {
    type Output = SoloSummary;
    type Error = SoloError;

    fn name(&self) -> &'static str {
        "solo"
    }

    fn stats(&self) -> SharedStats {
        Arc::clone(&self.ledger)
    }

    /// [`Solo::run`]: the engine starts once the node gave a template.
    fn mine(self) -> Result<SoloSummary, SoloError> {
        self.run()
    }
}

fn spawn_longpoll(
    rpc: Arc<RpcClient>,
    mut longpollid: Option<String>,
    events: Sender<Event>,
    quit: Arc<AtomicBool>,
) {
    let _ = std::thread::Builder::new()
        .name("solo-longpoll".into())
        .spawn(move || {
            let mut attempt = 0;
            while !quit.load(Ordering::SeqCst) {
                let Some(id) = longpollid.clone() else {
                    tracing::info!("the node offers no longpoll; polling only");
                    return;
                };
                let r = rpc.call_timeout(
                    "getblocktemplate",
                    json!([template::request(Some(&id))]),
                    Duration::from_secs(600),
                );
                if quit.load(Ordering::SeqCst) {
                    return;
                }
                match to_event(r) {
                    Event::Template(t, at) => {
                        attempt = 0;
                        longpollid = t.longpollid.clone().or(longpollid);
                        if events.send(Event::Template(t, at)).is_err() {
                            return;
                        }
                    }
                    e => {
                        if events.send(e).is_err() {
                            return;
                        }
                        let stop = || quit.load(Ordering::SeqCst);
                        if sleep_unless(NODE_RETRY.delay(attempt), STOP_CHECK, &stop, || {}) {
                            return;
                        }
                        attempt += 1;
                    }
                }
            }
        });
}

fn spawn_poller(
    rpc: Arc<RpcClient>,
    interval: Duration,
    kick: Receiver<()>,
    events: Sender<Event>,
    quit: Arc<AtomicBool>,
) {
    let _ = std::thread::Builder::new()
        .name("solo-poll".into())
        .spawn(move || {
            let mut failures = 0u32;
            loop {
                let wait = if failures > 0 {
                    NODE_RETRY.delay(failures - 1).min(interval)
                } else {
                    interval
                };
                match kick.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if quit.load(Ordering::SeqCst) {
                    return;
                }
                let ev = to_event(rpc.call("getblocktemplate", json!([template::request(None)])));
                failures = match ev {
                    Event::Template(..) => 0,
                    _ => failures + 1,
                };
                if events.send(ev).is_err() {
                    return;
                }
            }
        });
}
