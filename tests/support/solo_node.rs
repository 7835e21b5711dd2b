//! Test harness for solo mining: real Bitcoin Core regtest nodes, built
//! from the source the `bitcoinkernel` dev-dependency vendors (see
//! `scripts/install-test-deps.sh`), on free loopback ports with temporary
//! data directories, stopped on every path by `Drop`.
//!
//! The nodes have no wallet: coins are mined to keys the tests hold
//! ([`TestKey`]) and spent with `createrawtransaction` and
//! `signrawtransactionwithkey`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::key::{CompressedPublicKey, PrivateKey};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Address, Network as BtcNetwork, Txid};
use noncesweep::sources::gbt::rpc::{Auth, RpcClient, RpcError};
use serde_json::{json, Value};

pub const RPC_USER: &str = "noncesweep-test";
pub const RPC_PASSWORD: &str = "test-password-5e1f";

/// Where Bitcoin Core's binaries are: `NONCESWEEP_CORE_BIN`, else the
/// repository's `.cache/bitcoin-core/bin` (a link to the per-machine build).
pub fn core_bin_dir() -> PathBuf {
    let dir = std::env::var_os("NONCESWEEP_CORE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/bitcoin-core/bin"));
    assert!(
        dir.join("bitcoind").is_file(),
        "Bitcoin Core is not installed in {}: run scripts/install-test-deps.sh (it builds bitcoind from the vendored source once per machine)",
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

/// A key the tests hold, with its addresses on regtest.
pub struct TestKey {
    pub secret: SecretKey,
}

impl TestKey {
    /// Key number `n` (deterministic, never zero).
    pub fn new(n: u8) -> TestKey {
        let mut bytes = [0x11u8; 32];
        bytes[31] = n.max(1);
        TestKey {
            secret: SecretKey::from_slice(&bytes).expect("a valid secret key"),
        }
    }

    pub fn wif(&self) -> String {
        PrivateKey::new(self.secret, BtcNetwork::Regtest).to_wif()
    }

    fn compressed(&self) -> CompressedPublicKey {
        let secp = Secp256k1::new();
        CompressedPublicKey(self.secret.public_key(&secp))
    }

    pub fn p2wpkh(&self) -> Address {
        Address::p2wpkh(&self.compressed(), BtcNetwork::Regtest)
    }

    pub fn p2pkh(&self) -> Address {
        Address::p2pkh(self.compressed(), BtcNetwork::Regtest)
    }

    /// P2SH wrapping P2WPKH.
    pub fn p2sh(&self) -> Address {
        Address::p2shwpkh(&self.compressed(), BtcNetwork::Regtest)
    }

    pub fn p2tr(&self) -> Address {
        let secp = Secp256k1::new();
        let (xonly, _) = self.secret.public_key(&secp).x_only_public_key();
        Address::p2tr(&secp, xonly, None, BtcNetwork::Regtest)
    }
}

/// How to start a node.
#[derive(Clone, Default)]
pub struct NodeOptions {
    /// Authenticate with the cookie only (no rpcuser/rpcpassword), as a
    /// default Bitcoin Core does; it writes `<datadir>/regtest/.cookie`.
    pub cookie: bool,
    /// Connect to this P2P port (and no other peer).
    pub connect: Option<u16>,
}

/// One Bitcoin Core regtest node process.
pub struct CoreNode {
    pub datadir: PathBuf,
    pub rpc_port: u16,
    pub p2p_port: u16,
    opts: NodeOptions,
    child: Option<Child>,
    rpc: RpcClient,
    /// The node's own temporary folder, when it made one.
    tmp: Option<tempfile::TempDir>,
}

impl CoreNode {
    /// A fresh regtest chain (tip = genesis) in a temporary folder.
    pub fn start() -> CoreNode {
        CoreNode::start_with(NodeOptions::default())
    }

    pub fn start_with(opts: NodeOptions) -> CoreNode {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut node = CoreNode::start_in(&tmp.path().join("node"), opts);
        node.tmp = Some(tmp);
        node
    }

    pub fn start_in(datadir: &Path, opts: NodeOptions) -> CoreNode {
        std::fs::create_dir_all(datadir).expect("datadir");
        let rpc_port = free_port();
        let auth = if opts.cookie {
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
            Duration::from_secs(60),
        )
        .expect("client");
        let mut n = CoreNode {
            datadir: datadir.to_path_buf(),
            rpc_port,
            p2p_port: free_port(),
            opts,
            child: None,
            rpc,
            tmp: None,
        };
        n.spawn();
        n
    }

    /// A scratch folder beside the node's data directory.
    pub fn scratch(&self) -> PathBuf {
        self.datadir.parent().expect("datadir parent").to_path_buf()
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(core_bin_dir().join("bitcoind"));
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
            .arg("-fixedseeds=0")
            .arg("-listenonion=0")
            .arg("-printtoconsole=0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !self.opts.cookie {
            cmd.arg(format!("-rpcuser={RPC_USER}"))
                .arg(format!("-rpcpassword={RPC_PASSWORD}"));
        }
        if let Some(p) = self.opts.connect {
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
                Ok(_) => return,
                Err(e) => self.not_yet(deadline, &e),
            }
        }
    }

    fn not_yet(&mut self, deadline: Instant, e: &RpcError) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                let log = std::fs::read_to_string(self.datadir.join("regtest/debug.log"))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "bitcoind exited during start-up ({status}); the end of its debug.log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
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

    pub fn best_hash(&self) -> String {
        self.call("getbestblockhash", json!([]))
            .as_str()
            .expect("hash")
            .to_string()
    }

    /// Mine `n` blocks paying `address` with Core's own miner.
    pub fn mine_to(&self, address: &Address, n: u64) -> Vec<String> {
        self.call("generatetoaddress", json!([n, address.to_string()]))
            .as_array()
            .expect("hashes")
            .iter()
            .map(|h| h.as_str().expect("hash").to_string())
            .collect()
    }

    /// Wait until the node's tip is `hash` (a block relayed by a peer).
    pub fn wait_for_tip(&self, hash: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.best_hash() != hash {
            assert!(Instant::now() < deadline, "tip {hash} never arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Spend output `vout` (worth `amount` BTC) of `txid`, which pays
    /// `key`'s P2WPKH address, to `outputs` (address, BTC); Core signs it
    /// with the key and takes it into its mempool. The spend's txid.
    pub fn spend(
        &self,
        key: &TestKey,
        txid: &str,
        vout: u32,
        amount: f64,
        outputs: &[(Address, f64)],
    ) -> Txid {
        let outs: Vec<Value> = outputs
            .iter()
            .map(|(a, v)| json!({ a.to_string(): v }))
            .collect();
        let raw = self.call(
            "createrawtransaction",
            json!([[{"txid": txid, "vout": vout}], outs]),
        );
        let prevout = json!({
            "txid": txid,
            "vout": vout,
            "scriptPubKey": key.p2wpkh().script_pubkey().to_hex_string(),
            "amount": amount,
        });
        let signed = self.call(
            "signrawtransactionwithkey",
            json!([raw, [key.wif()], [prevout]]),
        );
        assert_eq!(signed["complete"], json!(true), "{signed}");
        let sent = self.call("sendrawtransaction", json!([signed["hex"]]));
        sent.as_str().expect("txid").parse().expect("txid")
    }

    /// The coinbase txid of the block at `height`.
    pub fn coinbase_txid(&self, height: u64) -> String {
        let hash = self.call("getblockhash", json!([height]));
        let block = self.call("getblock", json!([hash, 1]));
        block["tx"][0].as_str().expect("txid").to_string()
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

    /// Kill the node at once (SIGKILL): no clean shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the node again on the same ports and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running node");
        self.spawn();
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// A password file for the miner.
    pub fn password_file(&self) -> PathBuf {
        let p = self.scratch().join("rpc-password");
        std::fs::write(&p, format!("{RPC_PASSWORD}\n")).expect("password file");
        p
    }

    /// The cookie file (with [`NodeOptions::cookie`]).
    pub fn cookie_path(&self) -> PathBuf {
        self.datadir.join("regtest/.cookie")
    }
}

impl Drop for CoreNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The raw block at `height` on `node`.
pub fn block_at(node: &CoreNode, height: u64) -> bitcoin::Block {
    let hash = node.call("getblockhash", json!([height]));
    block_by_hash(node, hash.as_str().expect("hash"))
}

/// The raw block `hash` on `node`.
pub fn block_by_hash(node: &CoreNode, hash: &str) -> bitcoin::Block {
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
