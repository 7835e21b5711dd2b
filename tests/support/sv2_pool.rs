//! Test support for the real Stratum V2 pool: the SRI pool role fed by a
//! regtest Bitcoin Core over IPC, started and stopped with
//! `scripts/sv2-pool.sh` (the script people use too), one pair per test in
//! a scratch folder of its own. The node is asked about blocks with its own
//! `bitcoin-cli`, independently of the miner under test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One running pool + node pair.
pub struct Sv2Pool {
    dir: tempfile::TempDir,
    /// `stratum2+tcp://127.0.0.1:PORT/KEY`
    pub url: String,
    pub log: PathBuf,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sv2-pool.sh")
}

fn sh(args: &[&str], dir: &Path, extra: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(args).arg(dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run scripts/sv2-pool.sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Sv2Pool {
    /// Start a fresh pair (regtest node with 101+ blocks, pool with a
    /// template), with `env` for the script (its settings, or the pool's
    /// `POOL__*` overrides).
    pub fn start_with(env: &[(&str, &str)]) -> Sv2Pool {
        let dir = tempfile::Builder::new()
            .prefix("sv2-pool-")
            .tempdir()
            .expect("scratch dir");
        let (ok, out, err) = sh(&["start"], dir.path(), env);
        assert!(ok, "scripts/sv2-pool.sh start failed:\n{out}\n{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() >= 2, "start printed:\n{out}");
        let url = lines[lines.len() - 1].to_string();
        let log = PathBuf::from(lines[lines.len() - 2]);
        assert!(url.starts_with("stratum2+tcp://127.0.0.1:"), "{url}");
        let env_text = std::fs::read_to_string(dir.path().join("sv2-pool.env")).unwrap();
        let env = env_text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sv2Pool { dir, url, log, env }
    }

    pub fn start() -> Sv2Pool {
        // Acknowledge every share on its own, so counts settle at once.
        Sv2Pool::start_with(&[("POOL__SHARE_BATCH_SIZE", "1")])
    }

    pub fn env(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("sv2-pool.env has no {key}"))
    }

    /// The pool's URL with another authority key.
    pub fn url_with_key(&self, key: &str) -> String {
        let (base, _) = self.url.rsplit_once('/').unwrap();
        format!("{base}/{key}")
    }

    /// The URL without its key (for `--sv2-authority-key`).
    pub fn url_without_key(&self) -> String {
        self.url.rsplit_once('/').unwrap().0.to_string()
    }

    pub fn key(&self) -> &str {
        self.url.rsplit_once('/').unwrap().1
    }

    pub fn pool_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Run a script subcommand on this pair (`kill-pool`, `start-pool`, ...).
    pub fn script(&self, cmd: &str) -> String {
        let (ok, out, err) = sh(&[cmd], self.dir.path(), &[("POOL__SHARE_BATCH_SIZE", "1")]);
        assert!(ok, "sv2-pool.sh {cmd} failed:\n{out}\n{err}");
        out
    }

    /// `bitcoin-cli` against the pair's node.
    pub fn cli(&self, args: &[&str]) -> Value {
        let out = Command::new("bash")
            .arg(script())
            .arg("cli")
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("bitcoin-cli");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "bitcoin-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.trim().into()))
    }

    pub fn block_count(&self) -> u64 {
        self.cli(&["getblockcount"]).as_u64().unwrap()
    }

    /// The block at `height`, verbosity 2 (transactions decoded).
    pub fn block_at(&self, height: u64) -> Value {
        let hash = self.cli(&["getblockhash", &height.to_string()]);
        self.cli(&["getblock", hash.as_str().unwrap(), "2"])
    }
}

impl Drop for Sv2Pool {
    fn drop(&mut self) {
        let (ok, out, err) = sh(&["stop"], self.dir.path(), &[]);
        if !ok {
            eprintln!("sv2-pool.sh stop failed:\n{out}\n{err}");
        }
    }
}
