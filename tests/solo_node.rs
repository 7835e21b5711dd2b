//! Solo mining against a live node: a real Bitcoin Core regtest node
//! process, built from the source the `bitcoinkernel` dev-dependency
//! vendors. The real `noncesweep` binary mines; the fault and pending tests
//! drive the library's loop with the real engine whose kernel is held at a
//! gate, so that a block is found exactly while the node is down.

#[path = "support/solo_node.rs"]
mod solo_node;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::{Address, BlockHash};
use noncesweep::hashing::coinbase::bip34_height_push;
use noncesweep::hashing::engine::{chunk_nonces, Miner, MinerConfig};
use noncesweep::hashing::sha256::Backend;
use noncesweep::sources::gbt::pending::PendingStore;
use noncesweep::sources::gbt::rpc::{Auth, RpcClient};
use noncesweep::sources::gbt::solo::{Solo, SoloConfig, SoloEvent, SoloSummary};
use noncesweep::sources::gbt::template::{self, BlockTemplate, Payout, TemplateJob};
use serde_json::json;
use solo_node::*;

/// The miner's payout address in most tests.
fn payout() -> Address {
    TestKey::new(1).p2wpkh()
}

fn base_args(node: &CoreNode, addr: &str, state: &std::path::Path) -> Vec<String> {
    vec![
        "solo".into(),
        "--rpc-url".into(),
        node.url(),
        "--rpc-user".into(),
        RPC_USER.into(),
        "--rpc-password-file".into(),
        node.password_file().display().to_string(),
        "--address".into(),
        addr.into(),
        "--state-dir".into(),
        state.display().to_string(),
        "--threads".into(),
        "2".into(),
        "--poll-interval".into(),
        "1".into(),
    ]
}

/// `noncesweep solo` mining `blocks` blocks for `addr`; its stdout.
fn mine_blocks(node: &CoreNode, addr: &Address, blocks: u64, extra: &[&str]) -> String {
    let before = node.block_count();
    let mut args = base_args(node, &addr.to_string(), &node.scratch().join("state"));
    args.extend(["--max-blocks".into(), blocks.to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run_binary(&args, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(node.block_count(), before + blocks, "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("block accepted: height").count() as u64,
        blocks,
        "{stdout}"
    );
    stdout
}

fn template_version(node: &CoreNode) -> u32 {
    node.call("getblocktemplate", json!([template::request(None)]))["version"]
        .as_i64()
        .unwrap() as u32
}

/// A fresh chain (tip = genesis) mined by noncesweep alone: heights 1-16
/// carry BIP34's OP_1..OP_16, later ones a pushed number; every block pays
/// the address and carries the witness commitment Core asked for.
#[test]
fn fresh_chain_mined_from_height_1_by_solo_alone() {
    let node = CoreNode::start();
    assert_eq!(node.block_count(), 0);
    let version = template_version(&node);
    let addr = payout();
    let stdout = mine_blocks(&node, &addr, 20, &[]);
    assert!(stdout.contains("summary: 20 block(s) accepted"), "{stdout}");
    // Confirmations are followed: the first blocks are 6 deep by the end.
    assert!(stdout.contains("has 6 confirmations"), "{stdout}");
    let mask = noncesweep::hashing::work::BIP320_MASK;
    let mut rolled = 0;
    for height in 1..=20u64 {
        let block = block_at(&node, height);
        let cb = &block.txdata[0];
        let script_sig = cb.input[0].script_sig.as_bytes();
        if height <= 16 {
            assert_eq!(script_sig[0], 0x50 + height as u8, "height {height}");
        } else {
            assert_eq!(&script_sig[..2], &[0x01, height as u8], "height {height}");
        }
        assert!(script_sig.starts_with(bip34_height_push(height as u32).as_bytes()));
        assert_eq!(cb.output[0].script_pubkey, addr.script_pubkey());
        assert!(block.check_witness_commitment(), "height {height}");
        let v = block.header.version.to_consensus() as u32;
        assert_eq!(v & !mask, version & !mask, "height {height}");
        if v != version {
            rolled += 1;
        }
    }
    // BIP320 bits are rolled by default. With a group kernel about half the
    // blocks are found on a rolled version (any of 32 at the first nonces).
    if Backend::available().iter().any(|b| b.shares_versions()) {
        assert!(
            rolled >= 3,
            "only {rolled} of 20 blocks on a rolled version"
        );
    }
}

/// Segwit spends in the mempool (P2WPKH inputs, so witness data) paying
/// P2TR, P2WPKH, P2SH and P2PKH outputs go into a noncesweep block with
/// its witness commitment; and noncesweep's coinbase pays each of those
/// four address types.
#[test]
fn segwit_mempool_transactions_and_every_payout_type() {
    let node = CoreNode::start();
    let funder = TestKey::new(2);
    // Heights 1-3 pay the funder; at tip 103 the third is 101 deep (mature).
    node.mine_to(&funder.p2wpkh(), 103);
    let dest = TestKey::new(3);
    let outputs = [
        (dest.p2tr(), 10.0),
        (dest.p2wpkh(), 10.0),
        (dest.p2sh(), 10.0),
        (dest.p2pkh(), 10.0),
        (funder.p2wpkh(), 9.99),
    ];
    let sent: Vec<String> = (1..=3)
        .map(|h| {
            node.spend(&funder, &node.coinbase_txid(h), 0, 50.0, &outputs)
                .to_string()
        })
        .collect();
    let mempool = node.call("getrawmempool", json!([]));
    assert_eq!(mempool.as_array().unwrap().len(), 3, "{mempool}");
    let key = TestKey::new(4);
    let payouts = [
        ("P2TR", key.p2tr()),
        ("P2WPKH", key.p2wpkh()),
        ("P2SH", key.p2sh()),
        ("P2PKH", key.p2pkh()),
    ];
    let mut with_mempool = 0;
    for (i, (kind, addr)) in payouts.iter().enumerate() {
        let before = node.block_count();
        mine_blocks(&node, addr, 2, &[]);
        for height in before + 1..=before + 2 {
            let block = block_at(&node, height);
            let cb = &block.txdata[0];
            assert_eq!(cb.output[0].script_pubkey, addr.script_pubkey(), "{kind}");
            // Core's own check accepted it; the crate's agrees.
            assert!(block.check_witness_commitment(), "{kind} at {height}");
            assert!(block.check_merkle_root());
            let txids: Vec<String> = block
                .txdata
                .iter()
                .map(|t| t.compute_txid().to_string())
                .collect();
            if sent.iter().all(|s| txids.contains(s)) {
                assert_eq!(i, 0, "the spends wait for no later run");
                with_mempool += 1;
                // Witness data: the coinbase has the reserved value and the
                // spends their signatures, so wtxids differ from txids.
                assert_eq!(cb.input[0].witness.len(), 1);
                assert!(block.txdata[1..]
                    .iter()
                    .all(|t| t.compute_wtxid().to_raw_hash() != t.compute_txid().to_raw_hash()));
                let commitment = &cb.output.last().unwrap().script_pubkey;
                assert!(commitment
                    .as_bytes()
                    .starts_with(&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]));
            }
        }
    }
    assert_eq!(
        with_mempool, 1,
        "the sent transactions are in exactly one block"
    );
    assert!(node
        .call("getrawmempool", json!([]))
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn binary_keeps_the_template_version_with_no_version_rolling() {
    let node = CoreNode::start();
    let version = template_version(&node);
    let before = node.block_count();
    mine_blocks(&node, &payout(), 5, &["--no-version-rolling"]);
    for height in before + 1..=before + 5 {
        let v = block_at(&node, height).header.version.to_consensus() as u32;
        assert_eq!(v, version, "height {height}");
    }
}

/// The real engine whose kernel waits at a gate: it sweeps only while
/// `allowed` chunks remain (`u64::MAX` = open), and counts calls while shut.
struct Gate {
    allowed: Arc<AtomicU64>,
    waiting: Arc<AtomicU64>,
}

impl Gate {
    fn open(&self) {
        self.allowed.store(u64::MAX, Ordering::SeqCst);
    }

    /// Let exactly `n` more chunks through (one chunk finds a regtest block).
    fn allow(&self, n: u64) {
        self.allowed.store(n, Ordering::SeqCst);
    }
}

fn gated_miner() -> (MinerConfig, Gate) {
    let allowed = Arc::new(AtomicU64::new(0));
    let waiting = Arc::new(AtomicU64::new(0));
    let (a, w) = (Arc::clone(&allowed), Arc::clone(&waiting));
    let cfg = MinerConfig {
        threads: 1,
        chunk: chunk_nonces(Backend::Soft),
        sweep: Arc::new(move |wu, first, last, hits: &mut Vec<u32>| {
            let pass = a
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                    0 => None,
                    u64::MAX => Some(u64::MAX),
                    n => Some(n - 1),
                })
                .is_ok();
            if pass {
                Backend::Soft.sweep(wu, first, last, hits);
            } else {
                w.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        }),
        sweep_versions: None,
    };
    (cfg, Gate { allowed, waiting })
}

struct Running {
    events: Receiver<SoloEvent>,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<SoloSummary>,
}

fn start_solo(
    node: &CoreNode,
    addr: &str,
    state: PathBuf,
    max_blocks: u64,
    miner: MinerConfig,
) -> Running {
    start_solo_at(
        &node.url(),
        addr,
        state,
        Some(max_blocks),
        miner,
        Duration::from_secs(1),
    )
}

/// The solo loop against the node at `url` (the node itself or a proxy in
/// front of it), with RPC calls timing out after 3 s.
fn start_solo_at(
    url: &str,
    addr: &str,
    state: PathBuf,
    max_blocks: Option<u64>,
    miner: MinerConfig,
    poll_interval: Duration,
) -> Running {
    let rpc = RpcClient::new(
        url,
        Auth::UserPass {
            user: RPC_USER.into(),
            password: RPC_PASSWORD.into(),
        },
        Duration::from_secs(3),
    )
    .unwrap();
    let (tx, events) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let cfg = SoloConfig {
        address: addr.to_string(),
        network: Some(noncesweep::sources::gbt::Network::Regtest),
        tag: b"/noncesweep-test/".to_vec(),
        max_blocks,
        poll_interval,
        state_dir: state,
        miner,
        version_mask: noncesweep::hashing::work::BIP320_MASK,
        longpoll: true,
        stop: Arc::new(move || s.load(Ordering::SeqCst)),
        show_progress: false,
        events: Some(tx),
        stats: None,
    };
    let handle = std::thread::spawn(move || {
        Solo::new(Arc::new(rpc), cfg)
            .and_then(Solo::run)
            .unwrap_or_else(|e| panic!("solo: {e}"))
    });
    Running {
        events,
        stop,
        handle,
    }
}

/// Wait for an event matching `f`, returning it.
fn wait_for(
    r: &Receiver<SoloEvent>,
    limit: Duration,
    seen: &mut Vec<SoloEvent>,
    f: impl Fn(&SoloEvent) -> bool,
) -> SoloEvent {
    try_wait_for(r, limit, seen, f)
        .unwrap_or_else(|| panic!("event not seen in {limit:?}; saw {seen:#?}"))
}

fn try_wait_for(
    r: &Receiver<SoloEvent>,
    limit: Duration,
    seen: &mut Vec<SoloEvent>,
    f: impl Fn(&SoloEvent) -> bool,
) -> Option<SoloEvent> {
    let deadline = Instant::now() + limit;
    if let Some(e) = seen.iter().find(|e| f(e)) {
        return Some(e.clone());
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = r.recv_timeout(left).ok()?;
        seen.push(e.clone());
        if f(&e) {
            return Some(e);
        }
    }
}

/// Let the gated engine find exactly one block and return the node's
/// verdict on it. A chunk can land on a job that a fresher template
/// replaces (its share is then dropped), so chunks are let through one at a
/// time until a block is found.
fn mine_one(gate: &Gate, r: &Receiver<SoloEvent>, seen: &mut Vec<SoloEvent>) -> SoloEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        assert!(Instant::now() < deadline, "no block found; saw {seen:#?}");
        gate.allow(1);
        let mut fresh = Vec::new();
        if let Some(SoloEvent::Found { hash, .. }) =
            try_wait_for(r, Duration::from_secs(1), &mut fresh, |e| {
                matches!(e, SoloEvent::Found { .. })
            })
        {
            seen.extend(fresh);
            break hash;
        }
        seen.extend(fresh);
    };
    wait_for(
        r,
        Duration::from_secs(30),
        seen,
        |e| matches!(e, SoloEvent::Verdict { hash, .. } if *hash == found),
    )
}

/// Start mining with the kernel shut, kill the node, open the kernel: the
/// block is found while the node is down. Returns its hash and file.
fn find_block_during_outage(
    node: &mut CoreNode,
    run: &Running,
    gate: &Gate,
    seen: &mut Vec<SoloEvent>,
) -> (BlockHash, PathBuf, Instant) {
    wait_for(&run.events, Duration::from_secs(30), seen, |e| {
        matches!(e, SoloEvent::Mining { .. })
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.waiting.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the engine never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    node.kill();
    let stopped_at = Instant::now();
    gate.open();
    let found = wait_for(&run.events, Duration::from_secs(30), seen, |e| {
        matches!(e, SoloEvent::Found { .. })
    });
    let SoloEvent::Found { hash, path, .. } = found else {
        unreachable!()
    };
    wait_for(&run.events, Duration::from_secs(30), seen, |e| {
        matches!(e, SoloEvent::Outage { .. })
    });
    assert!(path.is_file(), "the found block is saved before submission");
    (hash, path, stopped_at)
}

#[test]
fn node_outage_block_found_meanwhile_is_submitted_after() {
    let mut node = CoreNode::start();
    let addr = payout().to_string();
    let before = node.block_count();
    let state = node.scratch().join("state");
    let (miner, gate) = gated_miner();
    let run = start_solo(&node, &addr, state.clone(), 3, miner);
    let mut seen = Vec::new();
    let (hash, path, stopped_at) = find_block_during_outage(&mut node, &run, &gate, &mut seen);
    // The node comes back 5 s after it went down.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(stopped_at.elapsed()));
    node.restart();
    let verdict = wait_for(
        &run.events,
        Duration::from_secs(60),
        &mut seen,
        |e| matches!(e, SoloEvent::Verdict { hash: h, .. } if *h == hash),
    );
    assert_eq!(
        verdict,
        SoloEvent::Verdict {
            height: before as u32 + 1,
            hash,
            reason: None
        }
    );
    assert!(seen
        .iter()
        .any(|e| matches!(e, SoloEvent::Recovered { .. })));
    // Mining resumes: two more blocks on the node after it came back.
    let summary = run.handle.join().expect("solo thread");
    assert_eq!(summary.accepted.len(), 3, "{summary:?}");
    assert!(summary.pending.is_empty());
    assert!(!path.exists());
    assert_eq!(node.block_count(), before + 3);
    let header = node.call("getblockheader", json!([hash.to_string()]));
    assert_eq!(header["height"], json!(before + 1));
    assert!(header["confirmations"].as_i64().unwrap() >= 1);
}

#[test]
fn pending_block_survives_ctrl_c_and_is_submitted_at_next_start() {
    let mut node = CoreNode::start();
    let addr = payout().to_string();
    let before = node.block_count();
    let state = node.scratch().join("state");
    // 1. A block found while the node is down, then a stop request.
    let (miner, gate) = gated_miner();
    let run = start_solo(&node, &addr, state.clone(), 5, miner);
    let mut seen = Vec::new();
    let (hash, path, _) = find_block_during_outage(&mut node, &run, &gate, &mut seen);
    run.stop.store(true, Ordering::SeqCst);
    let summary = run.handle.join().expect("solo thread");
    assert_eq!(summary.pending.len(), 1);
    assert_eq!(summary.pending[0].path, path);

    // 2. The real binary, node still down: it retries the pending block
    //    until SIGINT, then says where the block is and how to submit it.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(base_args(&node, &addr, &state))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait_with_limit(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not be submitted"), "{stderr}");
    assert!(
        stdout.contains(
            &PendingStore::open(&state)
                .unwrap()
                .dir()
                .display()
                .to_string()
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "bitcoin-cli submitblock \"$(cat '{}')\"",
            path.display()
        )),
        "{stdout}"
    );
    assert!(path.is_file(), "Ctrl-C never discards a found block");

    // 3. Node back: the next start submits it first, then mines one more.
    node.restart();
    let mut args = base_args(&node, &addr, &state);
    args.extend(["--max-blocks".into(), "2".into()]);
    let out = run_binary(&args, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "block accepted: height {} hash {hash}",
            before + 1
        )),
        "{stdout}\n{stderr}"
    );
    assert!(!path.exists());
    assert_eq!(node.block_count(), before + 2);
    let header = node.call("getblockheader", json!([hash.to_string()]));
    assert!(header["confirmations"].as_i64().unwrap() >= 1);
}

#[test]
fn bad_input_gives_clear_errors() {
    let node = CoreNode::start();
    let addr = payout().to_string();
    let state = node.scratch().join("state");
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
            .args(&args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let common = |url: String, addr: &str| -> Vec<String> {
        vec![
            "solo".into(),
            "--rpc-url".into(),
            url,
            "--rpc-user".into(),
            RPC_USER.into(),
            "--address".into(),
            addr.into(),
            "--state-dir".into(),
            state.display().to_string(),
        ]
    };
    // Wrong password (from the environment): 401 in words, password not shown.
    let err = run(
        common(node.url(), &addr),
        &[("NONCESWEEP_RPC_PASSWORD", "not-the-password-91c")],
    );
    assert!(err.contains("rejected the credentials (HTTP 401)"), "{err}");
    assert!(!err.contains("not-the-password-91c"), "{err}");
    // Wrong port: nothing listens there (cpuminer's -o and --coinbase-addr).
    let port = free_port();
    let mut args = common(format!("http://127.0.0.1:{port}"), &addr);
    args[1] = "-o".into();
    args[5] = "--coinbase-addr".into();
    let err = run(args, &[("NONCESWEEP_RPC_PASSWORD", RPC_PASSWORD)]);
    assert!(
        err.contains(&format!(
            "cannot connect to the node at http://127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(err.contains("Is the node running"), "{err}");
    // A mainnet address on a regtest node.
    let err = run(
        common(node.url(), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        &[("NONCESWEEP_RPC_PASSWORD", RPC_PASSWORD)],
    );
    assert!(
        err.contains("not valid on the node's network, regtest"),
        "{err}"
    );
    assert!(err.contains("it is a mainnet address"), "{err}");
    // A password on the command line works but is warned about; a
    // --network that is not the node's is refused.
    let mut args = common(node.url(), &addr);
    args.extend([
        "--rpc-password".into(),
        RPC_PASSWORD.into(),
        "--network".into(),
        "mainnet".into(),
    ]);
    let err = run(args, &[]);
    assert!(err.contains("visible to other users"), "{err}");
    assert!(err.contains("--network is mainnet but the node"), "{err}");
    assert!(!err.contains(RPC_PASSWORD), "{err}");
}

#[test]
fn cookie_is_found_from_datadir_and_network() {
    let node = CoreNode::start_with(NodeOptions {
        cookie: true,
        ..Default::default()
    });
    let addr = payout().to_string();
    let before = node.block_count();
    let state = node.scratch().join("state");
    // No credentials at all: the cookie comes from --datadir and --network,
    // as bitcoin-cli finds it.
    let args: Vec<String> = vec![
        "solo".into(),
        "--rpc-url".into(),
        node.url(),
        "--datadir".into(),
        node.datadir.display().to_string(),
        "--network".into(),
        "regtest".into(),
        "--address".into(),
        addr.clone(),
        "--state-dir".into(),
        state.display().to_string(),
        "--max-blocks".into(),
        "2".into(),
    ];
    let out = run_binary(&args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(node.block_count(), before + 2);
    // The cookie's secret never reaches the logs.
    let cookie = std::fs::read_to_string(node.datadir.join("regtest/.cookie")).unwrap();
    let secret = cookie.trim().split_once(':').unwrap().1;
    assert!(!stderr.contains(secret));
    // --rpc-cookie PATH works the same; a wrong path says what to check.
    let mut args = args;
    let at = args.iter().position(|a| a == "--datadir").unwrap();
    args[at] = "--rpc-cookie".into();
    args[at + 1] = node.datadir.join("regtest/.cookie").display().to_string();
    let out = run_binary(&args, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(node.block_count(), before + 4);
    args[at + 1] = node.scratch().join("no-such-cookie").display().to_string();
    let out = run_binary(&args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot read the cookie file"), "{stderr}");
}

#[test]
fn orphaned_block_is_reported_and_mining_follows_a_reorg() {
    let node = CoreNode::start();
    let addr = payout().to_string();
    let before = node.block_count() as u32;
    let (miner, gate) = gated_miner();
    let run = start_solo(&node, &addr, node.scratch().join("state"), 2, miner);
    let mut seen = Vec::new();
    // One block at height before + 1...
    let first = mine_one(&gate, &run.events, &mut seen);
    let SoloEvent::Verdict {
        hash,
        height,
        reason: None,
    } = first
    else {
        panic!("not accepted: {first:?}")
    };
    assert_eq!(height, before + 1);
    // ...leaves the main chain: the node goes back to a lower tip, and the
    // miner follows it there.
    node.call("invalidateblock", json!([hash.to_string()]));
    let mut seen_now = Vec::new();
    wait_for(
        &run.events,
        Duration::from_secs(30),
        &mut seen_now,
        |e| matches!(e, SoloEvent::Mining { height: h, .. } if *h == before + 1),
    );
    let second = mine_one(&gate, &run.events, &mut seen_now);
    let SoloEvent::Verdict {
        hash: replacement,
        height,
        reason: None,
    } = second
    else {
        panic!("not accepted: {second:?}")
    };
    assert_eq!(height, before + 1);
    assert_ne!(replacement, hash);
    wait_for(&run.events, Duration::from_secs(30), &mut seen_now, |e| {
        *e == SoloEvent::Orphaned {
            height: before + 1,
            hash,
        }
    });
    let summary = run.handle.join().expect("solo thread");
    assert_eq!(summary.accepted.len(), 2);
    assert_eq!(node.block_count(), u64::from(before) + 1);
    assert_eq!(
        node.call("getbestblockhash", json!([])),
        json!(replacement.to_string())
    );
}

#[test]
fn profit_reads_difficulty_height_and_fees_from_the_node() {
    let node = CoreNode::start();
    let url = node.url();
    let info = node.call("getblockchaininfo", json!([]));
    let difficulty = info["difficulty"].as_f64().unwrap();
    let height = info["blocks"].as_u64().unwrap() + 1;
    let pw = node.password_file().display().to_string();
    let common = [
        "profit",
        "--hashrate",
        "10MH/s",
        "--watts",
        "50",
        "--price-kwh",
        "0.2",
        "--btc-price",
        "50000",
        "--json",
    ];
    let from_node = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(common)
        .args([
            "--rpc-url",
            &url,
            "--rpc-user",
            RPC_USER,
            "--rpc-password-file",
            &pw,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&from_node.stderr);
    assert!(from_node.status.success(), "{stderr}");
    assert!(stderr.contains("read from the node"), "{stderr}");
    assert!(!stderr.contains(&std::fs::read_to_string(&pw).unwrap().trim().to_string()));
    // The same figures as when the node's values are given as flags.
    let fees: f64 = stderr
        .split("fees_per_block_btc=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("fees in the log");
    let by_hand = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(common)
        .args([
            "--difficulty",
            &difficulty.to_string(),
            "--height",
            &height.to_string(),
        ])
        .args(["--fees-per-block", &fees.to_string()])
        .output()
        .unwrap();
    assert!(
        by_hand.status.success(),
        "{}",
        String::from_utf8_lossy(&by_hand.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&from_node.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&by_hand.stdout).unwrap();
    assert_eq!(a, b);
    // A node that is not there is a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(common)
        .args([
            "--rpc-url",
            &format!("http://127.0.0.1:{}", free_port()),
            "--rpc-user",
            RPC_USER,
        ])
        .args(["--rpc-password-file", &pw])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Is the node running"), "{err}");
}

#[test]
fn sigint_during_solo_prints_a_summary_exits_zero_and_logs_no_secret() {
    let node = CoreNode::start();
    let addr = payout().to_string();
    let state = node.scratch().join("state");
    let mut args = base_args(&node, &addr, &state);
    args.push("-v".into());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let before = node.block_count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.block_count() < before + 3 {
        assert!(Instant::now() < deadline, "no blocks mined");
        std::thread::sleep(Duration::from_millis(100));
    }
    let t0 = Instant::now();
    // SAFETY: kill(2) on our own child, which has not been waited for.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = wait_with_limit(child, Duration::from_secs(10));
    let took = t0.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(stdout.contains("summary:"), "{stdout}");
    assert!(stderr.contains("summary: ran"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(RPC_PASSWORD), "the RPC password was shown");
    }
    eprintln!("solo stopped {took:?} after SIGINT");
}

/// Longpoll: a block mined by another node reaches ours over P2P, and the
/// miner is on the new tip long before its 120 s poll timer could have
/// fetched it.
#[test]
fn longpoll_switches_to_a_tip_another_node_mined() {
    let a = CoreNode::start();
    let b = CoreNode::start_with(NodeOptions {
        connect: Some(a.p2p_port),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.call("getconnectioncount", json!([])).as_u64() == Some(0) {
        assert!(Instant::now() < deadline, "the nodes never connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (miner, _gate) = gated_miner(); // shut: this miner finds nothing
    let run = start_solo_at(
        &a.url(),
        &payout().to_string(),
        a.scratch().join("state"),
        None,
        miner,
        Duration::from_secs(120),
    );
    let mut seen = Vec::new();
    wait_for(&run.events, Duration::from_secs(30), &mut seen, |e| {
        matches!(e, SoloEvent::Mining { height: 1, .. })
    });
    // The longpoll request is in flight before the other node mines.
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let mined: BlockHash = b.mine_to(&TestKey::new(5).p2wpkh(), 1)[0].parse().unwrap();
    let switched = wait_for(&run.events, Duration::from_secs(30), &mut seen, |e| {
        matches!(e, SoloEvent::Mining { height: 2, .. })
    });
    let took = t0.elapsed();
    assert_eq!(
        switched,
        SoloEvent::Mining {
            height: 2,
            prev: mined
        }
    );
    assert_eq!(a.best_hash(), mined.to_string());
    eprintln!("new tip from the other node mined on after {took:?}");
    run.stop.store(true, Ordering::SeqCst);
    let summary = run.handle.join().expect("solo thread");
    assert!(summary.accepted.is_empty());
}

/// An HTTP proxy in front of the node that forwards everything but keeps
/// back the node's answer to the first `submitblock` (the node did get the
/// block), as a network that drops a reply would. It records the node's
/// answers to every `submitblock`.
struct LostAnswerProxy {
    url: String,
    submit_answers: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl LostAnswerProxy {
    fn start(node_port: u16) -> LostAnswerProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let submit_answers = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::clone(&submit_answers);
        let dropped = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (answers, dropped) = (Arc::clone(&answers), Arc::clone(&dropped));
                std::thread::spawn(move || {
                    let _ = proxy_connection(client, node_port, &answers, &dropped);
                });
            }
        });
        LostAnswerProxy {
            url,
            submit_answers,
        }
    }
}

/// One HTTP message (head and a Content-Length body) from `r`.
fn read_http(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut msg = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        msg.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    msg.extend(body);
    Ok(Some(msg))
}

fn proxy_connection(
    client: TcpStream,
    node_port: u16,
    answers: &Mutex<Vec<serde_json::Value>>,
    dropped: &AtomicBool,
) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let node = TcpStream::connect(("127.0.0.1", node_port))?;
    let mut from_node = BufReader::new(node.try_clone()?);
    let mut to_node = node;
    while let Some(request) = read_http(&mut from_client)? {
        to_node.write_all(&request)?;
        let Some(response) = read_http(&mut from_node)? else {
            return Ok(());
        };
        if String::from_utf8_lossy(&request).contains("\"submitblock\"") {
            let text = String::from_utf8_lossy(&response).to_string();
            let body = &text[text.find("\r\n\r\n").map_or(0, |i| i + 4)..];
            let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            answers.lock().unwrap().push(answer["result"].clone());
            if !dropped.swap(true, Ordering::SeqCst) {
                // The node has the block; the miner never hears so.
                std::thread::sleep(Duration::from_secs(10));
                return Ok(());
            }
        }
        to_client.write_all(&response)?;
    }
    Ok(())
}

/// A submit whose answer was lost is retried; Core answers `duplicate`,
/// and the miner finds the block on the main chain: a found block, not a
/// rejection.
#[test]
fn submit_retried_after_a_lost_answer_gets_duplicate_and_counts_as_found() {
    let node = CoreNode::start();
    let proxy = LostAnswerProxy::start(node.rpc_port);
    let (miner, gate) = gated_miner();
    let run = start_solo_at(
        &proxy.url,
        &payout().to_string(),
        node.scratch().join("state"),
        Some(1),
        miner,
        Duration::from_secs(1),
    );
    let mut seen = Vec::new();
    wait_for(&run.events, Duration::from_secs(30), &mut seen, |e| {
        matches!(e, SoloEvent::Mining { .. })
    });
    let verdict = mine_one(&gate, &run.events, &mut seen);
    let SoloEvent::Verdict {
        height: 1,
        hash,
        reason: None,
    } = verdict
    else {
        panic!("not counted as found: {verdict:?}; saw {seen:#?}")
    };
    let summary = run.handle.join().expect("solo thread");
    assert_eq!(summary.accepted, vec![(1, hash)]);
    assert!(summary.rejected.is_empty() && summary.stale.is_empty());
    assert!(summary.pending.is_empty());
    // The node got it twice: accepted (answer lost), then `duplicate`.
    assert_eq!(
        *proxy.submit_answers.lock().unwrap(),
        vec![json!(null), json!("duplicate")]
    );
    assert_eq!(node.best_hash(), hash.to_string());
    assert!(seen.iter().any(|e| matches!(e, SoloEvent::Outage { .. })));
}

/// A block for `template`, mined with noncesweep's engine and paying `addr`.
fn mine_block_from(template: &serde_json::Value, addr: &Address) -> bitcoin::Block {
    let t = BlockTemplate::from_json(template).expect("template");
    let payout = Payout {
        script: addr.script_pubkey(),
        tag: b"/noncesweep-test/".to_vec(),
    };
    let job = TemplateJob::new(Arc::new(t), &payout, "side".into()).expect("job");
    let (tx, shares) = mpsc::channel();
    let miner = Miner::start(MinerConfig::new(Backend::Soft, 1), tx).expect("miner");
    miner.set_job(Some(Arc::clone(&job.job)));
    let share = loop {
        let s = shares
            .recv_timeout(Duration::from_secs(60))
            .expect("a regtest block");
        if s.is_block {
            break s;
        }
    };
    miner.stop();
    job.block(&share).expect("block")
}

/// Pending blocks from an earlier run, answered `inconclusive` (a valid
/// block on a side branch: another block at its height came first) and
/// `duplicate` (already on the main chain), are counted as stale and as
/// found, never as rejected.
#[test]
fn pending_blocks_answered_inconclusive_or_duplicate_are_stale_or_found() {
    let node = CoreNode::start();
    let addr = payout();
    node.mine_to(&TestKey::new(6).p2wpkh(), 1);
    // A block at height 2 on top of the tip, while Core mines its own
    // height 2 first.
    let template = node.call("getblocktemplate", json!([template::request(None)]));
    let ours = mine_block_from(&template, &addr);
    node.mine_to(&TestKey::new(6).p2wpkh(), 1);
    let state = node.scratch().join("state");
    let store = PendingStore::open(&state).unwrap();
    let side = ours.block_hash();
    store
        .save(2, &side.to_string(), &template::block_hex(&ours))
        .unwrap();
    let mut args = base_args(&node, &addr.to_string(), &state);
    args.extend(["--max-blocks".into(), "1".into()]);
    let out = run_binary(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "block stale: height 2 hash {side}: the node answered inconclusive"
        )),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("summary: 1 block(s) accepted, 0 rejected, 1 stale, 0 pending"),
        "{stdout}"
    );
    let header = node.call("getblockheader", json!([side.to_string()]));
    assert_eq!(header["confirmations"], json!(-1), "{header}");
    assert!(store.list().unwrap().is_empty());

    // The block just mined, pending again as if the run had stopped before
    // the node's answer: `duplicate`, on the main chain, so found.
    let tip = node.best_hash();
    let hex = node.call("getblock", json!([tip, 0]));
    store.save(3, &tip, hex.as_str().unwrap()).unwrap();
    let out = run_binary(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "block accepted: height 3 hash {tip} (the node answered duplicate: it is on the main chain)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("summary: 1 block(s) accepted, 0 rejected, 0 stale, 0 pending"),
        "{stdout}"
    );
    assert_eq!(node.best_hash(), tip, "nothing else was mined");
}
