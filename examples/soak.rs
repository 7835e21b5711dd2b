//! Soak test, run by hand (`scripts/soak.sh`): the real `noncesweep pool`
//! binary mines against the test pool (`tests/testpool/`, which validates
//! every share on its own) for a number of minutes while a fault is
//! injected every ~30 s: disconnects, garbage and invalid lines, a 1 MiB
//! line, wrong types, slow replies, stalls and clean_jobs bursts. At the
//! end it reports shares found, accepted, stale and lost (found but never
//! answered: must be 0) and the miner's peak resident memory.

#[path = "../tests/testpool/mod.rs"]
mod testpool;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testpool::{Misbehaviour, PoolConfig, TestPool};

/// A named fault the pool can be told to commit.
type Fault = (&'static str, Box<dyn Fn(&TestPool)>);

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(default)
}

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn count(summary: &str, label: &str) -> u64 {
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix(label).map(str::trim))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in the miner's summary:\n{summary}"))
}

fn main() {
    let minutes = arg("--minutes", 10.0);
    let every = Duration::from_secs_f64(arg("--fault-every", 30.0));
    let difficulty = arg("--difficulty", 0.002);
    let threads = arg("--threads", 2.0) as usize;
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("noncesweep"))
        .filter(|p| p.exists())
        .expect("build the binary first: cargo build --release --bins --examples");

    let pool = TestPool::start(PoolConfig {
        difficulty,
        ..PoolConfig::default()
    });
    let mut child = Command::new(&bin)
        .args([
            "pool",
            "-o",
            &pool.url(),
            "-u",
            "soak.worker",
            "--status-interval",
            "60",
        ])
        .args([
            "--threads",
            &threads.to_string(),
            "--retry-max",
            "2",
            "-T",
            "20",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the miner");
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let faults: Vec<Fault> = vec![
        (
            "disconnect mid-job",
            Box::new(|p| p.misbehave(Misbehaviour::DisconnectMidJob)),
        ),
        (
            "garbage line",
            Box::new(|p| p.misbehave(Misbehaviour::Garbage)),
        ),
        (
            "clean_jobs burst",
            Box::new(|p| {
                for _ in 0..5 {
                    p.notify(true);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }),
        ),
        (
            "slow replies (3 s)",
            Box::new(|p| {
                p.misbehave(Misbehaviour::SlowReplies(Duration::from_secs(3)));
                std::thread::sleep(Duration::from_secs(10));
                p.misbehave(Misbehaviour::SlowReplies(Duration::ZERO));
            }),
        ),
        (
            "invalid JSON",
            Box::new(|p| p.misbehave(Misbehaviour::InvalidJson)),
        ),
        (
            "1 MiB line",
            Box::new(|p| p.misbehave(Misbehaviour::HugeLine)),
        ),
        (
            "wrong types",
            Box::new(|p| p.misbehave(Misbehaviour::WrongTypes)),
        ),
        (
            "reply to an unknown id",
            Box::new(|p| p.misbehave(Misbehaviour::UnknownIdReply)),
        ),
        (
            "drop and stall (4 s)",
            Box::new(|p| p.misbehave(Misbehaviour::DropAndStall(Duration::from_secs(4)))),
        ),
        (
            "new difficulty",
            Box::new(move |p| p.set_difficulty(difficulty * 1.5)),
        ),
    ];

    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(minutes * 60.0);
    let mut peak_rss = 0u64;
    let mut injected = Vec::new();
    let mut next_fault = t0 + every;
    let mut i = 0;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        peak_rss = peak_rss.max(memory_kib(pid).1);
        if Instant::now() >= next_fault {
            let (name, f) = &faults[i % faults.len()];
            println!("[{:>6.1} s] fault: {name}", t0.elapsed().as_secs_f64());
            f(&pool);
            injected.push(*name);
            i += 1;
            next_fault = Instant::now() + every;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the miner exited early ({status}):\n{}",
                err.join().unwrap()
            );
        }
    }
    let (hwm, _) = memory_kib(pid);
    // SAFETY: kill(2) on the child we spawned, with SIGINT.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    let summary = out.join().unwrap();
    let log = err.join().unwrap();
    let found = count(&summary, "shares found");
    let accepted = count(&summary, "accepted");
    let rejected = count(&summary, "rejected");
    let stale = count(&summary, "stale");
    let unanswered = count(&summary, "unanswered");
    let lost = found.saturating_sub(accepted + rejected + stale);
    let pool_accepted = pool.accepted().len() as u64;
    println!(
        "\nsoak: {minutes} min, {} faults injected, miner exit {status}",
        injected.len()
    );
    println!("shares found {found}, accepted {accepted} (pool counted {pool_accepted}), rejected {rejected}, stale {stale}, unanswered {unanswered}, lost {lost}");
    println!("peak RSS {} KiB (VmHWM {} KiB)", peak_rss.max(hwm), hwm);
    println!("panics in the log: {}", log.matches("panicked").count());
    assert!(status.success(), "miner exit {status}");
    assert_eq!(lost + unanswered, 0, "shares were lost");
    assert_eq!(rejected, 0, "the pool rejected shares");
    assert!(
        pool_accepted >= accepted.saturating_sub(unanswered),
        "pool and miner disagree"
    );
}
