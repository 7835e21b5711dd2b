//! Test support for running the real `noncesweep` binary in the background:
//! its output collected as it comes, a deadline on every wait, SIGTERM for
//! the Ctrl-C path, and scraping its Prometheus endpoint with an
//! independent parser (`prometheus-parse`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running `noncesweep`.
pub struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// How a run ended.
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

/// Start the binary with `args` and extra environment variables.
pub fn spawn(args: &[String], env: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_noncesweep"));
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env_remove("NONCESWEEP_POOL_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn noncesweep");
    let out = Arc::new(Mutex::new(String::new()));
    let err = Arc::new(Mutex::new(String::new()));
    let readers = vec![
        collect(child.stdout.take().unwrap(), Arc::clone(&out)),
        collect(child.stderr.take().unwrap(), Arc::clone(&err)),
    ];
    Proc {
        child,
        out,
        err,
        readers,
    }
}

/// Run the binary to its end (at most `limit`).
pub fn run(args: &[String], limit: Duration) -> Ended {
    spawn(args, &[]).wait(limit)
}

/// Arguments from a whitespace-separated string.
pub fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

impl Proc {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Wait until stderr satisfies `f`; panic with the output after `limit`.
    pub fn wait_stderr(&self, what: &str, limit: Duration, f: impl Fn(&str) -> bool) -> String {
        self.wait_output(what, limit, |_, e| f(e));
        self.stderr()
    }

    /// Wait until (stdout, stderr) satisfy `f`; panic with both after `limit`.
    pub fn wait_output(&self, what: &str, limit: Duration, f: impl Fn(&str, &str) -> bool) {
        let until = Instant::now() + limit;
        loop {
            let (o, e) = (self.stdout(), self.stderr());
            if f(&o, &e) {
                return;
            }
            assert!(
                Instant::now() < until,
                "no {what} in {limit:?}; stdout:\n{o}\nstderr:\n{e}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address the metrics endpoint bound (read from its log line).
    pub fn metrics_addr(&self) -> String {
        let e = self.wait_stderr("metrics address", Duration::from_secs(120), |e| {
            e.contains("Prometheus metrics at http://")
        });
        let rest = e.split("Prometheus metrics at http://").nth(1).unwrap();
        rest.split("/metrics").next().unwrap().to_string()
    }

    /// Wait for the process to end; kill it and fail after `limit`.
    pub fn wait(mut self, limit: Duration) -> Ended {
        let until = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "noncesweep did not end in {limit:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = self.out.lock().unwrap().clone();
        let stderr = self.err.lock().unwrap().clone();
        Ended {
            status,
            stdout,
            stderr,
        }
    }

    /// SIGTERM (the Ctrl-C path), then wait for the end.
    pub fn terminate(self) -> Ended {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) only sends a signal; `pid` is our own child,
        // not yet waited for, so the id is not reused.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        self.wait(Duration::from_secs(60))
    }
}

impl Ended {
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "noncesweep failed ({:?}); stdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }

    /// A `key N` line of a mining command's summary (`accepted 5`).
    pub fn count(&self, key: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no {key:?} in summary:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            })
    }

    /// Every share found is settled exactly once: accepted, rejected or
    /// stale.
    pub fn assert_accounted(&self) {
        let found = self.count("shares found");
        let settled = self.count("accepted") + self.count("rejected") + self.count("stale");
        assert_eq!(
            found, settled,
            "summary:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }

    /// The run failed with `want` in its error.
    pub fn assert_refused(&self, want: &str) {
        assert!(
            !self.status.success(),
            "expected a refusal ({want}); stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains(want),
            "expected {want:?} in stderr:\n{}",
            self.stderr
        );
    }
}

/// `GET /metrics` from `addr`, parsed with `prometheus-parse`.
pub fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("a valid Prometheus exposition")
}

/// The value of `metric` whose labels include all of `labels`.
pub fn value(s: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{metric} is not a number"),
        })
}

/// Every counter of `s` as (metric, labels) -> value.
pub fn counters(s: &prometheus_parse::Scrape) -> Vec<(String, f64)> {
    s.samples
        .iter()
        .filter_map(|x| match x.value {
            prometheus_parse::Value::Counter(v) => {
                let mut labels: Vec<String> =
                    x.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                labels.sort();
                Some((format!("{}{{{}}}", x.metric, labels.join(",")), v))
            }
            _ => None,
        })
        .collect()
}

/// Scrape `addr` `n` times, `gap` apart, and check that no counter ever
/// goes down (a counter may appear, never disappear). Returns the scrapes.
pub fn scrape_monotonic(addr: &str, n: usize, gap: Duration) -> Vec<prometheus_parse::Scrape> {
    let mut scrapes: Vec<prometheus_parse::Scrape> = Vec::new();
    for _ in 0..n {
        let s = scrape(addr);
        if let Some(prev) = scrapes.last() {
            let now = counters(&s);
            for (name, before) in counters(prev) {
                let after = now
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
                    .unwrap_or_else(|| panic!("counter {name} disappeared"));
                assert!(
                    after >= before,
                    "counter {name} went down: {before} -> {after}"
                );
            }
        }
        scrapes.push(s);
        std::thread::sleep(gap);
    }
    scrapes
}
