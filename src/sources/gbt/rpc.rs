//! A small JSON-RPC 1.0 client for a Bitcoin node (Bitcoin Core and nodes
//! that copy its interface), over `ureq` with timeouts.
//!
//! It exists so that every way a call can fail reaches the user in words:
//! the node is not running, the credentials are wrong, the node is not ready,
//! or the node's own message. Core sends RPC errors as HTTP 500 with a JSON
//! body, so that body is read; only a failed connection or a body that is not
//! JSON is a transport error (worth retrying). Credentials live only in the
//! `Authorization` header and never appear in a `Display` or `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::Network;

/// How to authenticate to the node.
#[derive(Clone)]
pub enum Auth {
    /// `rpcuser` / `rpcpassword`.
    UserPass { user: String, password: String },
    /// A cookie file written by the node (`__cookie__:<hex>`), read at every
    /// (re)connection so that a restarted node's new cookie is picked up.
    Cookie(PathBuf),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::UserPass { user, .. } => write!(f, "user {user:?} with a password"),
            Auth::Cookie(p) => write!(f, "cookie file {}", p.display()),
        }
    }
}

/// Where `bitcoin-cli` looks for the cookie: `<datadir>/.cookie` on mainnet,
/// `<datadir>/<network dir>/.cookie` otherwise.
pub fn cookie_path(datadir: &Path, network: Network) -> PathBuf {
    match network.data_subdir() {
        Some(sub) => datadir.join(sub).join(".cookie"),
        None => datadir.join(".cookie"),
    }
}

/// The default data directory of Bitcoin Core on this system (`~/.bitcoin`).
pub fn default_datadir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".bitcoin"))
}

/// A failed RPC call, in the user's words. Never holds credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    #[error("cannot connect to the node at {url}: {reason}. Is the node running, and is its RPC port the one in --rpc-url?")]
    Connect { url: String, reason: String },
    #[error("the node at {url} did not answer in time ({secs} s)")]
    Timeout { url: String, secs: u64 },
    #[error("the node at {url} rejected the credentials (HTTP 401): check --rpc-user and the password, or the cookie file ({auth})")]
    Unauthorized { url: String, auth: String },
    #[error("the node is not ready: {kind} (RPC error {code}: {message}); waiting for it")]
    NotReady {
        kind: &'static str,
        code: i64,
        message: String,
    },
    #[error(
        "the node refused the request because the segwit rule is missing (RPC error -8: {message})"
    )]
    MissingSegwit { message: String },
    #[error("the node answered {method}: {message} (RPC error {code})")]
    Node {
        method: String,
        code: i64,
        message: String,
    },
    #[error("the node at {url} sent an answer that is not JSON-RPC (HTTP {status}): {detail}")]
    BadReply {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("cannot read the cookie file {path}: {reason}. Is the node running with this --datadir and --network? Or give --rpc-cookie or --rpc-user")]
    Cookie { path: String, reason: String },
}

impl RpcError {
    /// Whether the call could succeed if repeated later (transport trouble
    /// or a node that is starting, syncing or without peers).
    pub fn is_transient(&self) -> bool {
        self.is_transport() || matches!(self, RpcError::NotReady { .. })
    }

    /// Whether the node never got the request or never answered it, so the
    /// outcome of a `submitblock` is unknown.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            RpcError::Connect { .. }
                | RpcError::Timeout { .. }
                | RpcError::BadReply { .. }
                | RpcError::Cookie { .. }
        )
    }
}

/// A JSON-RPC connection to one node.
pub struct RpcClient {
    url: String,
    auth: Auth,
    agent: ureq::Agent,
    timeout: Duration,
    next_id: AtomicU64,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Connection timeout for every call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl RpcClient {
    /// A client for `url` (for example `http://127.0.0.1:18443`); `timeout`
    /// bounds each ordinary call.
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> Result<RpcClient, String> {
        let url = url.trim().to_string();
        if !url.starts_with("http://") {
            return Err(format!(
                "--rpc-url must start with http:// (the node's RPC server speaks plain HTTP), got {url:?}"
            ));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .build();
        Ok(RpcClient {
            url,
            auth,
            agent,
            timeout,
            next_id: AtomicU64::new(1),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn authorization(&self) -> Result<String, RpcError> {
        let pair = match &self.auth {
            Auth::UserPass { user, password } => format!("{user}:{password}"),
            Auth::Cookie(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| RpcError::Cookie {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?,
        };
        Ok(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    }

    /// Call `method` with `params` and the default timeout.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.call_timeout(method, params, self.timeout)
    }

    /// Call `method` with `params`, waiting at most `timeout` for the answer.
    pub fn call_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params});
        let auth = self.authorization()?;
        tracing::trace!(method, id, "rpc call");
        let reply = self
            .agent
            .post(&self.url)
            .timeout(timeout + CONNECT_TIMEOUT)
            .set("Authorization", &auth)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        let (status, text) = match reply {
            Ok(r) => {
                let status = r.status();
                (status, self.read_body(r, timeout)?)
            }
            Err(ureq::Error::Status(401, _)) => {
                return Err(RpcError::Unauthorized {
                    url: self.url.clone(),
                    auth: format!("{:?}", self.auth),
                })
            }
            Err(ureq::Error::Status(status, r)) => (status, self.read_body(r, timeout)?),
            Err(ureq::Error::Transport(t)) => return Err(self.transport_error(&t, timeout)),
        };
        let v: Value = serde_json::from_str(&text).map_err(|_| RpcError::BadReply {
            url: self.url.clone(),
            status,
            detail: shorten(&text),
        })?;
        translate(method, status, v, &self.url)
    }

    fn read_body(&self, r: ureq::Response, timeout: Duration) -> Result<String, RpcError> {
        // Bounded: a template with a full mempool is a few megabytes.
        const LIMIT: u64 = 64 << 20;
        let mut text = String::new();
        use std::io::Read;
        r.into_reader()
            .take(LIMIT)
            .read_to_string(&mut text)
            .map_err(|e| self.io_error(is_timeout(&e), e.to_string(), timeout))?;
        Ok(text)
    }

    fn io_error(&self, timed_out: bool, reason: String, timeout: Duration) -> RpcError {
        if timed_out {
            RpcError::Timeout {
                url: self.url.clone(),
                secs: timeout.as_secs(),
            }
        } else {
            RpcError::Connect {
                url: self.url.clone(),
                reason,
            }
        }
    }

    fn transport_error(&self, t: &ureq::Transport, timeout: Duration) -> RpcError {
        use std::error::Error as _;
        let mut reason = t.kind().to_string();
        let mut timed_out = false;
        let mut src = t.source();
        while let Some(e) = src {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                timed_out |= is_timeout(io);
                reason = io.to_string();
            }
            src = e.source();
        }
        self.io_error(timed_out, reason, timeout)
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "an empty body".into();
    }
    let cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// Turn a JSON-RPC reply into its result or an [`RpcError`].
fn translate(method: &str, status: u16, v: Value, url: &str) -> Result<Value, RpcError> {
    let error = v.get("error").cloned().unwrap_or(Value::Null);
    if error.is_null() {
        return match v.get("result") {
            Some(r) => Ok(r.clone()),
            None => Err(RpcError::BadReply {
                url: url.to_string(),
                status,
                detail: "a reply with neither result nor error".into(),
            }),
        };
    }
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    Err(match code {
        -9 => RpcError::NotReady {
            kind: "it has no peer connection",
            code,
            message,
        },
        -10 => RpcError::NotReady {
            kind: "it is in initial block download",
            code,
            message,
        },
        -28 => RpcError::NotReady {
            kind: "it is still starting",
            code,
            message,
        },
        -8 if method == "getblocktemplate" && message.contains("segwit") => {
            RpcError::MissingSegwit { message }
        }
        _ => RpcError::Node {
            method: method.to_string(),
            code,
            message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_translated() {
        let e = translate(
            "getblocktemplate",
            500,
            json!({"result": null, "error": {"code": -10, "message": "Bitcoin is downloading blocks..."}}),
            "u",
        )
        .unwrap_err();
        assert!(matches!(e, RpcError::NotReady { code: -10, .. }));
        assert!(e.to_string().contains("initial block download"));
        let e = translate(
            "getblocktemplate",
            500,
            json!({"result": null, "error": {"code": -8, "message": "getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})"}}),
            "u",
        )
        .unwrap_err();
        assert!(matches!(e, RpcError::MissingSegwit { .. }));
        let e = translate(
            "getblockheader",
            500,
            json!({"result": null, "error": {"code": -5, "message": "Block not found"}}),
            "u",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the node answered getblockheader: Block not found (RPC error -5)"
        );
        assert_eq!(
            translate(
                "submitblock",
                200,
                json!({"result": null, "error": null}),
                "u"
            )
            .unwrap(),
            Value::Null
        );
    }

    #[test]
    fn credentials_never_show() {
        let a = Auth::UserPass {
            user: "alice".into(),
            password: "s3cret-pw".into(),
        };
        let c = RpcClient::new("http://127.0.0.1:1", a, Duration::from_secs(1)).unwrap();
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        let e = RpcError::Unauthorized {
            url: c.url().into(),
            auth: format!("{:?}", c.auth),
        };
        assert!(!e.to_string().contains("s3cret-pw"));
    }

    #[test]
    fn cookie_paths_follow_bitcoin_cli() {
        let d = Path::new("/d");
        assert_eq!(cookie_path(d, Network::Mainnet), Path::new("/d/.cookie"));
        assert_eq!(
            cookie_path(d, Network::Testnet3),
            Path::new("/d/testnet3/.cookie")
        );
        assert_eq!(
            cookie_path(d, Network::Testnet4),
            Path::new("/d/testnet4/.cookie")
        );
        assert_eq!(
            cookie_path(d, Network::Signet),
            Path::new("/d/signet/.cookie")
        );
        assert_eq!(
            cookie_path(d, Network::Regtest),
            Path::new("/d/regtest/.cookie")
        );
    }
}
