//! Stratum V2 end to end: the real `noncesweep` binary against the SRI's
//! own pool role (`pool_sv2` from crates.io) fed with templates by a
//! regtest Bitcoin Core over IPC, both started by `scripts/sv2-pool.sh`.
//! What the pool accepted and what reached the chain are read from the
//! pool's node with `bitcoin-cli`, not from the miner.
//!
//! On regtest every share the pool asks for also meets the block target,
//! so each accepted share is a block the pool submits to Core.

#[path = "support/run_cli.rs"]
mod run_cli;
#[path = "support/sv2_pool.rs"]
mod sv2_pool;

use std::time::Duration;

use run_cli::spawn;
use sv2_pool::Sv2Pool;

/// BIP173's regtest P2WPKH test vector: the pool's solo mode pays blocks
/// mined with `-u ADDRESS.worker` to it.
const ADDRESS: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const SCRIPT: &str = "0014751e76e8199196d454941c45d1b3a323f1433bd6";

/// The key of the SRI's example configurations: a valid key that is not
/// the test pool's (its key is made fresh at every start).
const OTHER_KEY: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Blocks above `from` whose coinbase pays [`SCRIPT`], with their versions.
fn our_blocks(pool: &Sv2Pool, from: u64) -> Vec<u32> {
    let tip = pool.block_count();
    (from + 1..=tip)
        .map(|h| pool.block_at(h))
        .filter(|b| {
            b["tx"][0]["vout"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["scriptPubKey"]["hex"] == SCRIPT)
        })
        .map(|b| b["version"].as_u64().unwrap() as u32)
        .collect()
}

fn mine(url: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "pool",
        "-o",
        url,
        "-u",
        &format!("{ADDRESS}.sv2test"),
        "-t",
        "1",
    ]);
    a.extend(args(extra));
    a
}

#[test]
fn shares_accepted_and_blocks_found_through_the_real_pool_on_an_extended_channel() {
    let pool = Sv2Pool::start();
    let height = pool.block_count();
    let e = spawn(&mine(&pool.url, &["--max-shares", "6"]), &[]).wait(Duration::from_secs(180));
    e.assert_success();
    assert!(e.count("accepted") >= 6, "{}", e.stdout);
    assert_eq!(e.count("rejected"), 0, "{}\n{}", e.stdout, e.stderr);
    e.assert_accounted();
    assert!(e.stderr.contains("kind=\"extended\""), "{}", e.stderr);
    assert!(e.stderr.contains("version_rolling=true"), "{}", e.stderr);
    // The blocks reached Core: each pays our address, and there are as
    // many as the miner counted accepted blocks.
    let versions = our_blocks(&pool, height);
    assert!(
        !versions.is_empty(),
        "no block paying {ADDRESS} above {height}"
    );
    assert_eq!(versions.len() as u64, e.count("blocks"), "{}", e.stdout);
    // Version rolling on the extended channel: only BIP320's bits move,
    // and they did move.
    for v in &versions {
        assert_eq!(v & !0x1fff_e000, 0x2000_0000, "version {v:08x}");
    }
    assert!(
        versions.iter().any(|v| v & 0x1fff_e000 != 0),
        "no block with rolled version bits: {versions:08x?}"
    );
}

#[test]
fn a_wrong_announced_hash_rate_is_corrected_with_update_channel() {
    let pool = Sv2Pool::start();
    // 1 EH/s announced: the pool's first target asks for about 2^61 hashes
    // per share, years of this CPU. After 2 s the measured rate differs by
    // far more than half, is sent with UpdateChannel, and the pool's
    // SetTarget brings shares within reach again.
    let e = spawn(
        &mine(
            &pool.url,
            &[
                "--sv2-hash-rate",
                "1EH/s",
                "--sv2-rate-check",
                "2",
                "--max-shares",
                "2",
            ],
        ),
        &[],
    )
    .wait(Duration::from_secs(120));
    e.assert_success();
    assert!(e.stderr.contains("sent UpdateChannel"), "{}", e.stderr);
    assert!(e.stderr.contains("new share target"), "{}", e.stderr);
    assert!(e.count("accepted") >= 2, "{}", e.stdout);
    assert_eq!(e.count("rejected"), 0, "{}\n{}", e.stdout, e.stderr);
    e.assert_accounted();
}

#[test]
fn a_pool_whose_key_differs_is_refused_with_a_clear_error() {
    let pool = Sv2Pool::start();
    let e = spawn(&mine(&pool.url_with_key(OTHER_KEY), &[]), &[]).wait(Duration::from_secs(60));
    e.assert_refused("not signed by the authority key");
    // No key at all: refused before connecting, saying how to give one.
    let e = spawn(&mine(&pool.url_without_key(), &[]), &[]).wait(Duration::from_secs(60));
    e.assert_refused("--sv2-authority-key");
}

#[test]
fn a_standard_channel_mines_header_only_with_the_key_given_apart() {
    let pool = Sv2Pool::start();
    let height = pool.block_count();
    let e = spawn(
        &mine(
            &pool.url_without_key(),
            &[
                "--sv2-authority-key",
                pool.key(),
                "--sv2-channel",
                "standard",
                "--max-shares",
                "3",
            ],
        ),
        &[],
    )
    .wait(Duration::from_secs(180));
    e.assert_success();
    assert!(e.stderr.contains("kind=\"standard\""), "{}", e.stderr);
    assert!(e.count("accepted") >= 3);
    e.assert_accounted();
    assert!(!our_blocks(&pool, height).is_empty());
}

#[test]
fn the_pool_killed_and_restarted_loses_and_double_counts_nothing() {
    let pool = Sv2Pool::start();
    let height = pool.block_count();
    let p = spawn(&mine(&pool.url, &["--retry-max", "1"]), &[]);
    p.wait_stderr("two accepted shares", Duration::from_secs(120), |s| {
        s.matches("accepted: ").count() >= 2
    });
    pool.script("kill-pool");
    p.wait_stderr("the lost connection", Duration::from_secs(60), |s| {
        s.contains("connection lost") || s.contains("closed the connection")
    });
    std::thread::sleep(Duration::from_secs(2));
    pool.script("start-pool");
    p.wait_stderr("a second channel", Duration::from_secs(120), |s| {
        s.matches("channel open").count() >= 2
    });
    let before = p.stderr().matches("accepted: ").count();
    p.wait_stderr("shares after the restart", Duration::from_secs(120), |s| {
        s.matches("accepted: ").count() >= before + 2
    });
    let e = p.terminate();
    e.assert_success();
    e.assert_accounted();
    assert!(e.count("connections") >= 2, "{}", e.stdout);
    // Each accepted block is in the chain once, no more, no less.
    assert_eq!(
        our_blocks(&pool, height).len() as u64,
        e.count("blocks"),
        "summary:\n{}",
        e.stdout
    );
}

#[test]
fn one_url_list_mixes_stratum_v1_and_v2() {
    let pool = Sv2Pool::start();
    // A v1 pool that is not there, then the v2 pool.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("stratum+tcp://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut a = mine(&dead_url, &["--max-shares", "2"]);
    a.extend(args(&["-o", &pool.url]));
    let e = spawn(&a, &[]).wait(Duration::from_secs(180));
    e.assert_success();
    assert!(e.count("accepted") >= 2);
    e.assert_accounted();
    let row = e
        .stdout
        .lines()
        .find(|l| l.starts_with("pool stratum2+tcp://"))
        .unwrap_or_else(|| panic!("no v2 pool row:\n{}", e.stdout));
    assert!(!row.contains("accepted 0 "), "{row}");
}
