//! Foundation tests on real data: the genesis block and block 125552, the
//! Bitcoin Core regtest fixtures (merkle root, witness commitment, byte-
//! identical block), the portable kernel against a plain `sha2` loop and at
//! exact target boundaries, the engine's job switch, and the `remine` CLI.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Block, Target, Transaction, Txid, Wtxid};
use noncesweep::hashing::coinbase;
use noncesweep::hashing::engine::{self, Miner, MinerConfig};
use noncesweep::hashing::header::HeaderTemplate;
use noncesweep::hashing::pow;
use noncesweep::hashing::sha256::{Backend, VersionWork};
use noncesweep::remine::remine;
use sha2::Digest;

const GENESIS: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const GENESIS_HASH: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const GENESIS_NONCE: u32 = 2083236893;

/// Block 125552, the header used in the Bitcoin wiki's hashing example.
fn block_125552() -> HeaderTemplate {
    HeaderTemplate::new(
        1,
        "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81"
            .parse()
            .unwrap(),
        "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3"
            .parse()
            .unwrap(),
        1305998791,
        0x1a44b9f2,
        2504433986,
    )
}
const B125552_HASH: &str = "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d";

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn no_progress(_: u64) {}

#[test]
fn genesis_hashes_to_the_known_hash() {
    let h = HeaderTemplate::from_hex(GENESIS).unwrap();
    assert_eq!(h.block_hash().to_string(), GENESIS_HASH);
}

#[test]
fn remine_genesis_finds_its_nonce() {
    let h = HeaderTemplate::from_hex(GENESIS).unwrap();
    let cancel = AtomicBool::new(false);
    let r = remine(
        &h,
        GENESIS_NONCE - (1 << 24),
        u32::MAX,
        Backend::Soft,
        2,
        &no_progress,
        &cancel,
    )
    .unwrap();
    assert_eq!(r.nonce, GENESIS_NONCE);
    assert_eq!(r.hash.to_string(), GENESIS_HASH);
    assert!(r.hashes >= 1 << 24);
}

#[test]
fn remine_block_125552_finds_its_nonce_whatever_the_threads() {
    let h = block_125552();
    assert_eq!(h.block_hash().to_string(), B125552_HASH);
    let cancel = AtomicBool::new(false);
    let from = 2504433986 - (1 << 21);
    for threads in [1, 2, 3] {
        let r = remine(
            &h,
            from,
            u32::MAX,
            Backend::Soft,
            threads,
            &no_progress,
            &cancel,
        )
        .unwrap();
        assert_eq!(r.nonce, 2504433986, "threads = {threads}");
        assert_eq!(r.hash.to_string(), B125552_HASH);
    }
}

#[test]
fn remine_reports_no_hit_and_bad_ranges() {
    let h = HeaderTemplate::from_hex(GENESIS).unwrap();
    let cancel = AtomicBool::new(false);
    let err = remine(&h, 0, 100_000, Backend::Soft, 2, &no_progress, &cancel).unwrap_err();
    assert!(
        err.to_string().contains("no nonce from 0 to 100000"),
        "{err}"
    );
    let err = remine(&h, 5, 4, Backend::Soft, 2, &no_progress, &cancel).unwrap_err();
    assert!(err.to_string().contains("greater than"), "{err}");
}

/// Subtract one from a little-endian 256-bit number.
fn minus_one(mut le: [u8; 32]) -> [u8; 32] {
    for b in le.iter_mut() {
        let (v, borrow) = b.overflowing_sub(1);
        *b = v;
        if !borrow {
            break;
        }
    }
    le
}

#[test]
fn soft_kernel_hits_exactly_at_the_target() {
    for h in [HeaderTemplate::from_hex(GENESIS).unwrap(), block_125552()] {
        let hash = h.block_hash().to_byte_array();
        let at = Target::from_le_bytes(hash);
        let below = Target::from_le_bytes(minus_one(hash));
        let n = h.header.nonce;
        assert!(
            engine::kernel_hits_at(Backend::Soft, &h, at, n),
            "hash == target must hit"
        );
        assert!(
            !engine::kernel_hits_at(Backend::Soft, &h, below, n),
            "target - 1 must not hit"
        );
    }
}

/// The plain double SHA-256 of a header with the `sha2` crate.
fn sha2_hash(h: &HeaderTemplate, nonce: u32) -> [u8; 32] {
    let mut h = *h;
    h.set_nonce(nonce);
    let first = sha2::Sha256::digest(h.to_bytes());
    sha2::Sha256::digest(first).into()
}

#[test]
fn soft_kernel_equals_a_plain_sha2_loop_at_an_easy_target() {
    // Top byte zero: about one hit per 256 hashes.
    let mut t = [0xffu8; 32];
    t[31] = 0;
    let target = Target::from_le_bytes(t);
    let h = block_125552();
    let work = h.work_unit(target);
    let (first, last) = (1_000_000u32, 1_000_000 + 65_535);
    let mut hits = Vec::new();
    Backend::Soft.sweep(&work, first, last, &mut hits);
    let expected: Vec<u32> = (first..=last)
        .filter(|&n| Target::from_le_bytes(sha2_hash(&h, n)) <= target)
        .collect();
    assert!(expected.len() >= 100, "only {} hits", expected.len());
    assert_eq!(hits, expected);
}

#[test]
fn soft_kernel_is_exact_for_targets_with_a_nonzero_top_word() {
    let h = block_125552();
    // Regtest: about one hash in two meets it. Difficulty 0.001: one in
    // 4.3 million, so the range is wider (this header has hits in it).
    for (target, span) in [
        (pow::target_from_bits(0x207fffff), 1 << 12),
        (pow::share_target(0.001).unwrap(), 1 << 24),
    ] {
        let work = h.work_unit(target);
        let first = u32::MAX - (span - 1);
        let mut hits = Vec::new();
        Backend::Soft.sweep(&work, first, u32::MAX, &mut hits);
        let expected: Vec<u32> = (first..=u32::MAX)
            .filter(|&n| Target::from_le_bytes(sha2_hash(&h, n)) <= target)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(hits, expected);
    }
}

#[test]
fn core_fixture_merkle_root_and_witness_commitment() {
    let block = fixture("core-regtest-block-from-template.json");
    let template = fixture("core-regtest-template-segwit.json");
    let txs = template["transactions"].as_array().unwrap();
    let txids: Vec<Txid> = txs
        .iter()
        .map(|t| t["txid"].as_str().unwrap().parse().unwrap())
        .collect();
    let wtxids: Vec<Wtxid> = txs
        .iter()
        .map(|t| t["hash"].as_str().unwrap().parse().unwrap())
        .collect();
    let cb_txid: Txid = block["coinbase_txid"].as_str().unwrap().parse().unwrap();
    let root = coinbase::merkle_root(cb_txid, &coinbase::merkle_branch(&txids));
    assert_eq!(root.to_string(), block["merkle_root"].as_str().unwrap());
    let header = HeaderTemplate::from_hex(block["header"].as_str().unwrap()).unwrap();
    assert_eq!(header.header.merkle_root, root);
    let commitment = coinbase::witness_commitment_script(&wtxids);
    assert_eq!(
        hex::encode(commitment.as_bytes()),
        template["default_witness_commitment"].as_str().unwrap()
    );
}

#[test]
fn core_fixture_block_is_rebuilt_byte_identical() {
    let fx = fixture("core-regtest-block-from-template.json");
    let template = fixture("core-regtest-template-segwit.json");
    let coinbase_tx: Transaction =
        deserialize(&hex::decode(fx["coinbase_tx_witness"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        coinbase_tx.compute_txid().to_string(),
        fx["coinbase_txid"].as_str().unwrap()
    );
    let mut txdata = vec![coinbase_tx.clone()];
    for t in template["transactions"].as_array().unwrap() {
        txdata.push(deserialize(&hex::decode(t["data"].as_str().unwrap()).unwrap()).unwrap());
    }
    let header = HeaderTemplate::from_hex(fx["header"].as_str().unwrap()).unwrap();
    let block = Block {
        header: header.header,
        txdata,
    };
    assert_eq!(
        hex::encode(serialize(&block)),
        fx["block"].as_str().unwrap()
    );
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    let target =
        pow::target_from_bits(u32::from_str_radix(template["bits"].as_str().unwrap(), 16).unwrap());
    assert!(pow::meets(&block.block_hash(), target));
    assert_eq!(
        block.block_hash().to_string(),
        fx["block_hash"].as_str().unwrap()
    );

    // Our builder, given the fixture's facts, produces the same coinbase.
    let script_sig = hex::decode(fx["coinbase_script_sig"].as_str().unwrap()).unwrap();
    let builder = coinbase::CoinbaseBuilder {
        height: template["height"].as_u64().unwrap() as u32,
        extranonce_len: 8,
        tag: script_sig[script_sig.len() - 11..].to_vec(),
        payout_script: bitcoin::ScriptBuf::from_bytes(
            hex::decode(fx["payout_script"].as_str().unwrap()).unwrap(),
        ),
        value: bitcoin::Amount::from_sat(template["coinbasevalue"].as_u64().unwrap()),
        witness_commitment: Some(bitcoin::ScriptBuf::from_bytes(
            hex::decode(template["default_witness_commitment"].as_str().unwrap()).unwrap(),
        )),
    };
    let rebuilt = builder.build(&script_sig[3..11]).unwrap();
    assert_eq!(rebuilt, coinbase_tx);
}

#[test]
fn changing_extranonce_only_rehashes_the_coinbase_and_branch() {
    let template = fixture("core-regtest-template-segwit.json");
    let txids: Vec<Txid> = template["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txid"].as_str().unwrap().parse().unwrap())
        .collect();
    let builder = coinbase::CoinbaseBuilder {
        height: 111,
        extranonce_len: 8,
        tag: b"/noncesweep/".to_vec(),
        payout_script: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
        value: bitcoin::Amount::from_sat(5_000_040_000),
        witness_commitment: None,
    };
    let parts = builder.parts().unwrap();
    let branch = coinbase::merkle_branch(&txids);
    assert_eq!(branch.len(), 3); // 5 transactions: 3 levels.
    for en in [[0u8; 8], [7u8; 8]] {
        let tx = builder.build(&en).unwrap();
        let mut all = vec![tx.compute_txid()];
        all.extend(&txids);
        let full = bitcoin::merkle_tree::calculate_root(all.into_iter()).unwrap();
        let fast = coinbase::merkle_root(parts.txid(&[], &en), &branch);
        assert_eq!(fast.to_raw_hash(), full.to_raw_hash());
    }
}

#[test]
fn engine_switches_jobs_and_never_reports_an_old_one_after() {
    // Two jobs at an easy target, so both produce shares quickly.
    let easy = pow::share_target(1.0 / 4096.0).unwrap();
    let mut a = engine::synthetic_job(easy);
    a.id = "old".into();
    let mut b = a.clone();
    b.id = "new".into();
    b.time += 1;
    let (tx, rx) = mpsc::channel();
    let miner = Miner::start(MinerConfig::new(Backend::Soft, 2), tx).unwrap();
    miner.set_job(Some(Arc::new(a)));
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a share of the old job");
    assert_eq!(first.job_id, "old");
    // How fast the switch is belongs to the `engine` latency bench.
    miner.set_job(Some(Arc::new(b)));
    // Shares sent before the switch returned may still be queued; drain them.
    let mut before = 0;
    while let Ok(s) = rx.try_recv() {
        assert_eq!(s.job_id, "old");
        before += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut new_shares = 0;
    while new_shares < 5 && Instant::now() < deadline {
        if let Ok(s) = rx.recv_timeout(Duration::from_secs(1)) {
            assert_eq!(
                s.job_id, "new",
                "a share of the replaced job arrived after set_job returned"
            );
            assert!(pow::meets(&s.hash, easy));
            new_shares += 1;
        }
    }
    assert_eq!(
        new_shares, 5,
        "the new job produced no shares ({before} old queued)"
    );
    assert!(miner.counters().per_thread().iter().all(|&c| c > 0));
    assert_eq!(miner.false_hits(), 0);
    miner.stop();
}

#[test]
fn engine_rolls_extranonce2_when_the_nonce_space_runs_out() {
    // A target every hash meets: each variant is visible through its shares.
    let all = Target::from_le_bytes([0xff; 32]);
    let mut job = engine::synthetic_job(all);
    job.extranonce2_size = 1;
    job.extranonce2_start = 0;
    let (tx, rx) = mpsc::channel();
    // A sweep that reports only the last nonce of each header: the engine
    // has to go through all 2^32 nonces of a header before the next one.
    let config = MinerConfig {
        threads: 2,
        chunk: 1 << 28,
        sweep: Arc::new(|_w, _a, b, hits: &mut Vec<u32>| {
            if b == u32::MAX {
                hits.push(b)
            }
        }),
        sweep_versions: None,
    };
    let miner = Miner::start(config, tx).unwrap();
    miner.set_job(Some(Arc::new(job)));
    // Two threads may finish headers out of order, so wait until the first
    // three extranonce2 values have all been seen.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(0..3).all(|e| seen.contains(&e)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let s = rx
            .recv_timeout(left)
            .expect("shares from successive extranonce2 values");
        assert_eq!(s.header.header.nonce, u32::MAX);
        // Each header's last nonce is reported once: no extranonce2 repeats.
        assert!(
            seen.insert(s.extranonce2[0]),
            "extranonce2 {} swept twice",
            s.extranonce2[0]
        );
    }
    miner.stop();
}

/// Workers with a version-group kernel: a vector one where this CPU has
/// one, else the soft kernel run lane by lane, so the engine's group path
/// is tested on every CPU.
fn group_config(threads: usize) -> MinerConfig {
    let backend = Backend::available()
        .into_iter()
        .find(|b| b.shares_versions())
        .unwrap_or(Backend::Soft);
    let mut config = MinerConfig::new(backend, threads);
    if config.sweep_versions.is_none() {
        config.sweep_versions = Some(Arc::new(
            |w: &VersionWork, a, b, hits: &mut Vec<(usize, u32)>| {
                Backend::Soft.sweep_versions(w, a, b, hits)
            },
        ));
    }
    config
}

#[test]
fn engine_mines_version_groups_and_rechecks_every_hit() {
    // About one hash in 2^16 meets this target.
    let easy = Target::from_le_bytes({
        let mut b = [0xff; 32];
        b[31] = 0;
        b[30] = 0;
        b
    });
    let mut job = engine::synthetic_job(easy);
    job.version_mask = noncesweep::hashing::work::BIP320_MASK;
    assert!(job.has_version_groups());
    let config = group_config(2);
    let (tx, rx) = mpsc::channel();
    let miner = Miner::start(config, tx).unwrap();
    miner.set_job(Some(Arc::new(job.clone())));
    let mut shares = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while shares.len() < 40 {
        let left = deadline.saturating_duration_since(Instant::now());
        shares.push(rx.recv_timeout(left).expect("shares"));
    }
    assert_eq!(miner.false_hits(), 0);
    miner.stop();
    let mut seen = std::collections::BTreeSet::new();
    for s in &shares {
        let h = &s.header.header;
        assert_eq!(s.hash, h.block_hash());
        assert!(pow::meets(&s.hash, easy), "{s:?}");
        let version = h.version.to_consensus() as u32;
        assert_eq!(
            version & !job.version_mask,
            job.version as u32 & !job.version_mask
        );
        assert_eq!(s.version_bits, version & job.version_mask);
        assert!(
            seen.insert((version, h.nonce, s.extranonce2.clone())),
            "share repeated: {s:?}"
        );
    }
    let versions: std::collections::BTreeSet<u32> = shares.iter().map(|s| s.version_bits).collect();
    assert!(
        versions.len() >= 8,
        "shares from only {} versions",
        versions.len()
    );
}

fn run_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn cli_remine_genesis() {
    let from = (GENESIS_NONCE - (1 << 22)).to_string();
    let out = run_cli(&[
        "remine",
        "--header",
        GENESIS,
        "--from",
        &from,
        "--backend",
        "soft",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nonce 2083236893 (0x7c2bac1d)"), "{stdout}");
    assert!(stdout.contains(&format!("hash {GENESIS_HASH}")), "{stdout}");
}

#[test]
fn cli_remine_errors_are_clear() {
    let cases: &[(&[&str], &str)] = &[
        (&["remine", "--header", "xyz"], "not valid hex"),
        (&["remine", "--header", "0011"], "must be 80 bytes"),
        (
            &["remine", "--header", GENESIS, "--from", "10", "--to", "9"],
            "greater than",
        ),
        (
            &[
                "remine", "--header", GENESIS, "--from", "0", "--to", "0x1000",
            ],
            "no nonce from 0 to 4096",
        ),
        (
            &["remine", "--header", GENESIS, "--from=-3"],
            "not a number",
        ),
        (
            &["remine", "--header", GENESIS, "--backend", "quantum"],
            "unknown backend",
        ),
    ];
    for (args, want) in cases {
        let out = run_cli(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn cli_bench_json_shape() {
    let out = run_cli(&["bench", "--json", "--seconds", "0.2", "--threads", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(v["cpu"].is_object());
    let results = v["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["threads"] == 1));
    assert!(results.iter().any(|r| r["threads"] == 2));
    assert_eq!(v["version_rolling"], true);
    for r in results {
        assert!(r["backend"].is_string());
        assert!(r["hashes"].as_u64().unwrap() > 0);
        assert!(r["seconds"].as_f64().unwrap() > 0.0);
        assert!(r["hashrate"].as_f64().unwrap() > 0.0);
        // Each backend runs in the configuration that calibration timed
        // fastest for it (its first candidate); sha2-loop and soft have
        // only nonce lanes.
        let fastest = v["selection"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["backend"] == r["backend"]);
        match fastest {
            Some(c) => {
                assert_eq!(r["lanes"], c["lanes"], "{r} vs {c}");
                assert_eq!(r["kernel"], c["kernel"], "{r} vs {c}");
            }
            None => assert_eq!(r["lanes"], "nonces", "{r}"),
        }
    }
    // The configuration that mines is marked, once per thread count.
    for threads in [1, 2] {
        let chosen: Vec<_> = results
            .iter()
            .filter(|r| r["threads"] == threads && r["chosen"] == true)
            .collect();
        assert_eq!(chosen.len(), 1, "{v}");
        for key in ["backend", "lanes", "kernel"] {
            assert_eq!(chosen[0][key], v["selection"][key], "{key}: {v}");
        }
    }
}

/// `--candidates` measures every configuration calibration timed, once
/// each, and `soft`, the portable floor, beside them.
#[test]
fn cli_bench_candidates_measures_every_configuration() {
    let out = run_cli(&[
        "bench",
        "--json",
        "--candidates",
        "--seconds",
        "0.1",
        "--threads",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let key = |x: &serde_json::Value| format!("{} {} {}", x["backend"], x["lanes"], x["kernel"]);
    let mut timed: Vec<String> = v["selection"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let simd = Backend::available()
        .into_iter()
        .filter(|&b| b != Backend::Soft)
        .map(|b| b.nonce_kernels().len() + b.version_kernels().len())
        .sum::<usize>();
    assert_eq!(timed.len(), simd, "{v}");
    let mut measured: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["backend"] != "sha2-loop" && r["backend"] != "soft")
        .map(key)
        .collect();
    timed.sort();
    measured.sort();
    assert_eq!(measured, timed);
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["backend"] == "soft"));
}

#[test]
fn cli_bench_without_version_rolling_measures_nonce_lanes() {
    let out = run_cli(&[
        "bench",
        "--json",
        "--seconds",
        "0.2",
        "--threads",
        "1",
        "--no-version-rolling",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["version_rolling"], false);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{v}");
    for r in results {
        assert_eq!(r["lanes"], "nonces", "{r}");
        assert!(r["hashrate"].as_f64().unwrap() > 0.0);
    }
}
