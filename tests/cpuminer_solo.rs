//! Solo mining invoked as cpuminer's GBT mode (`-o http://HOST:PORT -u -p
//! --coinbase-addr`) against a live regtest node, with the Prometheus
//! endpoint scraped while it mines. Everything about the node is in
//! [`regtest_node`]; the rest only needs its URL, credentials, an address
//! and its block count.

#[path = "support/run_cli.rs"]
mod run_cli;
#[path = "support/solo_node.rs"]
mod solo_node;

use std::time::{Duration, Instant};

use run_cli::*;

/// A regtest node ready to serve templates, and what the miner needs.
struct Node {
    url: String,
    user: String,
    password: String,
    address: String,
    blocks: Box<dyn Fn() -> u64>,
    _keep: Box<dyn std::any::Any>,
}

/// The node-specific part: start a Bitcoin Core regtest node (the harness
/// of `support/solo_node.rs`) and read what the miner needs.
fn regtest_node() -> Node {
    let node = std::rc::Rc::new(solo_node::CoreNode::start());
    let n = std::rc::Rc::clone(&node);
    Node {
        url: node.url(),
        user: solo_node::RPC_USER.into(),
        password: solo_node::RPC_PASSWORD.into(),
        address: solo_node::TestKey::new(7).p2wpkh().to_string(),
        blocks: Box::new(move || n.block_count()),
        _keep: Box::new(node),
    }
}

#[test]
fn solo_over_getblocktemplate_with_cpuminer_flags() {
    let node = regtest_node();
    let start = (node.blocks)();
    let home = tempfile::tempdir().unwrap();
    let a = vec![
        "-a".to_string(),
        "sha256d".into(),
        "-o".into(),
        node.url.clone(),
        "-u".into(),
        node.user.clone(),
        "-p".into(),
        node.password.clone(),
        "--coinbase-addr".into(),
        node.address.clone(),
        "--coinbase-sig".into(),
        "/cpuminer-style/".into(),
        "-t".into(),
        "2".into(),
        "-s".into(),
        "1".into(),
        "--no-longpoll".into(),
        "--time-limit".into(),
        "200".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
    ];
    let p = spawn(&a, &[("HOME", home.path().display().to_string())]);
    let addr = p.metrics_addr();
    let deadline = Instant::now() + Duration::from_secs(180);
    while (node.blocks)() < start + 2 {
        assert!(
            Instant::now() < deadline,
            "no 2 blocks in time; stderr:\n{}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = scrape_monotonic(&addr, 3, Duration::from_millis(1500));
    let last = &s[2];
    assert!(value(last, "noncesweep_blocks_found_total", &[]).unwrap() >= 1.0);
    assert!(value(last, "noncesweep_shares_accepted_total", &[]).unwrap() >= 1.0);
    assert_eq!(
        value(
            last,
            "noncesweep_source_up",
            &[("kind", "getblocktemplate")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(last, "noncesweep_miner_info", &[("command", "solo")]),
        Some(1.0)
    );
    let e = p.terminate();
    e.assert_success();
    assert!(e.stdout.contains("block(s) accepted"), "{}", e.stdout);
    assert!(
        e.stderr
            .contains("longpoll off: polling the node every 1.0 s"),
        "{}",
        e.stderr
    );
    assert!(
        !e.stderr.contains(&node.password),
        "the password was logged"
    );
}
