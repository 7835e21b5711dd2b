//! Running for days: the cgminer-compatible API on a running `bench`,
//! refusal of an exposed API without an allow list, graceful shutdown on
//! SIGINT, JSON logs on stderr, and config-file errors, all through the
//! real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_noncesweep"));
    c.env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn api_request(port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    assert_eq!(buf.last(), Some(&0), "cgminer replies end with NUL");
    buf.pop();
    Some(String::from_utf8(buf).unwrap())
}

fn sigint(child: &Child) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
}

#[test]
fn api_summary_from_a_running_bench() {
    let port = free_port();
    let child = bin()
        .args([
            "bench",
            "--seconds",
            "30",
            "--threads",
            "1",
            "--backend",
            "soft",
        ])
        .args(["--api-listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut mhs = 0.0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        let Some(reply) = api_request(port, r#"{"command":"summary"}"#) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["STATUS"][0]["STATUS"], "S", "{reply}");
        mhs = v["SUMMARY"][0]["MHS av"].as_f64().unwrap();
        if mhs > 0.0 {
            break;
        }
    }
    assert!(mhs > 0.0, "MHS av never became positive");
    // Plain text, combined commands, and an unknown command.
    let text = api_request(port, "summary+devs").unwrap();
    assert!(
        text.contains("SUMMARY,") && text.contains("DEVS,"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&api_request(port, r#"{"command":"addpool"}"#).unwrap()).unwrap();
    assert_eq!(v["STATUS"][0]["STATUS"], "E");
    assert!(v["STATUS"][0]["Msg"]
        .as_str()
        .unwrap()
        .contains("Invalid command"));
    let v: serde_json::Value =
        serde_json::from_str(&api_request(port, r#"{"command":"version"}"#).unwrap()).unwrap();
    assert!(v["VERSION"][0]["CGMiner"]
        .as_str()
        .unwrap()
        .starts_with("noncesweep"));
    drop(child);
}

#[test]
fn api_on_a_public_address_needs_an_allow_list() {
    let out = bin()
        .args(["bench", "--seconds", "1", "--api-listen", "0.0.0.0:4028"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--api-allow"), "{err}");
    let out = bin()
        .args([
            "bench",
            "--seconds",
            "1",
            "--api-listen",
            "0.0.0.0:4028",
            "--api-allow",
            "10.0.0.0/99",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --api-allow"));
}

#[test]
fn sigint_during_bench_prints_a_summary_and_exits_zero() {
    let mut child = bin()
        .args([
            "bench",
            "--seconds",
            "60",
            "--threads",
            "2",
            "--backend",
            "soft",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    sigint(&child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "bench did not stop within 10 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t0.elapsed();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
    assert!(err.contains("summary: ran"), "{err}");
    assert!(!err.contains("accepted"), "{err}");
    eprintln!("bench stopped {took:?} after SIGINT");
}

#[test]
fn json_logs_are_json_on_every_stderr_line() {
    let out = bin()
        .args([
            "--log-format",
            "json",
            "bench",
            "--seconds",
            "1.2",
            "--status-interval",
            "1",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let mut lines = 0;
    for line in BufReader::new(err.as_bytes()).lines() {
        let line = line.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines >= 2, "{err}");
    assert!(
        err.contains("MH/s (5s)") || err.contains("H/s (5s)"),
        "no status line: {err}"
    );
    // A benchmark has no shares: its status line shows none.
    assert!(
        !err.contains("accepted") && !err.contains("blocks"),
        "share counts in a benchmark's status line: {err}"
    );
    // An error, too, is a JSON line.
    let out = bin()
        .args(["--log-format", "json", "remine", "--header", "00"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn config_file_options_and_unknown_keys() {
    let dir = std::env::temp_dir().join(format!("noncesweep-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "threads = 1\nbackend = \"soft\"\n[bench]\nseconds = 0.3\njson = true\n",
    )
    .unwrap();
    let out = bin()
        .args(["--config", good.to_str().unwrap(), "bench"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["threads"] == 1),
        "threads = 1 from the file"
    );
    assert!(results.iter().any(|r| r["backend"] == "soft"));
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[bench]\nsecond = 2\n").unwrap();
    let out = bin()
        .args(["--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"second\"") && err.contains("[bench]"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
