//! Solo mining against a live node: a real Bitcoin SV regtest node process
//! (two, since its getblocktemplate needs a peer). The real `noncesweep`
//! binary mines; the fault and pending tests drive the library's loop with
//! the real engine whose kernel is held at a gate, so that a block is found
//! exactly while the node is down.

#[path = "support/solo_node.rs"]
mod solo_node;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::{Address, BlockHash, Network as BtcNetwork};
use noncesweep::coinbase::bip34_height_push;
use noncesweep::engine::{chunk_nonces, MinerConfig};
use noncesweep::gbt::pending::PendingStore;
use noncesweep::gbt::rpc::{Auth, RpcClient};
use noncesweep::gbt::solo::{Solo, SoloConfig, SoloEvent, SoloSummary};
use noncesweep::sha256::Backend;
use serde_json::json;
use solo_node::*;

fn payout_address(node: &SvNode) -> String {
    node.call("getnewaddress", json!([]))
        .as_str()
        .expect("address")
        .to_string()
}

fn script_of(addr: &str) -> bitcoin::ScriptBuf {
    addr.parse::<Address<_>>()
        .unwrap()
        .require_network(BtcNetwork::Regtest)
        .unwrap()
        .script_pubkey()
}

fn base_args(pair: &SvPair, addr: &str, state: &std::path::Path) -> Vec<String> {
    vec![
        "solo".into(),
        "--rpc-url".into(),
        pair.a.url(),
        "--rpc-user".into(),
        RPC_USER.into(),
        "--rpc-password-file".into(),
        pair.password_file().display().to_string(),
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

#[test]
fn binary_mines_20_blocks_with_mempool_transactions() {
    let pair = SvPair::start();
    // Mature coins for the wallet, then transactions for the template.
    pair.a.call("generate", json!([101]));
    let addr = payout_address(&pair.a);
    let dest = payout_address(&pair.a);
    let sent: Vec<String> = (0..3)
        .map(|_| {
            pair.a
                .call("sendtoaddress", json!([dest, 1.5]))
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mempool = pair.a.call("getrawmempool", json!([]));
    assert_eq!(mempool.as_array().unwrap().len(), 3, "{mempool}");
    let before = pair.a.block_count();
    let state = pair.tmp.path().join("state");
    let mut args = base_args(&pair, &addr, &state);
    args.extend(["--max-blocks".into(), "20".into()]);
    let out = run_binary(&args, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(pair.a.block_count(), before + 20, "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("block accepted: height").count(),
        20,
        "{stdout}"
    );
    assert!(stdout.contains("summary: 20 block(s) accepted"), "{stdout}");
    // Confirmations are followed: the first blocks are 6 deep by the end.
    assert!(stdout.contains("has 6 confirmations"), "{stdout}");
    let payout = script_of(&addr);
    let mut with_mempool = 0;
    for height in before + 1..=before + 20 {
        let block = block_at(&pair.a, height);
        let cb = &block.txdata[0];
        assert_eq!(cb.output[0].script_pubkey, payout, "height {height}");
        let push = bip34_height_push(height as u32);
        assert!(
            cb.input[0]
                .script_sig
                .as_bytes()
                .starts_with(push.as_bytes()),
            "height {height}: scriptSig {}",
            cb.input[0].script_sig
        );
        let txids: Vec<String> = block
            .txdata
            .iter()
            .map(|t| t.compute_txid().to_string())
            .collect();
        if sent.iter().all(|s| txids.contains(s)) {
            with_mempool += 1;
        }
    }
    assert_eq!(
        with_mempool, 1,
        "the sent transactions are in exactly one block"
    );
    assert!(pair
        .a
        .call("getrawmempool", json!([]))
        .as_array()
        .unwrap()
        .is_empty());
    // BIP320 bits are rolled by default; the node accepts those blocks.
    // With a group kernel about half the blocks are found on a rolled
    // version (any of 32 at the first nonces); the rest keep the template's.
    let template_version = pair.a.call("getblocktemplate", json!([]))["version"]
        .as_i64()
        .unwrap() as u32;
    let mask = noncesweep::work::BIP320_MASK;
    let mut rolled = 0;
    for height in before + 1..=before + 20 {
        let v = block_at(&pair.a, height).header.version.to_consensus() as u32;
        assert_eq!(v & !mask, template_version & !mask, "height {height}");
        if v != template_version {
            rolled += 1;
        }
    }
    if Backend::available().iter().any(|b| b.shares_versions()) {
        assert!(
            rolled >= 3,
            "only {rolled} of 20 blocks on a rolled version"
        );
    }
}

#[test]
fn binary_keeps_the_template_version_with_no_version_rolling() {
    let pair = SvPair::start();
    pair.a.call("generate", json!([1]));
    let addr = payout_address(&pair.a);
    let before = pair.a.block_count();
    let template_version = pair.a.call("getblocktemplate", json!([]))["version"]
        .as_i64()
        .unwrap() as i32;
    let state = pair.tmp.path().join("state");
    let mut args = base_args(&pair, &addr, &state);
    args.extend([
        "--max-blocks".into(),
        "5".into(),
        "--no-version-rolling".into(),
    ]);
    let out = run_binary(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(pair.a.block_count(), before + 5, "{stdout}\n{stderr}");
    for height in before + 1..=before + 5 {
        let v = block_at(&pair.a, height).header.version.to_consensus();
        assert_eq!(v, template_version, "height {height}");
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
    pair: &SvPair,
    addr: &str,
    state: PathBuf,
    max_blocks: u64,
    miner: MinerConfig,
) -> Running {
    let rpc = RpcClient::new(
        &pair.a.url(),
        Auth::UserPass {
            user: RPC_USER.into(),
            password: RPC_PASSWORD.into(),
        },
        Duration::from_secs(10),
    )
    .unwrap();
    let (tx, events) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let cfg = SoloConfig {
        address: addr.to_string(),
        network: Some(noncesweep::gbt::Network::Regtest),
        tag: b"/noncesweep-test/".to_vec(),
        max_blocks: Some(max_blocks),
        poll_interval: Duration::from_secs(1),
        state_dir: state,
        miner,
        version_mask: noncesweep::work::BIP320_MASK,
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

/// Start mining with the kernel shut, stop the node, open the kernel: the
/// block is found while the node is down. Returns its hash and file.
fn find_block_during_outage(
    pair: &mut SvPair,
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
    pair.a.stop();
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
    let mut pair = SvPair::start();
    let addr = payout_address(&pair.a);
    let before = pair.a.block_count();
    let state = pair.tmp.path().join("state");
    let (miner, gate) = gated_miner();
    let run = start_solo(&pair, &addr, state.clone(), 3, miner);
    let mut seen = Vec::new();
    let (hash, path, stopped_at) = find_block_during_outage(&mut pair, &run, &gate, &mut seen);
    // The node comes back 5 s after it went down.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(stopped_at.elapsed()));
    pair.a.restart();
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
    assert_eq!(pair.a.block_count(), before + 3);
    let header = pair.a.call("getblockheader", json!([hash.to_string()]));
    assert_eq!(header["height"], json!(before + 1));
    assert!(header["confirmations"].as_i64().unwrap() >= 1);
}

#[test]
fn pending_block_survives_ctrl_c_and_is_submitted_at_next_start() {
    let mut pair = SvPair::start();
    let addr = payout_address(&pair.a);
    let before = pair.a.block_count();
    let state = pair.tmp.path().join("state");
    // 1. A block found while the node is down, then a stop request.
    let (miner, gate) = gated_miner();
    let run = start_solo(&pair, &addr, state.clone(), 5, miner);
    let mut seen = Vec::new();
    let (hash, path, _) = find_block_during_outage(&mut pair, &run, &gate, &mut seen);
    run.stop.store(true, Ordering::SeqCst);
    let summary = run.handle.join().expect("solo thread");
    assert_eq!(summary.pending.len(), 1);
    assert_eq!(summary.pending[0].path, path);

    // 2. The real binary, node still down: it retries the pending block
    //    until SIGINT, then says where the block is and how to submit it.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(base_args(&pair, &addr, &state))
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
    pair.a.restart();
    pair.wait_for_template();
    let mut args = base_args(&pair, &addr, &state);
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
    assert_eq!(pair.a.block_count(), before + 2);
    let header = pair.a.call("getblockheader", json!([hash.to_string()]));
    assert!(header["confirmations"].as_i64().unwrap() >= 1);
}

#[test]
fn bad_input_gives_clear_errors() {
    let pair = SvPair::start();
    let addr = payout_address(&pair.a);
    let state = pair.tmp.path().join("state");
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
        common(pair.a.url(), &addr),
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
        common(pair.a.url(), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        &[("NONCESWEEP_RPC_PASSWORD", RPC_PASSWORD)],
    );
    assert!(
        err.contains("not valid on the node's network, regtest"),
        "{err}"
    );
    assert!(err.contains("it is a mainnet address"), "{err}");
    // A password on the command line works but is warned about; a
    // --network that is not the node's is refused.
    let mut args = common(pair.a.url(), &addr);
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
    let pair = SvPair::start_auth(true);
    let addr = payout_address(&pair.a);
    let before = pair.a.block_count();
    let state = pair.tmp.path().join("state");
    // No credentials at all: the cookie comes from --datadir and --network,
    // as bitcoin-cli finds it.
    let args: Vec<String> = vec![
        "solo".into(),
        "--rpc-url".into(),
        pair.a.url(),
        "--datadir".into(),
        pair.a.datadir.display().to_string(),
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
    assert_eq!(pair.a.block_count(), before + 2);
    // The cookie's secret never reaches the logs.
    let cookie = std::fs::read_to_string(pair.a.datadir.join("regtest/.cookie")).unwrap();
    let secret = cookie.trim().split_once(':').unwrap().1;
    assert!(!stderr.contains(secret));
    // --rpc-cookie PATH works the same; a wrong path says what to check.
    let mut args = args;
    let at = args.iter().position(|a| a == "--datadir").unwrap();
    args[at] = "--rpc-cookie".into();
    args[at + 1] = pair.a.datadir.join("regtest/.cookie").display().to_string();
    let out = run_binary(&args, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pair.a.block_count(), before + 4);
    args[at + 1] = pair.tmp.path().join("no-such-cookie").display().to_string();
    let out = run_binary(&args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot read the cookie file"), "{stderr}");
}

#[test]
fn orphaned_block_is_reported_and_mining_follows_a_reorg() {
    let pair = SvPair::start();
    let addr = payout_address(&pair.a);
    let before = pair.a.block_count() as u32;
    let (miner, gate) = gated_miner();
    let run = start_solo(&pair, &addr, pair.tmp.path().join("state"), 2, miner);
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
    pair.a.call("invalidateblock", json!([hash.to_string()]));
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
    assert_eq!(pair.a.block_count(), u64::from(before) + 1);
    assert_eq!(
        pair.a.call("getbestblockhash", json!([])),
        json!(replacement.to_string())
    );
}

#[test]
fn profit_reads_difficulty_height_and_fees_from_the_node() {
    let pair = SvPair::start();
    let url = pair.a.url();
    let info = pair.a.call("getblockchaininfo", json!([]));
    let difficulty = info["difficulty"].as_f64().unwrap();
    let height = info["blocks"].as_u64().unwrap() + 1;
    let pw = pair.password_file().display().to_string();
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
    let pair = SvPair::start();
    let addr = payout_address(&pair.a);
    let state = pair.tmp.path().join("state");
    let mut args = base_args(&pair, &addr, &state);
    args.push("-v".into());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let before = pair.a.block_count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pair.a.block_count() < before + 3 {
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
