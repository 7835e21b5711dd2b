//! A read-only monitoring API compatible with cgminer's, so that existing
//! dashboards and scripts can watch noncesweep.
//!
//! Each TCP connection carries one request and gets one reply, then closes;
//! the reply ends with a NUL byte, as cgminer's does. Requests are JSON
//! (`{"command":"summary"}`) or plain text (`summary`); `cmd1+cmd2` combines
//! commands. Replies follow cgminer's layout: a `STATUS` array, then the
//! command's section (`SUMMARY`, `DEVS`, `POOLS`, `STATS`, `VERSION`,
//! `CONFIG`). Nothing here can change the miner.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::report::stats::{Snapshot, Stats};

/// Largest request accepted, in bytes.
pub const MAX_REQUEST: usize = 4096;

/// The commands this API answers.
pub const COMMANDS: &[&str] = &["summary", "devs", "pools", "stats", "version", "config"];

/// An API that cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("--api-listen {0} is not loopback: list the clients allowed to connect with --api-allow (addresses or CIDRs)")]
    NeedsAllowList(SocketAddr),
    #[error(
        "invalid --api-allow entry {0:?}: expected an IP address or a CIDR such as 192.168.1.0/24"
    )]
    BadAllow(String),
    #[error("--metrics-listen {0} is not loopback: list the scrapers allowed to connect with --api-allow (addresses or CIDRs)")]
    MetricsNeedsAllowList(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Parse a comma-separated list of IP addresses and CIDRs.
pub fn parse_allow(list: &str) -> Result<Vec<IpNet>, ApiError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ApiError::BadAllow(s.to_string()))
        })
        .collect()
}

/// A running API server; it stops when dropped.
pub struct ApiServer {
    served: Served,
}

impl ApiServer {
    /// Listen on `addr`. A non-loopback address needs a non-empty `allow`
    /// list; loopback clients are always allowed.
    pub fn start(
        addr: SocketAddr,
        allow: Vec<IpNet>,
        stats: Arc<Stats>,
    ) -> Result<ApiServer, ApiError> {
        if !addr.ip().is_loopback() && allow.is_empty() {
            return Err(ApiError::NeedsAllowList(addr));
        }
        let served = Served::start(addr, allow, "API", move |stream| serve_one(stream, &stats))?;
        tracing::info!(addr = %served.addr, "monitoring API listening (read-only, cgminer-compatible)");
        Ok(ApiServer { served })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.served.addr
    }
}

/// A listening socket whose thread hands each allowed client to a
/// handler, one at a time; it stops when dropped. Shared by the cgminer
/// API and the Prometheus endpoint.
pub struct Served {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Served {
    /// Bind `addr` and serve clients that [`allowed`] admits; `what` names
    /// the server in logs.
    pub fn start(
        addr: SocketAddr,
        allow: Vec<IpNet>,
        what: &'static str,
        handler: impl Fn(TcpStream) + Send + 'static,
    ) -> Result<Served, ApiError> {
        let listener = TcpListener::bind(addr).map_err(|source| ApiError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ApiError::Bind { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ApiError::Bind { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(format!("noncesweep-{}", what.to_ascii_lowercase()))
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            if allowed(peer.ip(), &allow) {
                                handler(stream);
                            } else {
                                tracing::warn!(%peer, "{what} connection refused: not in --api-allow");
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(25));
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "{what} accept failed");
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            })
            .expect("spawning a server thread");
        Ok(Served {
            addr,
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Whether a client at `ip` may connect: loopback always, others when
/// `allow` lists them (IPv4-mapped IPv6 addresses count as IPv4).
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    ip.is_loopback() || allow.iter().any(|n| n.contains(&ip))
}

fn serve_one(mut stream: TcpStream, stats: &Stats) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let reply = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.iter().position(|&b| b == 0 || b == b'\n') {
                    buf.truncate(end);
                    break None;
                }
                if buf.len() > MAX_REQUEST {
                    break Some(error_reply(false, 14, "Request too long"));
                }
                // A complete JSON object needs no terminator.
                if buf.first() == Some(&b'{') && serde_json::from_slice::<Value>(&buf).is_ok() {
                    break None;
                }
            }
            Err(_) => break None,
        }
    };
    let reply = reply.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&buf);
        handle_request(text.trim(), stats)
    });
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.write_all(&[0]);
    let _ = stream.flush();
}

/// Answer one request (without the trailing NUL).
pub fn handle_request(request: &str, stats: &Stats) -> String {
    let (json_mode, command, parameter) = if request.starts_with('{') {
        match serde_json::from_str::<Value>(request) {
            Ok(v) => (
                true,
                v.get("command")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("parameter")
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
            Err(_) => return error_reply(true, 23, "Invalid JSON"),
        }
    } else {
        let (c, p) = request.split_once('|').unwrap_or((request, ""));
        (false, c.to_string(), p.to_string())
    };
    let _ = parameter;
    let commands: Vec<&str> = command.split('+').map(str::trim).collect();
    let snap = stats.snapshot();
    if commands.len() == 1 {
        let reply = command_reply(commands[0], &snap, stats);
        return render(json_mode, &reply);
    }
    // Combined commands: one section per command, as cgminer does.
    if json_mode {
        let mut out = Map::new();
        for c in &commands {
            out.insert(
                (*c).to_string(),
                Value::Array(vec![command_reply(c, &snap, stats)]),
            );
        }
        Value::Object(out).to_string()
    } else {
        commands
            .iter()
            .map(|c| render(false, &command_reply(c, &snap, stats)))
            .collect()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn status(ok: bool, code: u32, msg: &str) -> Value {
    json!([{
        "STATUS": if ok { "S" } else { "E" },
        "When": now(),
        "Code": code,
        "Msg": msg,
        "Description": format!("noncesweep {}", env!("CARGO_PKG_VERSION")),
    }])
}

fn error_reply(json_mode: bool, code: u32, msg: &str) -> String {
    render(
        json_mode,
        &json!({ "STATUS": status(false, code, msg), "id": 1 }),
    )
}

fn mhs(hs: f64) -> f64 {
    ((hs / 1e6 * 1000.0).round() / 1000.0).max(0.0)
}

fn command_reply(command: &str, s: &Snapshot, stats: &Stats) -> Value {
    let (key, code, msg, body) = match command {
        "summary" => (
            "SUMMARY",
            11,
            "Summary".to_string(),
            json!([{
                "Elapsed": s.elapsed_secs as u64,
                "MHS av": mhs(s.rate_avg),
                "MHS 5s": mhs(s.rate_5s),
                "MHS 1m": mhs(s.rate_1m),
                "MHS 15m": mhs(s.rate_15m),
                "Found Blocks": s.blocks,
                "Accepted": s.accepted,
                "Rejected": s.rejected,
                "Stale": s.stale,
                "Hardware Errors": 0,
                "Total MH": s.hashes as f64 / 1e6,
                "Best Share": s.best_share,
                "Difficulty": s.difficulty,
            }]),
        ),
        "devs" => (
            "DEVS",
            9,
            format!("{} CPU(s)", s.per_thread_hashes.len()),
            Value::Array(
                s.per_thread_hashes
                    .iter()
                    .enumerate()
                    .map(|(i, &h)| {
                        json!({
                            "CPU": i,
                            "Enabled": "Y",
                            "Status": "Alive",
                            "MHS av": mhs(if s.elapsed_secs > 0.0 { h as f64 / s.elapsed_secs } else { 0.0 }),
                            "MHS 5s": mhs(s.per_thread_5s.get(i).copied().unwrap_or(0.0)),
                            "Total MH": h as f64 / 1e6,
                            "Device Elapsed": s.elapsed_secs as u64,
                        })
                    })
                    .collect(),
            ),
        ),
        "pools" => (
            "POOLS",
            7,
            "Pools".to_string(),
            Value::Array(
                stats
                    .sources()
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        json!({
                            "POOL": i,
                            "URL": p.url,
                            "Status": p.status,
                            "Priority": i,
                            "Accepted": p.accepted,
                            "Rejected": p.rejected,
                            "Stale": p.stale,
                            "User": p.user,
                            "Diff": p.difficulty,
                            "Has Stratum": p.kind == "stratum",
                            "Has GBT": p.kind == "getblocktemplate",
                        })
                    })
                    .collect(),
            ),
        ),
        "stats" => (
            "STATS",
            70,
            "CGMiner stats".to_string(),
            json!([{
                "STATS": 0,
                "ID": "noncesweep",
                "Elapsed": s.elapsed_secs as u64,
                "Command": s.command,
                "Threads": s.per_thread_hashes.len(),
                "Hashes": s.hashes,
            }]),
        ),
        "version" => (
            "VERSION",
            22,
            "CGMiner versions".to_string(),
            json!([{ "CGMiner": format!("noncesweep {}", env!("CARGO_PKG_VERSION")), "API": "3.7" }]),
        ),
        "config" => ("CONFIG", 33, "CGMiner config".to_string(), json!([stats.config()])),
        other => {
            let msg = if other.is_empty() { "Missing command".to_string() } else { format!("Invalid command '{other}'") };
            return json!({ "STATUS": status(false, 14, &msg), "id": 1 });
        }
    };
    json!({ "STATUS": status(true, code, &msg), key: body, "id": 1 })
}

/// Render a reply as JSON, or in cgminer's plain-text form
/// (`STATUS=S,When=..,Code=11,Msg=Summary|SUMMARY,Elapsed=..|`).
fn render(json_mode: bool, reply: &Value) -> String {
    if json_mode {
        return reply.to_string();
    }
    let mut out = String::new();
    if let Value::Object(map) = reply {
        for (section, items) in map {
            if section == "id" {
                continue;
            }
            for item in items.as_array().into_iter().flatten() {
                if section != "STATUS" {
                    out.push_str(section);
                    out.push(',');
                }
                if let Value::Object(fields) = item {
                    let parts: Vec<String> = fields
                        .iter()
                        .map(|(k, v)| match v {
                            Value::String(s) => format!("{k}={s}"),
                            other => format!("{k}={other}"),
                        })
                        .collect();
                    out.push_str(&parts.join(","));
                }
                out.push('|');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists() {
        let nets = parse_allow("10.0.0.0/8, 192.168.1.7").unwrap();
        assert!(allowed("10.1.2.3".parse().unwrap(), &nets));
        assert!(allowed("192.168.1.7".parse().unwrap(), &nets));
        assert!(!allowed("192.168.1.8".parse().unwrap(), &nets));
        assert!(allowed("127.0.0.1".parse().unwrap(), &[]));
        assert!(matches!(
            parse_allow("10.0.0.0/99"),
            Err(ApiError::BadAllow(_))
        ));
    }

    #[test]
    fn replies_follow_cgminer_layout() {
        let stats = Stats::new("bench");
        let v: Value =
            serde_json::from_str(&handle_request(r#"{"command":"summary"}"#, &stats)).unwrap();
        assert_eq!(v["STATUS"][0]["STATUS"], "S");
        assert!(v["SUMMARY"][0]["MHS av"].is_number());
        let v: Value =
            serde_json::from_str(&handle_request(r#"{"command":"summary+devs"}"#, &stats)).unwrap();
        assert!(v["summary"][0]["SUMMARY"].is_array() && v["devs"][0]["DEVS"].is_array());
        let v: Value =
            serde_json::from_str(&handle_request(r#"{"command":"restart"}"#, &stats)).unwrap();
        assert_eq!(v["STATUS"][0]["STATUS"], "E");
        let text = handle_request("summary", &stats);
        assert!(
            text.starts_with("STATUS=S,") && text.contains("|SUMMARY,"),
            "{text}"
        );
        assert!(handle_request("quit", &stats).contains("STATUS=E"));
    }

    #[test]
    fn non_loopback_needs_allow_list() {
        let stats = Stats::new("bench");
        let err = ApiServer::start("0.0.0.0:0".parse().unwrap(), vec![], stats)
            .err()
            .unwrap();
        assert!(matches!(err, ApiError::NeedsAllowList(_)));
    }
}
