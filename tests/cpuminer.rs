//! The real binary invoked as cpuminer is: `--benchmark` and its `Total:`
//! lines, pool mining with `-a/-o/-u/-p` against the test pool
//! (`tests/testpool/`), a cpuminer JSON config, every unsupported
//! algorithm and flag refused by name; and the Prometheus endpoint scraped
//! while it mines, parsed with an independent parser.

#[path = "support/run_cli.rs"]
mod run_cli;
mod testpool;

use std::io::{Read, Write};
use std::time::Duration;

use run_cli::*;
use testpool::{PoolConfig, TestPool};

const LONG: Duration = Duration::from_secs(240);

/// Lines ending in cpuminer's `Total: N.NN MH/s`, as their rates.
fn totals(stderr: &str) -> Vec<f64> {
    stderr
        .lines()
        .filter_map(|l| {
            let v = l.trim_end().split("Total: ").nth(1)?;
            let n = v.strip_suffix(" MH/s")?;
            let (int, frac) = n.split_once('.')?;
            (frac.len() == 2 && int.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<f64>().ok())
                .flatten()
        })
        .collect()
}

#[test]
fn benchmark_with_time_limit_prints_total_lines_and_stops() {
    let e = run(&args("--benchmark --time-limit 3 -t 1"), LONG);
    e.assert_success();
    let t = totals(&e.stderr);
    assert!(!t.is_empty(), "no Total line:\n{}", e.stderr);
    assert!(t.iter().all(|&r| r > 0.0), "{t:?}");
    assert!(
        e.stderr.contains("--time-limit of 3 s reached"),
        "{}",
        e.stderr
    );
    // A report every -s seconds, each thread's line before the total; -q
    // keeps the totals and drops the per-thread lines.
    let e = run(
        &args("--benchmark --time-limit 3 -t 2 -s 1 --algo sha256d"),
        LONG,
    );
    e.assert_success();
    assert!(totals(&e.stderr).len() >= 2, "{}", e.stderr);
    assert!(e.stderr.contains("CPU #1: "), "{}", e.stderr);
    let e = run(&args("--benchmark --time-limit 2 -t 1 -s 1 -q"), LONG);
    e.assert_success();
    assert!(!totals(&e.stderr).is_empty(), "{}", e.stderr);
    assert!(!e.stderr.contains("CPU #0"), "{}", e.stderr);
}

#[test]
fn no_arguments_still_run_the_benchmark_table() {
    // `cargo run --release` is the README's first command.
    let p = spawn(&[], &[]);
    p.wait_output("the benchmark table", LONG, |out, _| {
        out.contains("noncesweep bench: ")
            && out
                .lines()
                .any(|l| l.trim_start().starts_with("sha2-loop "))
    });
    let e = p.terminate();
    e.assert_success();
    assert!(e.stdout.contains("backend    threads"), "{}", e.stdout);
}

#[test]
fn benchmark_serves_metrics_and_the_cgminer_api_with_cpuminer_flags() {
    let p = spawn(
        &args("--benchmark --time-limit 60 -t 2 -a sha256 --metrics-listen 127.0.0.1:0 -b 127.0.0.1:0 --cpu-affinity 0x1 --cpu-priority 0"),
        &[],
    );
    let addr = p.metrics_addr();
    // --cpu-priority 0 (idle) is niceness 19; --cpu-affinity 0x1 put both
    // workers on CPU 0.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.id())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[16], "19", "niceness in {stat}");
    let on_cpu0 = std::fs::read_dir(format!("/proc/{}/task", p.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .filter(|st| {
            st.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Cpus_allowed_list:", "0"])
        })
        .count();
    assert!(on_cpu0 >= 2, "{on_cpu0} thread(s) pinned to CPU 0");
    let scrapes = scrape_monotonic(&addr, 5, Duration::from_millis(600));
    let (first, last) = (&scrapes[0], &scrapes[4]);
    let hashes = |s| value(s, "noncesweep_hashes_total", &[]).expect("hash counter");
    assert!(
        hashes(last) > hashes(first),
        "the hash counter did not grow"
    );
    assert!(value(
        last,
        "noncesweep_thread_hashrate_hashes_per_second",
        &[("thread", "1")]
    )
    .is_some());
    assert!(value(last, "noncesweep_hashrate_hashes_per_second", &[]).unwrap() > 0.0);
    assert_eq!(
        value(
            last,
            "noncesweep_miner_info",
            &[("command", "benchmark"), ("lanes", "versions")]
        ),
        Some(1.0)
    );
    assert!(value(last, "noncesweep_uptime_seconds", &[]).unwrap() > 0.0);
    assert_eq!(
        value(last, "noncesweep_source_up", &[("kind", "benchmark")]),
        Some(1.0)
    );
    // -b HOST:PORT started the cgminer API.
    let e = p.wait_stderr("API address", Duration::from_secs(30), |e| {
        e.contains("monitoring API listening")
    });
    let api = e
        .lines()
        .find(|l| l.contains("monitoring API listening"))
        .and_then(|l| l.split("addr=").nth(1))
        .unwrap()
        .trim()
        .to_string();
    let mut s = std::net::TcpStream::connect(&api).unwrap();
    s.write_all(b"summary").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("SUMMARY,"), "{reply}");
    let e = p.terminate();
    e.assert_success();
}

#[test]
fn metrics_while_the_benchmark_table_runs() {
    let p = spawn(
        &args("bench --seconds 2 -t 1 --metrics-listen 127.0.0.1:0"),
        &[],
    );
    let addr = p.metrics_addr();
    let s = scrape_monotonic(&addr, 3, Duration::from_millis(500));
    assert!(value(&s[2], "noncesweep_hashes_total", &[]).unwrap() > 0.0);
    assert_eq!(
        value(&s[2], "noncesweep_miner_info", &[("command", "bench")]),
        Some(1.0)
    );
    p.wait(LONG).assert_success();
    // Not loopback and no --api-allow: refused before anything runs.
    run(
        &args("bench --seconds 0.1 --metrics-listen 0.0.0.0:0"),
        LONG,
    )
    .assert_refused("--metrics-listen 0.0.0.0:0 is not loopback");
}

#[test]
fn pool_mining_with_cpuminer_flags_and_scraped_metrics() {
    let pool = TestPool::start(PoolConfig::default());
    let a = vec![
        "-a".to_string(),
        "sha256d".into(),
        "-o".into(),
        pool.url(),
        "-O".into(),
        "tester.cpuminer:x".into(),
        "-t".into(),
        "1".into(),
        "-T".into(),
        "60".into(),
        "--time-limit".into(),
        "200".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
    ];
    let p = spawn(&a, &[]);
    let addr = p.metrics_addr();
    pool.wait_for("3 accepted shares", LONG, |p| p.accepted().len() >= 3);
    let s = scrape_monotonic(&addr, 4, Duration::from_millis(500));
    let last = &s[3];
    assert!(value(last, "noncesweep_shares_accepted_total", &[]).unwrap() >= 1.0);
    assert_eq!(
        value(last, "noncesweep_source_up", &[("kind", "stratum")]),
        Some(1.0)
    );
    assert!(value(last, "noncesweep_difficulty", &[]).unwrap() > 0.0);
    assert!(value(last, "noncesweep_best_share_difficulty", &[]).unwrap() > 0.0);
    assert_eq!(
        value(last, "noncesweep_miner_info", &[("command", "pool")]),
        Some(1.0)
    );
    let e = p.terminate();
    e.assert_success();
    assert!(e.stdout.contains("accepted "), "{}", e.stdout);
    // The pool saw the user given with -O.
    assert!(pool
        .events()
        .iter()
        .any(|ev| ev.line.contains("mining.authorize") && ev.line.contains("tester.cpuminer")));
}

#[test]
fn retries_give_up_when_no_pool_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = run(
        &args(&format!(
            "-o stratum+tcp://127.0.0.1:{port} -u x -t 1 -r 1 -R 1"
        )),
        LONG,
    );
    e.assert_refused("gave up: no pool or node answered");
}

#[test]
fn cpuminer_json_config_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cpuminer.json");
    std::fs::write(
        &cfg,
        r#"{ "algo": "sha256d", "benchmark": true, "time-limit": 2, "threads": 1, "scantime": 1, "quiet": false, "cpu-affinity": "0x1", "log-format": "json" }"#,
    )
    .unwrap();
    let path = cfg.display().to_string();
    let e = run(&args(&format!("-c {path}")), LONG);
    e.assert_success();
    // JSON logs (noncesweep's own key): the Total line is a JSON message.
    let total = e
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["message"].as_str().map(String::from))
        .find(|m| m.starts_with("Total: "));
    assert!(
        total.is_some_and(|m| !totals(&m).is_empty()),
        "{}",
        e.stderr
    );
    // A flag on the command line wins over the file's key.
    let e = run(&args(&format!("--config {path} --time-limit 1 -t 2")), LONG);
    e.assert_success();
    assert!(
        e.stderr.contains("--time-limit of 1 s reached"),
        "{}",
        e.stderr
    );
    assert!(e.stderr.contains("CPU #1"), "{}", e.stderr);
    for (text, want) in [
        (
            r#"{"proxy": "socks5://x:1", "benchmark": true}"#,
            "--proxy is not supported",
        ),
        (
            r#"{"algo": "scrypt", "benchmark": true}"#,
            "unsupported algorithm \"scrypt\"",
        ),
        (r#"{"thredas": 2}"#, "unknown key \"thredas\""),
        (r#"{"benchmark": true,"#, "is not valid JSON"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        run(&args(&format!("-c {path}")), LONG).assert_refused(want);
    }
    std::fs::write(&cfg, r#"{"threads": 1}"#).unwrap();
    run(&args(&format!("bench -c {path}")), LONG).assert_refused("works only without a command");
}

#[test]
fn unsupported_algorithms_and_flags_are_refused_by_name() {
    for algo in ["scrypt", "x11", "yescrypt", "sha256t", "neoscrypt"] {
        let e = run(&args(&format!("-a {algo} --benchmark")), LONG);
        e.assert_refused(&format!("unsupported algorithm \"{algo}\""));
        assert!(
            e.stderr.contains("supported: sha256d, sha256"),
            "{}",
            e.stderr
        );
    }
    // (flag as given, name in the error)
    let refused: &[(&str, &str)] = &[
        ("-x socks5://127.0.0.1:1", "-x/--proxy"),
        ("--proxy socks5://127.0.0.1:1", "-x/--proxy"),
        ("--cert pool.pem", "--cert"),
        ("-f 2", "-f/--diff-factor"),
        ("--diff 2", "--diff "),
        ("-m 2", "-m/--diff-multiplier"),
        ("--no-gbt", "--no-gbt"),
        ("--no-extranonce", "--no-extranonce"),
        ("--randomize", "--randomize"),
        ("--hide-diff", "--hide-diff"),
        ("-S", "-S/--syslog"),
        ("-B", "-B/--background"),
        ("--cputest", "--cputest"),
        ("--api-remote", "--api-remote"),
        ("--max-temp 80", "--max-temp"),
        ("--max-rate 1G", "--max-rate"),
        ("--max-diff 5", "--max-diff"),
        ("-N 1024", "-N/--param-n"),
        ("--param-r 8", "--param-r"),
        ("-K key", "-K/--param-key"),
        ("--key key", "--key"),
        ("--stratum-keepalive", "--stratum-keepalive"),
        ("--data-file f", "--data-file"),
        ("--verify", "--verify"),
    ];
    for (flag, name) in refused {
        let e = run(
            &args(&format!("-o stratum+tcp://127.0.0.1:1 -u x {flag}")),
            LONG,
        );
        e.assert_refused(&format!("cpuminer's {name}"));
        assert!(e.stderr.contains("is not supported: "), "{}", e.stderr);
    }
    // cpuminer's flags belong to no command; the commands are unchanged.
    run(
        &args("pool -a sha256d -o stratum+tcp://127.0.0.1:1 -u x"),
        LONG,
    )
    .assert_refused("unexpected argument '-a'");
    // Flags that need a URL, and URL kinds that cannot be mined.
    run(&args("-u someone"), LONG).assert_refused("no -o URL");
    run(&args("-o https://127.0.0.1:1 --coinbase-addr x"), LONG).assert_refused("plain http://");
    run(&args("-o http://127.0.0.1:1"), LONG).assert_refused("needs --coinbase-addr");
    run(&args("-o stratum+tcp://127.0.0.1:1"), LONG).assert_refused("needs -u USER");
    run(&args("--benchmark --cpu-affinity 0x10000000000"), LONG)
        .assert_refused("--cpu-affinity names CPU 40");
    run(&args("--benchmark --cpu-priority 9"), LONG).assert_refused("--cpu-priority must be");
}
