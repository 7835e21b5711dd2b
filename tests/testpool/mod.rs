//! A Stratum v1 test pool that behaves like ckpool, for the end-to-end
//! tests (test-only code, never shipped).
//!
//! It shares nothing with the client's header, coinbase or merkle code:
//! jobs are built from the real Bitcoin Core regtest template in
//! `tests/fixtures/` with the `bitcoin` crate's transaction types, the
//! merkle root of every share is recomputed with
//! `bitcoin::merkle_tree::calculate_root`, and every share is hashed as a
//! `bitcoin::block::Header`. Rejections use ckpool's shape (`result:false`
//! with `reject-reason`). Everything sent and received is timestamped so
//! tests can measure from outside. It listens on 127.0.0.1 only, and can
//! misbehave on demand.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bitcoin::block::{Header, Version};
use bitcoin::blockdata::script::{Builder, PushBytesBuf};
use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{
    absolute, transaction, Amount, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Target,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use serde_json::{json, Value};

/// Who sent a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// One timestamped line on one connection.
#[derive(Clone, Debug)]
pub struct Event {
    pub t: Instant,
    pub conn: u64,
    pub dir: Dir,
    pub line: String,
}

/// An accepted share, as the pool validated it.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub t: Instant,
    pub conn: u64,
    pub job_id: String,
    pub extranonce1: Vec<u8>,
    pub extranonce2: Vec<u8>,
    pub version_bits: Option<u32>,
    /// The header version the pool hashed.
    pub version: u32,
    pub hash: BlockHash,
}

/// How the pool is set up.
#[derive(Clone)]
pub struct PoolConfig {
    pub difficulty: f64,
    /// The version-rolling mask granted (within the one asked for), or
    /// `None` to refuse rolling.
    pub version_mask: Option<u32>,
    /// Answer `mining.configure` with this mask whatever was asked for
    /// (a quirky pool: `ffffffff`), and check shares against it.
    pub configure_answer: Option<u32>,
    pub extranonce2_size: usize,
    pub refuse_authorize: bool,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// First extranonce1 handed out (so a restarted pool differs).
    pub first_extranonce1: u32,
    /// After a subscribe that resumes a session, send the difficulty and
    /// the current job again (ckpool does); `false` answers the subscribe
    /// only, the session going on as it was.
    pub notify_on_resume: bool,
    /// Answer every `mining.submit` with `"result": false` and a null
    /// error (no reason given).
    pub refuse_every_submit: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            difficulty: 1e-5,
            version_mask: Some(0x1fffe000),
            configure_answer: None,
            extranonce2_size: 8,
            refuse_authorize: false,
            tls: None,
            port: 0,
            first_extranonce1: 0x1000_0000,
            notify_on_resume: true,
            refuse_every_submit: false,
        }
    }
}

/// A job as the pool keeps it.
#[derive(Clone, Debug)]
pub struct PoolJob {
    pub id: String,
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    pub branch: Vec<[u8; 32]>,
    /// The other transactions of the block (the merkle root is computed
    /// from them, not from the branch).
    pub txids: Vec<Txid>,
    pub prev: BlockHash,
    pub version: u32,
    pub bits: u32,
    pub ntime: u32,
    /// Superseded by a clean_jobs notify.
    pub stale: bool,
}

impl PoolJob {
    /// A job read back from a `mining.notify` of a block with no other
    /// transactions (empty merkle branch), such as the ckpool transcript's.
    pub fn from_empty_block_notify(params: &[Value]) -> PoolJob {
        let hx = |i: usize| hex::decode(params[i].as_str().unwrap()).unwrap();
        let u = |i: usize| u32::from_str_radix(params[i].as_str().unwrap(), 16).unwrap();
        assert_eq!(params[4], json!([]), "only empty merkle branches");
        let prev: [u8; 32] = hx(1).try_into().unwrap();
        PoolJob {
            id: params[0].as_str().unwrap().to_string(),
            coinb1: hx(2),
            coinb2: hx(3),
            branch: vec![],
            txids: vec![],
            prev: BlockHash::from_byte_array(swap_words(prev)),
            version: u(5),
            bits: u(6),
            ntime: u(7),
            stale: false,
        }
    }
}

/// A subscription's state (kept across reconnects for resume).
#[derive(Clone, Debug)]
struct Session {
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    difficulty: f64,
    mask: u32,
    /// Difficulty and extranonce1 each job was sent with.
    job_terms: HashMap<String, (f64, Vec<u8>, u32)>,
}

struct Template {
    prev: BlockHash,
    version: u32,
    bits: u32,
    curtime: u32,
    height: i64,
    value: u64,
    txids: Vec<Txid>,
    commitment: ScriptBuf,
    payout: ScriptBuf,
}

struct State {
    template: Template,
    jobs: HashMap<String, PoolJob>,
    job_order: Vec<String>,
    seq: u64,
    sessions: HashMap<String, Session>,
    next_extranonce1: u32,
    accepted: Vec<Accepted>,
    rejected: Vec<(String, String)>,
    seen: HashSet<String>,
}

struct ConnShared {
    id: u64,
    session: Mutex<Option<String>>,
    authorized: AtomicBool,
    /// The version-rolling mask granted by mining.configure.
    granted_mask: AtomicU32,
    outbox: Mutex<VecDeque<Vec<u8>>>,
    close: AtomicBool,
}

struct Shared {
    cfg: Mutex<PoolConfig>,
    state: Mutex<State>,
    log: Mutex<Vec<Event>>,
    conns: Mutex<Vec<Arc<ConnShared>>>,
    stop: AtomicBool,
    next_conn: AtomicU64,
    reply_delay: Mutex<Duration>,
    stall_until: Mutex<Option<Instant>>,
    /// Until then, every new connection is closed at once.
    away_until: Mutex<Option<Instant>>,
    handshake_failures: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running test pool.
pub struct TestPool {
    pub port: u16,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn load_template() -> Template {
    let block = fixture("core-regtest-block-from-template.json");
    let t = fixture("core-regtest-template-segwit.json");
    let hexu32 = |s: &str| u32::from_str_radix(s, 16).expect("hex u32");
    Template {
        prev: BlockHash::from_str(t["previousblockhash"].as_str().unwrap()).unwrap(),
        version: t["version"].as_u64().unwrap() as u32,
        bits: hexu32(t["bits"].as_str().unwrap()),
        curtime: t["curtime"].as_u64().unwrap() as u32,
        height: t["height"].as_i64().unwrap(),
        value: t["coinbasevalue"].as_u64().unwrap(),
        txids: t["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tx| Txid::from_str(tx["txid"].as_str().unwrap()).unwrap())
            .collect(),
        commitment: ScriptBuf::from_hex(t["default_witness_commitment"].as_str().unwrap()).unwrap(),
        payout: ScriptBuf::from_hex(block["payout_script"].as_str().unwrap()).unwrap(),
    }
}

/// sha256d of two concatenated nodes (the pool's own merkle step).
fn pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(a);
    buf[32..].copy_from_slice(b);
    sha256d::Hash::hash(&buf).to_byte_array()
}

/// The coinbase's merkle path over `txids` (the other transactions).
fn branch_of(txids: &[Txid]) -> Vec<[u8; 32]> {
    // Level 0 with a placeholder for the coinbase at position 0.
    let mut level: Vec<[u8; 32]> = std::iter::once([0u8; 32])
        .chain(txids.iter().map(|t| t.to_byte_array()))
        .collect();
    let mut out = Vec::new();
    while level.len() > 1 {
        out.push(level[1]);
        let mut next = vec![[0u8; 32]];
        let mut i = 2;
        while i < level.len() {
            let b = if i + 1 < level.len() {
                level[i + 1]
            } else {
                level[i]
            };
            next.push(pair(&level[i], &b));
            i += 2;
        }
        level = next;
    }
    out
}

impl State {
    /// A new job from the template: coinbase split around an
    /// extranonce1+extranonce2 slot, in the ckpool layout.
    fn new_job(&mut self, clean: bool, en2_size: usize) -> PoolJob {
        self.seq += 1;
        if clean {
            for j in self.jobs.values_mut() {
                j.stale = true;
            }
        }
        let t = &self.template;
        let slot = 4 + en2_size;
        let marker: Vec<u8> = sha256d::Hash::hash(b"testpool extranonce slot").to_byte_array()
            [..slot.min(32)]
            .to_vec();
        let mut script = Builder::new()
            .push_int(t.height)
            .push_slice(PushBytesBuf::try_from((self.seq as u32).to_le_bytes().to_vec()).unwrap());
        script = script.push_slice(PushBytesBuf::try_from(marker.clone()).unwrap());
        script = script.push_slice(b"/testpool/");
        let tx = Transaction {
            version: transaction::Version::ONE,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: script.into_script(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![
                TxOut {
                    value: Amount::from_sat(t.value),
                    script_pubkey: t.payout.clone(),
                },
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: t.commitment.clone(),
                },
            ],
        };
        let raw = serialize(&tx);
        let at = raw
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
            .expect("marker in coinbase");
        // A clean job stands for a new block: give it a different tip.
        let prev = if clean && self.seq > 1 {
            BlockHash::from_byte_array(sha256d::Hash::hash(&self.seq.to_le_bytes()).to_byte_array())
        } else {
            self.jobs
                .get(self.job_order.last().map(String::as_str).unwrap_or(""))
                .map(|j| j.prev)
                .unwrap_or(t.prev)
        };
        let job = PoolJob {
            id: format!("{:x}", 0x6b0a_0000_0000u64 + self.seq),
            coinb1: raw[..at].to_vec(),
            coinb2: raw[at + marker.len()..].to_vec(),
            branch: branch_of(&t.txids),
            txids: t.txids.clone(),
            prev,
            version: t.version,
            bits: t.bits,
            ntime: t.curtime + self.seq as u32,
            stale: false,
        };
        self.jobs.insert(job.id.clone(), job.clone());
        self.job_order.push(job.id.clone());
        job
    }

    fn current_job(&self) -> Option<PoolJob> {
        self.job_order
            .last()
            .and_then(|id| self.jobs.get(id))
            .cloned()
    }
}

fn swap_words(b: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..8 {
        for k in 0..4 {
            out[4 * i + k] = b[4 * i + 3 - k];
        }
    }
    out
}

pub fn notify_line(job: &PoolJob, clean: bool) -> String {
    let branch: Vec<String> = job.branch.iter().map(hex::encode).collect();
    let v = json!({
        "params": [
            job.id,
            hex::encode(swap_words(job.prev.to_byte_array())),
            hex::encode(&job.coinb1),
            hex::encode(&job.coinb2),
            branch,
            format!("{:08x}", job.version),
            format!("{:08x}", job.bits),
            format!("{:08x}", job.ntime),
            clean
        ],
        "id": null,
        "method": "mining.notify"
    });
    format!("{v}\n")
}

fn difficulty_line(d: f64) -> String {
    format!(
        "{}\n",
        json!({"params": [d], "id": null, "method": "mining.set_difficulty"})
    )
}

/// What a misbehaving pool can do.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    Garbage,
    InvalidJson,
    /// A line of 1 MiB.
    HugeLine,
    WrongTypes,
    UnknownIdReply,
    /// Send a new job and drop the connection right after.
    DisconnectMidJob,
    SlowReplies(Duration),
    /// Drop every connection, then leave new ones unanswered for this long
    /// (the miner is connected but not subscribed, so it queues shares).
    DropAndStall(Duration),
    /// Drop every connection, then close new ones at once until
    /// [`TestPool::come_back`] (the pool is gone; its sessions are kept
    /// for a resume).
    Away,
    /// A `mining.notify` whose merkle branch has 33 entries (more than
    /// 2^32 transactions would need).
    TooManyBranches,
}

type Stream = Box<dyn ReadWrite + Send>;
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl TestPool {
    pub fn start(cfg: PoolConfig) -> TestPool {
        let listener = TcpListener::bind(("127.0.0.1", cfg.port)).expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                template: load_template(),
                jobs: HashMap::new(),
                job_order: Vec::new(),
                seq: 0,
                sessions: HashMap::new(),
                next_extranonce1: cfg.first_extranonce1,
                accepted: Vec::new(),
                rejected: Vec::new(),
                seen: HashSet::new(),
            }),
            cfg: Mutex::new(cfg),
            log: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            reply_delay: Mutex::new(Duration::ZERO),
            stall_until: Mutex::new(None),
            away_until: Mutex::new(None),
            handshake_failures: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        });
        {
            let en2 = lock(&shared.cfg).extranonce2_size;
            lock(&shared.state).new_job(true, en2);
        }
        let s = Arc::clone(&shared);
        let handle = std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) if lock(&s.away_until).is_some_and(|t| Instant::now() < t) => {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    Ok((stream, _)) => {
                        let s2 = Arc::clone(&s);
                        let h = std::thread::spawn(move || serve(s2, stream));
                        lock(&s.threads).push(h);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TestPool {
            port,
            shared,
            listener: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        let tls = lock(&self.shared.cfg).tls.is_some();
        format!(
            "{}://127.0.0.1:{}",
            if tls { "stratum+ssl" } else { "stratum+tcp" },
            self.port
        )
    }

    /// Stop listening and drop every connection at once (like a killed
    /// process).
    pub fn kill(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.listener.take() {
            let _ = h.join();
        }
        let threads: Vec<_> = lock(&self.shared.threads).drain(..).collect();
        for h in threads {
            let _ = h.join();
        }
    }

    fn broadcast(&self, line: &str) {
        for c in lock(&self.shared.conns).iter() {
            if lock(&c.session).is_some() {
                lock(&c.outbox).push_back(line.as_bytes().to_vec());
            }
        }
    }

    /// Send a new job to everyone; `clean` abandons the older ones.
    /// Returns its id and when it was queued.
    pub fn notify(&self, clean: bool) -> (String, Instant) {
        let en2 = lock(&self.shared.cfg).extranonce2_size;
        let mut st = lock(&self.shared.state);
        let job = st.new_job(clean, en2);
        let t = Instant::now();
        for c in lock(&self.shared.conns).iter() {
            let sid = lock(&c.session).clone();
            if let Some(sid) = sid {
                if let Some(sess) = st.sessions.get_mut(&sid) {
                    sess.job_terms.insert(
                        job.id.clone(),
                        (sess.difficulty, sess.extranonce1.clone(), sess.mask),
                    );
                    lock(&c.outbox).push_back(notify_line(&job, clean).into_bytes());
                }
            }
        }
        (job.id, t)
    }

    /// New difficulty for everyone (it applies from the next job).
    pub fn set_difficulty(&self, d: f64) {
        let mut st = lock(&self.shared.state);
        for c in lock(&self.shared.conns).iter() {
            if let Some(sid) = lock(&c.session).clone() {
                if let Some(sess) = st.sessions.get_mut(&sid) {
                    sess.difficulty = d;
                    lock(&c.outbox).push_back(difficulty_line(d).into_bytes());
                }
            }
        }
    }

    /// Give every session a new extranonce1 (from the next job on).
    /// Returns the new values.
    pub fn set_extranonce(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut st = lock(&self.shared.state);
            for c in lock(&self.shared.conns).iter() {
                if let Some(sid) = lock(&c.session).clone() {
                    st.next_extranonce1 += 1;
                    let en1 = st.next_extranonce1.to_be_bytes().to_vec();
                    if let Some(sess) = st.sessions.get_mut(&sid) {
                        sess.extranonce1 = en1.clone();
                        let line = json!({"params": [hex::encode(&en1), sess.extranonce2_size], "id": null, "method": "mining.set_extranonce"});
                        lock(&c.outbox).push_back(format!("{line}\n").into_bytes());
                        out.push(en1);
                    }
                }
            }
        }
        out
    }

    /// A new version-rolling mask for every session (it is checked for
    /// jobs sent from now on).
    pub fn set_version_mask(&self, mask: u32) {
        let mut st = lock(&self.shared.state);
        for c in lock(&self.shared.conns).iter() {
            if let Some(sid) = lock(&c.session).clone() {
                if let Some(sess) = st.sessions.get_mut(&sid) {
                    sess.mask = mask;
                    let line = json!({"params": [format!("{mask:08x}")], "id": null, "method": "mining.set_version_mask"});
                    lock(&c.outbox).push_back(format!("{line}\n").into_bytes());
                }
            }
        }
    }

    /// Ask every miner to reconnect (`client.reconnect`).
    pub fn reconnect(&self, wait: u64) {
        self.reconnect_to("127.0.0.1", self.port, wait);
    }

    /// Ask every miner to reconnect to `host:port`.
    pub fn reconnect_to(&self, host: &str, port: u16, wait: u64) {
        let line = json!({"params": [host, port, wait], "id": null, "method": "client.reconnect"});
        self.broadcast(&format!("{line}\n"));
    }

    /// End [`Misbehaviour::Away`]: connections are served again.
    pub fn come_back(&self) {
        *lock(&self.shared.away_until) = None;
    }

    /// Send any raw line (with its newline) to every miner.
    pub fn send_raw(&self, line: &str) {
        self.broadcast(line);
    }

    pub fn misbehave(&self, m: Misbehaviour) {
        match m {
            Misbehaviour::Garbage => self.send_raw("\u{1}\u{2}garbage }{ \u{7f}\n"),
            Misbehaviour::InvalidJson => {
                self.send_raw("{\"params\":[1,\"id\":null,\"method\":\"mining.set_difficulty\"\n")
            }
            Misbehaviour::HugeLine => {
                let mut line = String::with_capacity(1 << 20);
                line.push_str("{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"");
                line.push_str(&"A".repeat((1 << 20) - 64));
                line.push_str("\"]}\n");
                self.send_raw(&line);
            }
            Misbehaviour::WrongTypes => {
                self.send_raw(
                    "{\"params\":[\"1\"],\"id\":null,\"method\":\"mining.set_difficulty\"}\n",
                );
                self.send_raw("{\"params\":[7,8,9,10,11,12,13,14,15],\"id\":null,\"method\":\"mining.notify\"}\n");
                self.send_raw("{\"params\":[\"zz\",\"4\"],\"id\":null,\"method\":\"mining.set_extranonce\"}\n");
            }
            Misbehaviour::UnknownIdReply => {
                self.send_raw("{\"id\":987654,\"result\":true,\"error\":null}\n")
            }
            Misbehaviour::DisconnectMidJob => {
                self.notify(false);
                std::thread::sleep(Duration::from_millis(50));
                for c in lock(&self.shared.conns).iter() {
                    c.close.store(true, Ordering::SeqCst);
                }
            }
            Misbehaviour::SlowReplies(d) => *lock(&self.shared.reply_delay) = d,
            Misbehaviour::DropAndStall(d) => {
                *lock(&self.shared.stall_until) = Some(Instant::now() + d);
                for c in lock(&self.shared.conns).iter() {
                    c.close.store(true, Ordering::SeqCst);
                }
            }
            Misbehaviour::Away => {
                *lock(&self.shared.away_until) = Some(Instant::now() + Duration::from_secs(3600));
                for c in lock(&self.shared.conns).iter() {
                    c.close.store(true, Ordering::SeqCst);
                }
            }
            Misbehaviour::TooManyBranches => {
                let mut job = lock(&self.shared.state).current_job().expect("a job");
                job.id = "too-many-branches".into();
                job.branch = vec![[0x5a; 32]; 33];
                self.send_raw(&notify_line(&job, true));
            }
        }
    }

    /// Everything sent and received so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.shared.log).clone()
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.shared.state).accepted.clone()
    }

    /// `(job id, reason)` of every rejected share.
    pub fn rejected(&self) -> Vec<(String, String)> {
        lock(&self.shared.state).rejected.clone()
    }

    /// A job the pool made, by id.
    pub fn job(&self, id: &str) -> Option<PoolJob> {
        lock(&self.shared.state).jobs.get(id).cloned()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.next_conn.load(Ordering::SeqCst) - 1
    }

    /// TLS handshakes that failed (for example a refused certificate).
    pub fn handshake_failures(&self) -> u64 {
        self.shared.handshake_failures.load(Ordering::SeqCst)
    }

    /// The extranonce1 of every subscription made.
    pub fn session_extranonces(&self) -> Vec<Vec<u8>> {
        lock(&self.shared.state)
            .sessions
            .values()
            .map(|s| s.extranonce1.clone())
            .collect()
    }

    /// Wait until `cond` holds, up to `timeout`; panics with `what` if not.
    pub fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&TestPool) -> bool) {
        let until = Instant::now() + timeout;
        while !cond(self) {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestPool {
    fn drop(&mut self) {
        self.kill();
    }
}

fn record(s: &Shared, conn: u64, dir: Dir, line: &str) {
    lock(&s.log).push(Event {
        t: Instant::now(),
        conn,
        dir,
        line: line.to_string(),
    });
}

fn serve(s: Arc<Shared>, tcp: TcpStream) {
    let id = s.next_conn.fetch_add(1, Ordering::SeqCst);
    let _ = tcp.set_nodelay(true);
    let tls = lock(&s.cfg).tls.clone();
    let poll = Some(Duration::from_millis(5));
    let mut stream: Stream = match tls {
        None => {
            let _ = tcp.set_read_timeout(poll);
            Box::new(tcp)
        }
        Some(cfg) => {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let mut conn = rustls::ServerConnection::new(cfg).expect("server connection");
            let mut tcp = tcp;
            let mut ok = true;
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    ok = false;
                    break;
                }
            }
            if !ok {
                s.handshake_failures.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let _ = tcp.set_read_timeout(poll);
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    };
    let me = Arc::new(ConnShared {
        id,
        session: Mutex::new(None),
        authorized: AtomicBool::new(false),
        granted_mask: AtomicU32::new(0),
        outbox: Mutex::new(VecDeque::new()),
        close: AtomicBool::new(false),
    });
    lock(&s.conns).push(Arc::clone(&me));
    let mut buf = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    'outer: while !s.stop.load(Ordering::SeqCst) && !me.close.load(Ordering::SeqCst) {
        let out: Vec<Vec<u8>> = lock(&me.outbox).drain(..).collect();
        for line in out {
            record(&s, id, Dir::Out, String::from_utf8_lossy(&line).trim_end());
            if stream
                .write_all(&line)
                .and_then(|_| stream.flush())
                .is_err()
            {
                break 'outer;
            }
        }
        if lock(&s.stall_until).is_some_and(|t| Instant::now() < t) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            record(&s, id, Dir::In, &line);
            for reply in handle(&s, &me, &line) {
                let delay = *lock(&s.reply_delay);
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                record(&s, id, Dir::Out, reply.trim_end());
                if stream
                    .write_all(reply.as_bytes())
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    break 'outer;
                }
            }
        }
        if pending.len() > 1 << 20 {
            break;
        }
    }
    lock(&s.conns).retain(|c| c.id != id);
}

fn reply(id: &Value, result: Value) -> String {
    format!("{}\n", json!({"result": result, "error": null, "id": id}))
}

fn reject(id: &Value, reason: &str) -> String {
    format!(
        "{}\n",
        json!({"result": false, "error": null, "id": id, "reject-reason": reason})
    )
}

/// Answer one line from a miner; returns the lines to send back.
fn handle(s: &Shared, me: &ConnShared, line: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return vec![];
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let params = v
        .get("params")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cfg = lock(&s.cfg).clone();
    match v.get("method").and_then(Value::as_str) {
        Some("mining.configure") => {
            let wants = params
                .first()
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|e| e == "version-rolling"));
            let result = match (wants, cfg.version_mask) {
                (true, _) if cfg.configure_answer.is_some() => {
                    let m = cfg.configure_answer.unwrap_or(0);
                    me.granted_mask.store(m, Ordering::SeqCst);
                    json!({"version-rolling": true, "version-rolling.mask": format!("{m:08x}")})
                }
                (true, Some(m)) => {
                    let asked = params
                        .get(1)
                        .and_then(|o| o.get("version-rolling.mask"))
                        .and_then(Value::as_str)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0);
                    me.granted_mask.store(m & asked, Ordering::SeqCst);
                    json!({"version-rolling": true, "version-rolling.mask": format!("{:08x}", m & asked)})
                }
                _ => json!({"version-rolling": false}),
            };
            vec![reply(&id, result)]
        }
        Some("mining.subscribe") => {
            let mut st = lock(&s.state);
            let resume = params.get(1).and_then(Value::as_str).map(str::to_string);
            let mask = me.granted_mask.load(Ordering::SeqCst);
            let resumed = resume.as_ref().is_some_and(|r| st.sessions.contains_key(r));
            let sid = match resume.filter(|r| st.sessions.contains_key(r)) {
                Some(r) => r,
                None => {
                    st.next_extranonce1 += 1;
                    let en1 = st.next_extranonce1.to_be_bytes().to_vec();
                    let sid = hex::encode(&en1);
                    st.sessions.insert(
                        sid.clone(),
                        Session {
                            extranonce1: en1,
                            extranonce2_size: cfg.extranonce2_size,
                            difficulty: cfg.difficulty,
                            mask: 0,
                            job_terms: HashMap::new(),
                        },
                    );
                    sid
                }
            };
            let job = st.current_job().expect("a job");
            let sess = st.sessions.get_mut(&sid).expect("session");
            sess.mask = mask;
            sess.job_terms.insert(
                job.id.clone(),
                (sess.difficulty, sess.extranonce1.clone(), sess.mask),
            );
            let result = json!([
                [["mining.set_difficulty", sid], ["mining.notify", sid]],
                hex::encode(&sess.extranonce1),
                sess.extranonce2_size
            ]);
            let d = sess.difficulty;
            *lock(&me.session) = Some(sid);
            if resumed && !cfg.notify_on_resume {
                return vec![reply(&id, result)];
            }
            vec![
                reply(&id, result),
                difficulty_line(d),
                notify_line(&job, true),
            ]
        }
        Some("mining.authorize") => {
            if cfg.refuse_authorize {
                vec![format!(
                    "{}\n",
                    json!({"result": false, "error": [24, "Unauthorized worker", null], "id": id})
                )]
            } else {
                me.authorized.store(true, Ordering::SeqCst);
                vec![reply(&id, json!(true))]
            }
        }
        Some("mining.extranonce.subscribe") => vec![reply(&id, json!(true))],
        Some("mining.suggest_difficulty") => vec![reply(&id, json!(true))],
        Some("mining.submit") => vec![submit(s, me, &id, &params)],
        Some(_) => vec![format!(
            "{}\n",
            json!({"result": null, "error": [20, "Unknown method", null], "id": id})
        )],
        None => vec![],
    }
}

fn hex32(v: Option<&Value>) -> Option<u32> {
    let s = v?.as_str()?;
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// What a miner submitted for one share.
pub struct ShareParts<'a> {
    pub extranonce1: &'a [u8],
    pub extranonce2: &'a [u8],
    pub ntime: u32,
    pub nonce: u32,
    pub version_bits: Option<u32>,
}

/// Check one share against its job by hashing it: ntime in range, version
/// bits within `mask`, the coinbase a real transaction, the merkle root
/// from `bitcoin::merkle_tree`, the header a `bitcoin::block::Header`, and
/// its hash at least `difficulty`. Returns the hash and the version used,
/// or ckpool's reason.
pub fn check_share(
    job: &PoolJob,
    share: &ShareParts<'_>,
    mask: u32,
    difficulty: f64,
) -> Result<(BlockHash, u32), &'static str> {
    if share.ntime < job.ntime || share.ntime > job.ntime + 7000 {
        return Err("Invalid ntime");
    }
    let version = match share.version_bits {
        Some(b) if b & !mask != 0 => return Err("Invalid version mask"),
        Some(b) => (job.version & !mask) | b,
        None => job.version,
    };
    let mut raw = job.coinb1.clone();
    raw.extend_from_slice(share.extranonce1);
    raw.extend_from_slice(share.extranonce2);
    raw.extend_from_slice(&job.coinb2);
    let coinbase = deserialize::<Transaction>(&raw).map_err(|_| "Invalid coinbase")?;
    let txids = std::iter::once(coinbase.compute_txid()).chain(job.txids.iter().copied());
    let root = bitcoin::merkle_tree::calculate_root(txids.map(|t| t.to_raw_hash()))
        .map(TxMerkleNode::from_raw_hash)
        .ok_or("Invalid coinbase")?;
    let header = Header {
        version: Version::from_consensus(version as i32),
        prev_blockhash: job.prev,
        merkle_root: root,
        time: share.ntime,
        bits: CompactTarget::from_consensus(job.bits),
        nonce: share.nonce,
    };
    let hash = header.block_hash();
    let share_diff = Target::from_le_bytes(hash.to_byte_array()).difficulty_float();
    if share_diff < difficulty {
        return Err("Above target");
    }
    Ok((hash, version))
}

/// Validate a share the way ckpool does, by hashing it.
fn submit(s: &Shared, me: &ConnShared, id: &Value, p: &[Value]) -> String {
    let mut st = lock(&s.state);
    let refuse = |st: &mut State, job: &str, reason: &str| {
        st.rejected.push((job.to_string(), reason.to_string()));
        reject(id, reason)
    };
    let job_id = p.get(1).and_then(Value::as_str).unwrap_or("").to_string();
    if !me.authorized.load(Ordering::SeqCst) {
        return refuse(&mut st, &job_id, "Unauthorised");
    }
    if lock(&s.cfg).refuse_every_submit {
        st.rejected.push((job_id, String::new()));
        return format!("{}\n", json!({"result": false, "error": null, "id": id}));
    }
    let Some(sid) = lock(&me.session).clone() else {
        return refuse(&mut st, &job_id, "Not subscribed");
    };
    let Some(job) = st.jobs.get(&job_id).cloned() else {
        return refuse(&mut st, &job_id, "Invalid JobID");
    };
    if job.stale {
        return refuse(&mut st, &job_id, "Stale");
    }
    let sess = st.sessions.get(&sid).cloned().expect("session");
    let Some((difficulty, en1, mask)) = sess.job_terms.get(&job_id).cloned() else {
        return refuse(&mut st, &job_id, "Invalid JobID");
    };
    let Some(en2) = p
        .get(2)
        .and_then(Value::as_str)
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == sess.extranonce2_size)
    else {
        return refuse(&mut st, &job_id, "Invalid nonce2 length");
    };
    let (Some(ntime), Some(nonce)) = (hex32(p.get(3)), hex32(p.get(4))) else {
        return refuse(&mut st, &job_id, "Invalid ntime or nonce");
    };
    let bits_param = match p.get(5) {
        None => None,
        Some(v) => match hex32(Some(v)) {
            Some(b) => Some(b),
            None => return refuse(&mut st, &job_id, "Invalid version mask"),
        },
    };
    let share = ShareParts {
        extranonce1: &en1,
        extranonce2: &en2,
        ntime,
        nonce,
        version_bits: bits_param,
    };
    let (hash, version) = match check_share(&job, &share, mask, difficulty) {
        Ok(v) => v,
        Err(reason) => return refuse(&mut st, &job_id, reason),
    };
    let version_bits = bits_param;
    let key = format!(
        "{}/{}/{}/{ntime}/{nonce}/{version}",
        hex::encode(&en1),
        job_id,
        hex::encode(&en2)
    );
    if !st.seen.insert(key) {
        return refuse(&mut st, &job_id, "Duplicate");
    }
    st.accepted.push(Accepted {
        t: Instant::now(),
        conn: me.id,
        job_id,
        extranonce1: en1,
        extranonce2: en2,
        version_bits,
        version,
        hash,
    });
    reply(id, json!(true))
}

/// A self-signed certificate for 127.0.0.1 and localhost, as a rustls
/// server configuration.
pub fn self_signed_tls() -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("params");
    let cert = params.self_signed(&key).expect("self-signed");
    let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .expect("cert");
    Arc::new(cfg)
}

/// A port that accepts connections and never says a word (a silent or
/// hung pool): it reads and keeps what it is sent.
pub struct SilentPool {
    pub port: u16,
    accepted: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<(u64, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentPool {
    pub fn start() -> SilentPool {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, st) = (
            Arc::clone(&accepted),
            Arc::clone(&received),
            Arc::clone(&stop),
        );
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<(u64, TcpStream)> = Vec::new();
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                if let Ok((c, _)) = listener.accept() {
                    let _ = c.set_nonblocking(true);
                    let n = a.fetch_add(1, Ordering::SeqCst) + 1;
                    conns.push((n, c));
                }
                conns.retain_mut(|(n, c)| match c.read(&mut buf) {
                    Ok(0) => false,
                    Ok(k) => {
                        let text = String::from_utf8_lossy(&buf[..k]).into_owned();
                        lock(&r).push((*n, text));
                        true
                    }
                    Err(e) => e.kind() == io::ErrorKind::WouldBlock,
                });
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        SilentPool {
            port,
            accepted,
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("stratum+tcp://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Whether connection `n` (1-based) sent text containing `what`.
    pub fn received_on(&self, n: u64, what: &str) -> bool {
        let all: String = lock(&self.received)
            .iter()
            .filter(|(c, _)| *c == n)
            .map(|(_, t)| t.as_str())
            .collect();
        all.contains(what)
    }
}

impl Drop for SilentPool {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
