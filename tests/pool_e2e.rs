//! End to end: the real `noncesweep pool` binary against the test pool
//! (`tests/testpool/`), which validates every share independently. Each
//! test starts its own pool on 127.0.0.1 and a one-thread miner.

#[path = "support/run_cli.rs"]
mod run_cli;
mod testpool;

use std::io::Read;
use std::time::{Duration, Instant};

use run_cli::{spawn, Ended, Proc};

use serde_json::Value;
use testpool::{Dir, Misbehaviour, PoolConfig, SilentPool, TestPool};

const LONG: Duration = Duration::from_secs(240);

/// Start `noncesweep pool` with one thread and the given options.
fn spawn_miner(args: &[&str]) -> Proc {
    let mut all: Vec<String> = [
        "pool",
        "-t",
        "1",
        "-u",
        "tester.e2e",
        "--status-interval",
        "0.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    spawn(&all, &[])
}

/// Submits the pool received: (time, connection, params).
fn submits(pool: &TestPool) -> Vec<(Instant, u64, Vec<Value>)> {
    pool.events()
        .into_iter()
        .filter(|e| e.dir == Dir::In)
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.line).ok()?;
            (v["method"] == "mining.submit").then(|| {
                (
                    e.t,
                    e.conn,
                    v["params"].as_array().cloned().unwrap_or_default(),
                )
            })
        })
        .collect()
}

/// The pool refused nothing but stale shares, and duplicates of shares
/// whose reply was lost with a dropped connection: the miner resubmits
/// those on the resumed session, and counts a `Duplicate` answer to a
/// resubmission as the acceptance it was (a duplicate of a share sent only
/// once would be counted as rejected by the miner, which the callers'
/// `rejected == 0` check catches).
fn only_stale_rejections(pool: &TestPool) {
    for (job, reason) in pool.rejected() {
        assert!(
            reason == "Stale" || reason == "Duplicate",
            "pool rejected a share of {job}: {reason}"
        );
    }
}

/// Stop the miner with SIGTERM and check what every clean run has: a
/// summary, every share accounted for, no rejection by the client's count,
/// and only stale refusals at the pools.
fn stop_clean(m: Proc, pools: &[&TestPool]) -> Ended {
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("rejected"), 0);
    for p in pools {
        only_stale_rejections(p);
    }
    f
}

#[test]
fn two_hundred_shares_with_rolled_versions_and_no_rejects() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url(), "--max-shares", "200"]);
    let f = m.wait(LONG);
    f.assert_success();
    f.assert_accounted();
    assert!(f.count("accepted") >= 200, "{}", f.stdout);
    assert_eq!(f.count("rejected"), 0);
    let accepted = pool.accepted();
    assert!(accepted.len() >= 200);
    assert!(pool.rejected().is_empty(), "{:?}", pool.rejected());
    // Version rolling: every submit has the sixth parameter, and shares
    // with rolled (non-zero) bits were accepted.
    let subs = submits(&pool);
    assert!(subs.iter().all(|(_, _, p)| p.len() == 6));
    let rolled = accepted
        .iter()
        .filter(|a| a.version_bits.is_some_and(|b| b != 0))
        .count();
    assert!(rolled > 0, "no share with rolled version bits");
    // The fractional difficulty was honoured: no share below it.
    eprintln!(
        "pool accepted {} shares ({} with rolled version bits); client summary:\n{}",
        accepted.len(),
        rolled,
        f.stdout
    );
}

#[test]
fn without_version_rolling_no_sixth_parameter() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&[
        "-o",
        &pool.url(),
        "--max-shares",
        "5",
        "--no-version-rolling",
        "--suggest-diff",
        "0.5",
    ]);
    let f = m.wait(LONG);
    f.assert_success();
    assert!(pool.accepted().iter().all(|a| a.version_bits.is_none()));
    assert!(!pool
        .events()
        .iter()
        .any(|e| e.dir == Dir::In && e.line.contains("mining.configure")));
    assert!(pool.events().iter().any(|e| e.dir == Dir::In
        && e.line.contains("mining.suggest_difficulty")
        && e.line.contains("[0.5]")));
}

#[test]
fn clean_jobs_switch_at_once() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 5);
    let (new_job, t0) = pool.notify(true);
    pool.wait_for("shares of the new job", LONG, |p| {
        p.accepted().iter().filter(|a| a.job_id == new_job).count() >= 5
    });
    let f = stop_clean(m, &[&pool]);
    let subs = submits(&pool);
    let first_new = subs
        .iter()
        .filter(|(_, _, p)| p[1] == new_job.as_str())
        .map(|(t, _, _)| *t)
        .min()
        .expect("a share of the new job");
    let late_old: Vec<_> = subs
        .iter()
        .filter(|(t, _, p)| *t > first_new && p[1] != new_job.as_str())
        .collect();
    assert!(
        late_old.is_empty(),
        "old-job shares after the first new one: {late_old:?}"
    );
    let last_old = subs
        .iter()
        .filter(|(t, _, p)| *t >= t0 && p[1] != new_job.as_str())
        .map(|(t, _, _)| t.duration_since(t0))
        .max();
    let rate_line = f
        .stdout
        .lines()
        .find(|l| l.starts_with("hashes "))
        .unwrap_or("");
    eprintln!(
        "clean_jobs switch: first share of the new job {:.1} ms after the notify was queued \
         (one share takes ~42,950 hashes at difficulty 0.00001; miner: {rate_line}); \
         old-job shares received after the notify: {}",
        first_new.duration_since(t0).as_secs_f64() * 1e3,
        last_old.map_or("none".to_string(), |d| format!(
            "last at +{:.1} ms",
            d.as_secs_f64() * 1e3
        ))
    );
}

#[test]
fn set_extranonce_is_honoured() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    let new = pool.set_extranonce();
    assert_eq!(new.len(), 1);
    pool.notify(true);
    pool.wait_for("shares with the new extranonce1", LONG, |p| {
        p.accepted()
            .iter()
            .filter(|a| a.extranonce1 == new[0])
            .count()
            >= 5
    });
    stop_clean(m, &[&pool]);
}

#[test]
fn set_version_mask_is_honoured() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    let narrow = 0x0001_e000;
    pool.set_version_mask(narrow);
    let (job, _) = pool.notify(true);
    pool.wait_for("shares rolled within the new mask", LONG, |p| {
        p.accepted()
            .iter()
            .filter(|a| a.job_id == job && a.version_bits.is_some_and(|b| b != 0))
            .count()
            >= 5
    });
    stop_clean(m, &[&pool]);
    for a in pool.accepted().iter().filter(|a| a.job_id == job) {
        assert_eq!(a.version_bits.unwrap_or(0) & !narrow, 0);
    }
}

/// The version a submit asks the pool to hash, given the mask the pool
/// granted: `(job & !granted) | (bits & granted)` (BIP310).
fn submitted_version(pool: &TestPool, params: &[Value], granted: u32) -> (u32, u32) {
    let job = pool
        .job(params[1].as_str().expect("job id"))
        .expect("a job the pool made");
    let bits = u32::from_str_radix(params[5].as_str().expect("sixth parameter"), 16).unwrap();
    ((job.version & !granted) | (bits & granted), job.version)
}

#[test]
fn pool_granting_every_version_bit_gets_only_the_requested_ones_rolled() {
    let pool = TestPool::start(PoolConfig {
        configure_answer: Some(0xffff_ffff),
        ..PoolConfig::default()
    });
    let f = spawn_miner(&["-o", &pool.url(), "--max-shares", "30"]).wait(LONG);
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("rejected"), 0);
    assert!(pool.rejected().is_empty(), "{:?}", pool.rejected());
    let mut rolled = 0;
    let subs = submits(&pool);
    assert!(subs.len() >= 30);
    for (_, _, p) in &subs {
        let (version, job) = submitted_version(&pool, p, 0xffff_ffff);
        assert_eq!(
            version & !0x1fff_e000,
            job & !0x1fff_e000,
            "{p:?} changed bits outside 1fffe000"
        );
        rolled += usize::from(version != job);
    }
    assert!(rolled > 0, "no rolled version submitted");
    assert!(
        f.stderr.contains("rolling 1fffe000") && f.stderr.contains("granted version bits"),
        "the mask rolled is not logged:\n{}",
        f.stderr
    );
    // --version-mask narrows the request; the grant is intersected with it.
    let f = spawn_miner(&[
        "-o",
        &pool.url(),
        "--max-shares",
        "10",
        "--version-mask",
        "0x0001e000",
    ])
    .wait(LONG);
    f.assert_success();
    assert!(f.stderr.contains("rolling 0001e000"), "{}", f.stderr);
    let second = pool.connections();
    assert!(pool.events().iter().any(|e| e.conn == second
        && e.dir == Dir::In
        && e.line.contains("mining.configure")
        && e.line.contains("0001e000")));
    for (_, _, p) in submits(&pool).iter().filter(|(_, c, _)| *c == second) {
        let (version, job) = submitted_version(&pool, p, 0xffff_ffff);
        assert_eq!(version & !0x0001_e000, job & !0x0001_e000, "{p:?}");
    }
    assert!(pool.rejected().is_empty(), "{:?}", pool.rejected());
}

#[test]
fn client_reconnect_is_followed_and_session_resumed() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    pool.reconnect(0);
    pool.wait_for("a second connection", LONG, |p| p.connections() >= 2);
    pool.wait_for("shares on the new connection", LONG, |p| {
        p.accepted().iter().filter(|a| a.conn >= 2).count() >= 3
    });
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("rejected"), 0);
    assert!(f.count("connections") >= 2);
    // The second subscribe resumed the first session: one extranonce1.
    assert_eq!(pool.session_extranonces().len(), 1);
    let resumed = pool.events().iter().any(|e| {
        e.conn == 2
            && e.dir == Dir::In
            && e.line.contains("mining.subscribe")
            && e.line.contains(",\"")
    });
    assert!(resumed, "second subscribe did not ask to resume");
    only_stale_rejections(&pool);
}

#[test]
fn shares_found_while_disconnected_are_submitted_after_resume() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    pool.misbehave(Misbehaviour::DropAndStall(Duration::from_millis(1500)));
    pool.wait_for("a second connection", LONG, |p| p.connections() >= 2);
    pool.wait_for("shares on the resumed session", LONG, |p| {
        p.accepted().iter().filter(|a| a.conn >= 2).count() >= 3
    });
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("rejected"), 0);
    assert!(
        f.count("submitted after reconnect") >= 1,
        "no share was found during the 1.5 s stall:\n{}",
        f.stdout
    );
    assert_eq!(pool.session_extranonces().len(), 1, "session not resumed");
    // The 1.5 s stall is longer than the status interval: a status line
    // was logged, and the summary line follows the counts on stdout.
    assert!(
        f.stderr.contains("(5s)") && f.stderr.contains("accepted"),
        "no status line:\n{}",
        f.stderr
    );
    assert!(f.stdout.contains("summary: ran"));
    for (job, reason) in pool.rejected() {
        assert!(
            reason == "Stale" || reason == "Duplicate",
            "{job}: {reason}"
        );
    }
}

#[test]
fn killed_and_restarted_pool_no_share_lost_or_double_counted() {
    // Shares about 20 a second at 80 MH/s: the 40 the miner stops at take
    // long enough that the kill after the first 10 always comes before.
    let difficulty = 1e-3;
    let mut pool1 = TestPool::start(PoolConfig {
        difficulty,
        ..PoolConfig::default()
    });
    let port = pool1.port;
    let url = pool1.url();
    let m = spawn_miner(&["-o", &url, "--max-shares", "40", "--retry-max", "1"]);
    pool1.wait_for("first shares", LONG, |p| p.accepted().len() >= 10);
    pool1.kill();
    let before = pool1.accepted();
    std::thread::sleep(Duration::from_millis(1500));
    let pool2 = TestPool::start(PoolConfig {
        port,
        first_extranonce1: 0x2000_0000,
        difficulty,
        ..PoolConfig::default()
    });
    let f = m.wait(LONG);
    f.assert_success();
    f.assert_accounted();
    let after = pool2.accepted();
    assert!(!after.is_empty(), "no share after the restart");
    let client = f.count("accepted");
    let pool_total = (before.len() + after.len()) as u64;
    let unanswered = f.count("unanswered");
    assert!(
        pool_total >= client && pool_total - client <= unanswered,
        "pool accepted {pool_total}, client counted {client}, unanswered {unanswered}"
    );
    assert_eq!(f.count("rejected"), 0);
    for p in [&pool1, &pool2] {
        assert!(!p.rejected().iter().any(|(_, r)| r == "Duplicate"));
    }
    assert!(f.count("connections") >= 2);
    eprintln!(
        "restart: {} accepted before, {} after; client: {}",
        before.len(),
        after.len(),
        f.stdout
    );
}

#[test]
fn long_outage_pauses_hashing_until_a_pool_sends_work() {
    let difficulty = 1e-3;
    let mut pool1 = TestPool::start(PoolConfig {
        difficulty,
        ..PoolConfig::default()
    });
    let port = pool1.port;
    let m = spawn_miner(&[
        "-o",
        &pool1.url(),
        "--offline-grace",
        "1",
        "--retry-max",
        "0.5",
    ]);
    pool1.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    pool1.kill();
    let before = pool1.accepted().len();
    m.wait_stderr("the pause", LONG, |e| e.contains("hashing paused"));
    // Once paused for longer than the 5 s window, the status line's 5 s
    // rate is zero: no hashing on the stale job.
    let paused_at = m.stderr().find("hashing paused").unwrap();
    m.wait_stderr("a zero 5 s rate", LONG, |e| {
        e[paused_at..].contains("0.00 H/s (5s)")
    });
    let pool2 = TestPool::start(PoolConfig {
        port,
        first_extranonce1: 0x2000_0000,
        difficulty,
        ..PoolConfig::default()
    });
    pool2.wait_for("shares after the outage", LONG, |p| p.accepted().len() >= 3);
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("rejected"), 0);
    assert!(before >= 3);
}

#[test]
fn failover_to_backup_and_back() {
    // A port with nothing listening (yet) for the primary.
    let primary_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backup = TestPool::start(PoolConfig {
        first_extranonce1: 0x3000_0000,
        ..PoolConfig::default()
    });
    let primary_url = format!("stratum+tcp://127.0.0.1:{primary_port}");
    let m = spawn_miner(&["-o", &primary_url, "-o", &backup.url(), "--failback", "0.5"]);
    backup.wait_for("shares on the backup", LONG, |p| p.accepted().len() >= 5);
    let primary = TestPool::start(PoolConfig {
        port: primary_port,
        ..PoolConfig::default()
    });
    let t0 = Instant::now();
    primary.wait_for("shares on the primary", LONG, |p| p.accepted().len() >= 5);
    let back_after = t0.elapsed();
    stop_clean(m, &[&primary, &backup]);
    eprintln!("failback: 5 shares on the primary {back_after:?} after it came back");
}

#[test]
fn tls_with_self_signed_certificate() {
    let pool = TestPool::start(PoolConfig {
        tls: Some(testpool::self_signed_tls()),
        ..PoolConfig::default()
    });
    let url = pool.url();
    assert!(url.starts_with("stratum+ssl://"));
    let f = spawn_miner(&["-o", &url, "--tls-insecure", "--max-shares", "20"]).wait(LONG);
    f.assert_success();
    f.assert_accounted();
    assert!(f.count("accepted") >= 20);
    assert_eq!(f.count("rejected"), 0);
    let lines_before = pool.events().len();
    // Without --tls-insecure the certificate is refused and the miner stops.
    let tls_url = url.replace("stratum+ssl", "stratum+tls");
    let f = spawn_miner(&["-o", &tls_url, "--max-shares", "1"]).wait(Duration::from_secs(60));
    assert!(!f.status.success(), "accepted a self-signed certificate");
    assert!(f.stderr.contains("certificate"), "stderr:\n{}", f.stderr);
    assert!(pool.handshake_failures() >= 1);
    assert_eq!(
        pool.events().len(),
        lines_before,
        "a Stratum line got through"
    );
}

#[test]
fn refused_authorization_stops_with_a_clear_error() {
    let pool = TestPool::start(PoolConfig {
        refuse_authorize: true,
        ..PoolConfig::default()
    });
    let f =
        spawn_miner(&["-o", &pool.url(), "-p", "secret-password"]).wait(Duration::from_secs(60));
    assert!(!f.status.success());
    assert!(
        f.stderr.contains("refused to authorize"),
        "stderr:\n{}",
        f.stderr
    );
    assert!(!f.stderr.contains("secret-password"), "password logged");
}

#[test]
fn misbehaving_pool_is_survived() {
    let pool = TestPool::start(PoolConfig::default());
    let m = spawn_miner(&["-o", &pool.url()]);
    let more = |pool: &TestPool, what: &str, n: usize| {
        let have = pool.accepted().len();
        pool.wait_for(what, LONG, |p| p.accepted().len() >= have + n);
    };
    more(&pool, "first shares", 3);
    for bad in [
        Misbehaviour::Garbage,
        Misbehaviour::InvalidJson,
        Misbehaviour::WrongTypes,
        Misbehaviour::UnknownIdReply,
        Misbehaviour::TooManyBranches,
    ] {
        pool.misbehave(bad.clone());
        more(&pool, &format!("shares after {bad:?}"), 3);
    }
    // Requests from the pool are answered.
    pool.send_raw("{\"id\":\"v1\",\"method\":\"client.get_version\",\"params\":[]}\n");
    pool.send_raw("{\"id\":42,\"method\":\"mining.ping\",\"params\":[]}\n");
    pool.send_raw(
        "{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"hello miner\"]}\n",
    );
    pool.wait_for("answers to get_version and ping", LONG, |p| {
        let ev = p.events();
        ev.iter().any(|e| {
            e.dir == Dir::In && e.line.contains("\"v1\"") && e.line.contains("noncesweep/")
        }) && ev
            .iter()
            .any(|e| e.dir == Dir::In && e.line.contains("pong"))
    });
    // Slow replies: shares still go through.
    pool.misbehave(Misbehaviour::SlowReplies(Duration::from_millis(300)));
    more(&pool, "shares with slow replies", 3);
    pool.misbehave(Misbehaviour::SlowReplies(Duration::ZERO));
    // A 1 MiB line is a protocol error: the miner reconnects.
    let conns = pool.connections();
    pool.misbehave(Misbehaviour::HugeLine);
    pool.wait_for("a reconnect after the huge line", LONG, |p| {
        p.connections() > conns
    });
    more(&pool, "shares after the huge line", 3);
    // Disconnect right after a new job.
    let conns = pool.connections();
    pool.misbehave(Misbehaviour::DisconnectMidJob);
    pool.wait_for("a reconnect after the drop", LONG, |p| {
        p.connections() > conns
    });
    more(&pool, "shares after the drop", 3);
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(
        f.count("rejected"),
        0,
        "{}\npool: {:?}",
        f.stdout,
        pool.rejected()
    );
    assert!(f.count("protocol errors") >= 7, "{}", f.stdout);
    // The notify with 33 merkle branches was refused by name.
    assert!(f.stderr.contains("merkle branch of 33"), "{}", f.stderr);
    assert!(f.stderr.contains("hello miner"));
    // Submissions cut off by the drops were resubmitted on the resumed
    // session; the pool saw some twice (Duplicate) and counted them once.
    let unanswered = f.count("unanswered");
    let dups = pool
        .rejected()
        .iter()
        .filter(|(_, r)| r == "Duplicate")
        .count() as u64;
    assert!(
        dups <= unanswered,
        "{dups} duplicates, {unanswered} unanswered"
    );
    let (client, at_pool) = (f.count("accepted"), pool.accepted().len() as u64);
    assert!(
        at_pool >= client && at_pool - client <= unanswered,
        "pool {at_pool}, client {client}"
    );
    for (job, reason) in pool.rejected() {
        assert!(
            reason == "Stale" || reason == "Duplicate",
            "{job}: {reason}"
        );
    }
}

#[test]
fn sigint_prints_a_summary_exits_zero_and_never_shows_the_password() {
    let pool = TestPool::start(PoolConfig::default());
    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let miner = spawn_miner(&[
        "-o",
        &pool.url(),
        "-p",
        "pool-secret-7f3a",
        "-v",
        "--api-listen",
        &format!("127.0.0.1:{api_port}"),
    ]);
    pool.wait_for("3 accepted shares", LONG, |p| p.accepted().len() >= 3);
    // The API's config is redacted too.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", api_port)).unwrap();
    std::io::Write::write_all(&mut s, br#"{"command":"config"}"#).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(
        reply.contains("<redacted>") && !reply.contains("pool-secret-7f3a"),
        "{reply}"
    );
    let pid = libc::pid_t::try_from(miner.id()).unwrap();
    let t0 = Instant::now();
    // SAFETY: kill(2) on our own child, which has not been waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let f = miner.wait(Duration::from_secs(10));
    let took = t0.elapsed();
    assert!(f.status.success(), "exit {:?}\n{}", f.status, f.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(f.stdout.contains("summary: ran"), "{}", f.stdout);
    assert!(f.count("accepted") >= 3);
    assert!(
        !f.stdout.contains("pool-secret-7f3a") && !f.stderr.contains("pool-secret-7f3a"),
        "password shown"
    );
    eprintln!("pool stopped {took:?} after SIGINT");
}

#[test]
fn resumed_after_the_offline_pause_no_share_is_found_twice() {
    // A pool that resumes the session without sending the job again: the
    // miner goes on with the job it paused, from where it stopped.
    let pool = TestPool::start(PoolConfig {
        notify_on_resume: false,
        ..PoolConfig::default()
    });
    let m = spawn_miner(&[
        "-o",
        &pool.url(),
        "--offline-grace",
        "0.3",
        "--retry-max",
        "0.3",
    ]);
    pool.wait_for("first shares", LONG, |p| p.accepted().len() >= 10);
    pool.misbehave(Misbehaviour::Away);
    m.wait_stderr("the pause", LONG, |e| e.contains("hashing paused"));
    pool.come_back();
    pool.wait_for("shares on the resumed session", LONG, |p| {
        p.accepted().iter().filter(|a| a.conn >= 2).count() >= 10
    });
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(pool.session_extranonces().len(), 1, "session not resumed");
    // One job all along, and nothing found twice: a duplicate of a share
    // submitted once is a rejection by the miner's count; the pool may
    // only see again submissions whose answer the drop cut off.
    let jobs: std::collections::HashSet<String> =
        pool.accepted().into_iter().map(|a| a.job_id).collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(f.count("rejected"), 0, "{}", f.stdout);
    let dups = pool
        .rejected()
        .iter()
        .filter(|(_, r)| r == "Duplicate")
        .count() as u64;
    assert!(dups <= f.count("unanswered"), "{dups} duplicates");
    assert!(
        f.stderr.contains("hashing resumed where it stopped"),
        "{}",
        f.stderr
    );
    only_stale_rejections(&pool);
}

#[test]
fn failback_probes_of_a_silent_primary_never_stall_submits() {
    // The primary accepts connections and never answers. A bare TCP
    // accept must not count as "back", and probing it (every 0.2 s, each
    // probe waiting up to the 1 s timeout for a subscribe answer) must not
    // hold up the session on the backup: shares come every few
    // milliseconds at difficulty 1e-6, so a gap over 100 ms between two
    // submits would be the session thread stalled.
    let silent = SilentPool::start();
    let backup = TestPool::start(PoolConfig {
        difficulty: 1e-6,
        ..PoolConfig::default()
    });
    let m = spawn_miner(&[
        "-o",
        &silent.url(),
        "-o",
        &backup.url(),
        "--failback",
        "0.2",
        "-T",
        "1",
    ]);
    backup.wait_for("shares on the backup", LONG, |p| p.accepted().len() >= 20);
    // Connection 1 was the miner's own attempt; later ones are probes.
    let first_probe = silent.connections() + 1;
    let until = Instant::now() + LONG;
    while silent.connections() < first_probe {
        assert!(Instant::now() < until, "no probe of the primary");
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    while silent.connections() < first_probe + 3 {
        assert!(Instant::now() < until, "fewer than 4 probes");
        std::thread::sleep(Duration::from_millis(5));
    }
    let t1 = Instant::now();
    assert!(
        silent.received_on(first_probe, "mining.subscribe"),
        "the probe did not ask for a subscribe"
    );
    let f = stop_clean(m, &[&backup]);
    let times: Vec<Instant> = submits(&backup)
        .into_iter()
        .map(|(t, _, _)| t)
        .filter(|t| *t >= t0 && *t <= t1)
        .collect();
    assert!(times.len() > 20, "{} submits while probing", times.len());
    let worst = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    assert!(
        worst <= Duration::from_millis(100),
        "submits stalled {worst:?} while the primary was probed"
    );
    // Still on the backup: one connection, never moved to the silent one.
    assert_eq!(backup.connections(), 1);
    assert!(!f.stderr.contains("switching to it"), "{}", f.stderr);
    eprintln!(
        "{} probes over {:?}, {} submits, longest gap {worst:?}",
        silent.connections() - first_probe + 1,
        t1 - t0,
        times.len()
    );
}

#[test]
fn every_extranonce2_size_with_and_without_version_rolling() {
    for size in [1usize, 2, 4, 8] {
        for rolling in [true, false] {
            let pool = TestPool::start(PoolConfig {
                extranonce2_size: size,
                ..PoolConfig::default()
            });
            let mut args = vec![
                "-o".to_string(),
                pool.url(),
                "--max-shares".into(),
                "5".into(),
            ];
            if !rolling {
                args.push("--no-version-rolling".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let f = spawn_miner(&args).wait(LONG);
            f.assert_success();
            f.assert_accounted();
            assert_eq!(f.count("rejected"), 0, "size {size}");
            assert!(
                pool.rejected().is_empty(),
                "size {size}: {:?}",
                pool.rejected()
            );
            let accepted = pool.accepted();
            assert!(accepted.len() >= 5, "size {size}");
            for a in &accepted {
                assert_eq!(a.extranonce2.len(), size);
                assert_eq!(a.version_bits.is_some(), rolling, "size {size}");
            }
        }
    }
}

#[test]
fn client_reconnect_to_another_host_only_when_allowed() {
    let first = TestPool::start(PoolConfig::default());
    let second = TestPool::start(PoolConfig {
        first_extranonce1: 0x4000_0000,
        ..PoolConfig::default()
    });
    // "localhost" is another host than 127.0.0.1, and no registered
    // domain is shared with an address: refused, the miner stays.
    let m = spawn_miner(&["-o", &first.url()]);
    first.wait_for("first shares", LONG, |p| p.accepted().len() >= 3);
    first.reconnect_to("localhost", second.port, 0);
    m.wait_stderr("the refusal", LONG, |e| {
        e.contains("refusing the pool's client.reconnect")
    });
    let have = first.accepted().len();
    first.wait_for("more shares on the same connection", LONG, |p| {
        p.accepted().iter().filter(|a| a.conn == 1).count() >= have + 3
    });
    let f = stop_clean(m, &[&first]);
    assert!(f.stderr.contains("--allow-reconnect-to"), "{}", f.stderr);
    assert_eq!(first.connections(), 1);
    assert_eq!(second.connections(), 0);
    // Listed with --allow-reconnect-to: followed to the second pool.
    let m = spawn_miner(&[
        "-o",
        &first.url(),
        "--allow-reconnect-to",
        "pool.invalid,localhost",
    ]);
    first.wait_for("shares of the second miner", LONG, |p| {
        p.accepted().iter().filter(|a| a.conn == 2).count() >= 3
    });
    first.reconnect_to("localhost", second.port, 0);
    second.wait_for("shares at the second pool", LONG, |p| {
        p.accepted().len() >= 3
    });
    let f = stop_clean(m, &[&first, &second]);
    assert!(
        f.stderr.contains("pool asked us to reconnect"),
        "{}",
        f.stderr
    );
    assert_eq!(first.connections(), 2);
}

#[test]
fn pool_refusing_every_share_without_a_reason() {
    let pool = TestPool::start(PoolConfig {
        refuse_every_submit: true,
        ..PoolConfig::default()
    });
    let m = spawn_miner(&["-o", &pool.url()]);
    pool.wait_for("refused shares", LONG, |p| p.rejected().len() >= 5);
    let f = m.terminate();
    f.assert_success();
    f.assert_accounted();
    assert_eq!(f.count("accepted"), 0);
    assert!(f.count("rejected") >= 5, "{}", f.stdout);
    assert!(
        f.stdout.contains("rejected without a reason"),
        "{}",
        f.stdout
    );
    // Refusals are answers, not a broken connection: mining went on.
    assert_eq!(pool.connections(), 1);
}
