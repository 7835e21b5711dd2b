//! Stratum v1 messages as typed values, and their JSON lines. No I/O here:
//! the session feeds bytes in and writes lines out.
//!
//! - [`LineBuffer`] frames the byte stream into lines, capped at
//!   [`MAX_LINE`] so that a hostile pool cannot make us buffer without end.
//! - [`ClientMessage`] and [`ServerMessage`] encode and decode one line
//!   each way (both directions, so tests can round-trip every message).
//! - [`PendingMap`] remembers what each request id asked for; a reply is
//!   interpreted only through it ([`PendingMap::resolve`]), never guessed
//!   from its shape.
//! - Rejections come in two shapes, `"error":[code,"msg",data]` and
//!   ckpool's `"result":false` with `"reject-reason"`; [`Rejection`] holds
//!   either and says whether the share was stale.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::TxMerkleNode;
use serde_json::{json, Map, Value};

use super::wire::{
    as_str, hex_field, show, Difficulty, Extranonce1, Extranonce2Size, HexU32Be, PrevHash,
    WireError, MAX_JOB_ID,
};

/// The longest line accepted from a pool (64 KiB).
pub const MAX_LINE: usize = 64 * 1024;
/// The most merkle branch entries accepted (2^32 transactions).
pub const MAX_BRANCH: usize = 32;
/// The longest coinbase part accepted, in bytes.
pub const MAX_COINBASE_PART: usize = 16 * 1024;
/// The most requests waiting for a reply at once.
pub const MAX_PENDING: usize = 4096;

/// A line that is not a valid Stratum message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    #[error("line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("line is not UTF-8")]
    NotUtf8,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("message is not a JSON object")]
    NotObject,
    #[error("{method}: {why}")]
    Params { method: String, why: String },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    #[error("reply id {0} matches no pending request")]
    UnknownId(String),
    #[error("reply has no usable id: {0}")]
    BadId(String),
    #[error("too many requests waiting for replies ({MAX_PENDING})")]
    TooManyPending,
}

fn params_err(method: &str, why: impl Into<String>) -> CodecError {
    CodecError::Params {
        method: method.into(),
        why: why.into(),
    }
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    pub fn new() -> Self {
        LineBuffer::default()
    }

    /// Add received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line (without `\n` or `\r\n`), `Ok(None)` when
    /// more bytes are needed, or [`CodecError::LineTooLong`] when a line
    /// exceeds the cap (the connection should then be dropped).
    pub fn next_line(&mut self) -> Result<Option<String>, CodecError> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(pos) if pos > MAX_LINE => Err(CodecError::LineTooLong),
            Some(pos) => {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                String::from_utf8(line)
                    .map(Some)
                    .map_err(|_| CodecError::NotUtf8)
            }
            None if self.buf.len() > MAX_LINE => Err(CodecError::LineTooLong),
            None => Ok(None),
        }
    }

    /// Bytes held (never much more than [`MAX_LINE`] plus one read).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A request id from the pool (numbers or strings; echoed back as is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerId {
    Num(u64),
    Str(String),
}

impl ServerId {
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_u64().map(ServerId::Num),
            Value::String(s) if s.len() <= 128 => Some(ServerId::Str(s.clone())),
            _ => None,
        }
    }
    fn to_json(&self) -> Value {
        match self {
            ServerId::Num(n) => json!(n),
            ServerId::Str(s) => json!(s),
        }
    }
}

/// BIP310 version-rolling request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionRolling {
    pub mask: u32,
    pub min_bit_count: u32,
}

/// A share submission (`mining.submit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    pub worker: String,
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    pub ntime: u32,
    pub nonce: u32,
    /// The rolled version bits (BIP310 sixth parameter).
    pub version_bits: Option<u32>,
}

/// What the miner asks of the pool.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Configure(Option<VersionRolling>),
    /// `session` asks to resume a previous subscription.
    Subscribe {
        agent: String,
        session: Option<String>,
    },
    Authorize {
        user: String,
        password: String,
    },
    ExtranonceSubscribe,
    SuggestDifficulty(Difficulty),
    Submit(Submit),
}

impl Request {
    /// The method name on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Configure(_) => "mining.configure",
            Request::Subscribe { .. } => "mining.subscribe",
            Request::Authorize { .. } => "mining.authorize",
            Request::ExtranonceSubscribe => "mining.extranonce.subscribe",
            Request::SuggestDifficulty(_) => "mining.suggest_difficulty",
            Request::Submit(_) => "mining.submit",
        }
    }

    fn params(&self) -> Value {
        match self {
            Request::Configure(None) => json!([[], {}]),
            Request::Configure(Some(vr)) => json!([["version-rolling"], {
                "version-rolling.mask": HexU32Be(vr.mask).to_string(),
                "version-rolling.min-bit-count": vr.min_bit_count,
            }]),
            Request::Subscribe { agent, session } => match session {
                Some(s) => json!([agent, s]),
                None => json!([agent]),
            },
            Request::Authorize { user, password } => json!([user, password]),
            Request::ExtranonceSubscribe => json!([]),
            Request::SuggestDifficulty(d) => json!([d.to_json()]),
            Request::Submit(s) => {
                let mut p = vec![
                    json!(s.worker),
                    json!(s.job_id),
                    json!(hex::encode(&s.extranonce2)),
                    json!(HexU32Be(s.ntime).to_string()),
                    json!(HexU32Be(s.nonce).to_string()),
                ];
                if let Some(v) = s.version_bits {
                    p.push(json!(HexU32Be(v).to_string()));
                }
                Value::Array(p)
            }
        }
    }

    fn from_params(method: &str, p: &[Value]) -> Result<Self, CodecError> {
        let arity = |lo: usize, hi: usize| {
            if p.len() < lo || p.len() > hi {
                Err(params_err(
                    method,
                    format!("expected {lo} to {hi} params, got {}", p.len()),
                ))
            } else {
                Ok(())
            }
        };
        Ok(match method {
            "mining.configure" => {
                arity(2, 2)?;
                let exts = p[0]
                    .as_array()
                    .ok_or_else(|| params_err(method, "extensions must be a list"))?;
                let opts = p[1]
                    .as_object()
                    .ok_or_else(|| params_err(method, "options must be an object"))?;
                if exts.iter().any(|e| e.as_str() == Some("version-rolling")) {
                    let mask = HexU32Be::from_json(
                        "version-rolling.mask",
                        opts.get("version-rolling.mask").unwrap_or(&Value::Null),
                    )?
                    .0;
                    let min_bit_count = opts
                        .get("version-rolling.min-bit-count")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| params_err(method, "bad version-rolling.min-bit-count"))?;
                    Request::Configure(Some(VersionRolling {
                        mask,
                        min_bit_count,
                    }))
                } else {
                    Request::Configure(None)
                }
            }
            "mining.subscribe" => {
                arity(0, 4)?;
                let agent = match p.first() {
                    Some(v) => as_str("user agent", v)?.to_string(),
                    None => String::new(),
                };
                let session = match p.get(1) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(as_str("session id", v)?.to_string()),
                };
                Request::Subscribe { agent, session }
            }
            "mining.authorize" => {
                arity(1, 2)?;
                Request::Authorize {
                    user: as_str("user", &p[0])?.to_string(),
                    password: match p.get(1) {
                        None | Some(Value::Null) => String::new(),
                        Some(v) => as_str("password", v)?.to_string(),
                    },
                }
            }
            "mining.extranonce.subscribe" => {
                arity(0, 0)?;
                Request::ExtranonceSubscribe
            }
            "mining.suggest_difficulty" => {
                arity(1, 1)?;
                Request::SuggestDifficulty(Difficulty::from_json(&p[0])?)
            }
            "mining.submit" => {
                arity(5, 6)?;
                Request::Submit(Submit {
                    worker: as_str("worker", &p[0])?.to_string(),
                    job_id: job_id(&p[1])?,
                    extranonce2: hex_field("extranonce2", &p[2], 16)?,
                    ntime: HexU32Be::from_json("ntime", &p[3])?.0,
                    nonce: HexU32Be::from_json("nonce", &p[4])?.0,
                    version_bits: p
                        .get(5)
                        .map(|v| HexU32Be::from_json("version bits", v).map(|h| h.0))
                        .transpose()?,
                })
            }
            other => return Err(CodecError::UnknownMethod(other.chars().take(64).collect())),
        })
    }
}

fn job_id(v: &Value) -> Result<String, CodecError> {
    let s = as_str("job_id", v)?;
    if s.is_empty() || s.len() > MAX_JOB_ID || s.chars().any(|c| c.is_control()) {
        return Err(WireError::Value {
            field: "job_id",
            value: show(v),
        }
        .into());
    }
    Ok(s.to_string())
}

/// A line the miner sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    Request {
        id: u64,
        request: Request,
    },
    /// An answer to the pool's `client.get_version` or `mining.ping`.
    Reply {
        id: ServerId,
        result: Value,
    },
}

impl ClientMessage {
    /// The answer to `client.get_version`.
    pub fn version_reply(id: ServerId, version: &str) -> Self {
        ClientMessage::Reply {
            id,
            result: json!(version),
        }
    }

    /// The answer to `mining.ping`.
    pub fn pong(id: ServerId) -> Self {
        ClientMessage::Reply {
            id,
            result: json!("pong"),
        }
    }

    /// One JSON line, with its `\n`.
    pub fn to_line(&self) -> String {
        let v = match self {
            ClientMessage::Request { id, request } => {
                json!({"id": id, "method": request.method(), "params": request.params()})
            }
            ClientMessage::Reply { id, result } => {
                json!({"id": id.to_json(), "result": result, "error": null})
            }
        };
        format!("{v}\n")
    }

    /// Parse a line the miner sent (used by tests and tools; pools parse
    /// their own way).
    pub fn from_line(line: &str) -> Result<Self, CodecError> {
        let obj = parse_object(line)?;
        match obj.get("method") {
            Some(Value::String(method)) => {
                let id = obj.get("id").and_then(Value::as_u64).ok_or_else(|| {
                    CodecError::BadId(show(obj.get("id").unwrap_or(&Value::Null)))
                })?;
                let params = params_array(method, &obj)?;
                Ok(ClientMessage::Request {
                    id,
                    request: Request::from_params(method, params)?,
                })
            }
            Some(other) => Err(params_err("message", format!("method is {}", show(other)))),
            None => {
                let id = obj.get("id").and_then(ServerId::from_json).ok_or_else(|| {
                    CodecError::BadId(show(obj.get("id").unwrap_or(&Value::Null)))
                })?;
                Ok(ClientMessage::Reply {
                    id,
                    result: obj.get("result").cloned().unwrap_or(Value::Null),
                })
            }
        }
    }
}

/// `mining.notify`: a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    pub job_id: String,
    pub prev_hash: PrevHash,
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    pub merkle_branch: Vec<TxMerkleNode>,
    pub version: u32,
    pub nbits: u32,
    pub ntime: u32,
    pub clean_jobs: bool,
}

impl Notify {
    fn params(&self) -> Value {
        let branch: Vec<String> = self
            .merkle_branch
            .iter()
            .map(|n| hex::encode(n.to_byte_array()))
            .collect();
        json!([
            self.job_id,
            self.prev_hash.to_wire(),
            hex::encode(&self.coinb1),
            hex::encode(&self.coinb2),
            branch,
            HexU32Be(self.version).to_string(),
            HexU32Be(self.nbits).to_string(),
            HexU32Be(self.ntime).to_string(),
            self.clean_jobs,
        ])
    }

    fn from_params(p: &[Value]) -> Result<Self, CodecError> {
        if p.len() != 9 {
            return Err(params_err(
                "mining.notify",
                format!("expected 9 params, got {}", p.len()),
            ));
        }
        let branch = p[4]
            .as_array()
            .ok_or_else(|| params_err("mining.notify", "merkle branch must be a list"))?;
        if branch.len() > MAX_BRANCH {
            return Err(params_err(
                "mining.notify",
                format!("merkle branch of {} entries", branch.len()),
            ));
        }
        let merkle_branch = branch
            .iter()
            .map(|b| {
                let bytes = hex_field("merkle branch", b, 32)?;
                let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| WireError::Length {
                    field: "merkle branch",
                    got: bytes.len(),
                    expected: "32".into(),
                })?;
                Ok(TxMerkleNode::from_byte_array(arr))
            })
            .collect::<Result<Vec<_>, CodecError>>()?;
        Ok(Notify {
            job_id: job_id(&p[0])?,
            prev_hash: PrevHash::parse(as_str("prevhash", &p[1])?)?,
            coinb1: hex_field("coinb1", &p[2], MAX_COINBASE_PART)?,
            coinb2: hex_field("coinb2", &p[3], MAX_COINBASE_PART)?,
            merkle_branch,
            version: HexU32Be::from_json("version", &p[5])?.0,
            nbits: HexU32Be::from_json("nbits", &p[6])?.0,
            ntime: HexU32Be::from_json("ntime", &p[7])?.0,
            clean_jobs: p[8].as_bool().ok_or_else(|| WireError::Type {
                field: "clean_jobs",
                expected: "true or false",
                got: show(&p[8]),
            })?,
        })
    }
}

/// A pool's error triple `[code, message, data]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StratumError {
    pub code: i64,
    pub message: String,
    pub data: Value,
}

impl StratumError {
    fn from_json(v: &Value) -> Result<Option<Self>, CodecError> {
        match v {
            Value::Null => Ok(None),
            Value::Array(a) if !a.is_empty() && a.len() <= 3 => Ok(Some(StratumError {
                code: a[0]
                    .as_i64()
                    .ok_or_else(|| params_err("error", format!("code {}", show(&a[0]))))?,
                message: a
                    .get(1)
                    .map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| show(m)))
                    .unwrap_or_default(),
                data: a.get(2).cloned().unwrap_or(Value::Null),
            })),
            // Some pools send JSON-RPC 2.0 style objects.
            Value::Object(o) => Ok(Some(StratumError {
                code: o.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: o
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: o.get("data").cloned().unwrap_or(Value::Null),
            })),
            other => Err(params_err("error", format!("unexpected {}", show(other)))),
        }
    }
}

/// A reply, as sent; [`PendingMap::resolve`] gives it a type.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub id: u64,
    pub result: Value,
    pub error: Option<StratumError>,
    /// ckpool's reason next to `"result": false`.
    pub reject_reason: Option<String>,
}

/// A line the pool sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    Reply(Reply),
    Notify(Notify),
    SetDifficulty(Difficulty),
    SetExtranonce {
        extranonce1: Extranonce1,
        extranonce2_size: Extranonce2Size,
    },
    SetVersionMask(u32),
    Reconnect {
        host: Option<String>,
        port: Option<u16>,
        wait: Option<u64>,
    },
    ShowMessage(String),
    GetVersion {
        id: ServerId,
    },
    Ping {
        id: ServerId,
    },
}

fn parse_object(line: &str) -> Result<Map<String, Value>, CodecError> {
    if line.len() > MAX_LINE {
        return Err(CodecError::LineTooLong);
    }
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(CodecError::NotObject),
        Err(e) => Err(CodecError::Json(e.to_string())),
    }
}

fn params_array<'a>(method: &str, obj: &'a Map<String, Value>) -> Result<&'a [Value], CodecError> {
    match obj.get("params") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(params_err(
            method,
            format!("params must be a list, got {}", show(other)),
        )),
    }
}

impl ServerMessage {
    /// Parse one line from the pool.
    pub fn from_line(line: &str) -> Result<Self, CodecError> {
        let obj = parse_object(line)?;
        match obj.get("method") {
            Some(Value::String(method)) => Self::from_method(method, &obj),
            Some(Value::Null) | None => {
                let idv = obj.get("id").unwrap_or(&Value::Null);
                let id = idv.as_u64().ok_or_else(|| CodecError::BadId(show(idv)))?;
                let reject_reason = match obj.get("reject-reason") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(as_str("reject-reason", v)?.to_string()),
                };
                Ok(ServerMessage::Reply(Reply {
                    id,
                    result: obj.get("result").cloned().unwrap_or(Value::Null),
                    error: StratumError::from_json(obj.get("error").unwrap_or(&Value::Null))?,
                    reject_reason,
                }))
            }
            Some(other) => Err(params_err("message", format!("method is {}", show(other)))),
        }
    }

    fn from_method(method: &str, obj: &Map<String, Value>) -> Result<Self, CodecError> {
        let p = params_array(method, obj)?;
        let exactly = |n: usize| {
            if p.len() == n {
                Ok(())
            } else {
                Err(params_err(
                    method,
                    format!("expected {n} params, got {}", p.len()),
                ))
            }
        };
        let request_id = || {
            obj.get("id")
                .and_then(ServerId::from_json)
                .ok_or_else(|| CodecError::BadId(show(obj.get("id").unwrap_or(&Value::Null))))
        };
        Ok(match method {
            "mining.notify" => ServerMessage::Notify(Notify::from_params(p)?),
            "mining.set_difficulty" => {
                exactly(1)?;
                ServerMessage::SetDifficulty(Difficulty::from_json(&p[0])?)
            }
            "mining.set_extranonce" => {
                exactly(2)?;
                ServerMessage::SetExtranonce {
                    extranonce1: Extranonce1::parse(as_str("extranonce1", &p[0])?)?,
                    extranonce2_size: Extranonce2Size::from_json(&p[1])?,
                }
            }
            "mining.set_version_mask" => {
                exactly(1)?;
                ServerMessage::SetVersionMask(HexU32Be::from_json("version mask", &p[0])?.0)
            }
            "client.reconnect" => {
                if p.len() > 3 {
                    return Err(params_err(method, "more than 3 params"));
                }
                let host = match p.first() {
                    None | Some(Value::Null) => None,
                    Some(v) => {
                        let h = as_str("host", v)?;
                        if h.is_empty() || h.len() > 255 || !h.is_ascii() {
                            return Err(WireError::Value {
                                field: "host",
                                value: show(v),
                            }
                            .into());
                        }
                        Some(h.to_string())
                    }
                };
                let port = match p.get(1) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_u64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            .and_then(|n| u16::try_from(n).ok())
                            .filter(|&n| n != 0)
                            .ok_or_else(|| WireError::Value {
                                field: "port",
                                value: show(v),
                            })?,
                    ),
                };
                let wait = match p.get(2) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| WireError::Value {
                        field: "wait",
                        value: show(v),
                    })?),
                };
                ServerMessage::Reconnect { host, port, wait }
            }
            "client.show_message" => {
                exactly(1)?;
                ServerMessage::ShowMessage(as_str("message", &p[0])?.to_string())
            }
            "client.get_version" => ServerMessage::GetVersion { id: request_id()? },
            "mining.ping" => ServerMessage::Ping { id: request_id()? },
            other => return Err(CodecError::UnknownMethod(other.chars().take(64).collect())),
        })
    }

    /// One JSON line, with its `\n` (what a pool would send).
    pub fn to_line(&self) -> String {
        let note =
            |method: &str, params: Value| json!({"id": null, "method": method, "params": params});
        let v = match self {
            ServerMessage::Reply(r) => {
                let mut o = Map::new();
                o.insert("id".into(), json!(r.id));
                o.insert("result".into(), r.result.clone());
                o.insert(
                    "error".into(),
                    match &r.error {
                        None => Value::Null,
                        Some(e) => json!([e.code, e.message, e.data]),
                    },
                );
                if let Some(reason) = &r.reject_reason {
                    o.insert("reject-reason".into(), json!(reason));
                }
                Value::Object(o)
            }
            ServerMessage::Notify(n) => note("mining.notify", n.params()),
            ServerMessage::SetDifficulty(d) => note("mining.set_difficulty", json!([d.to_json()])),
            ServerMessage::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => note(
                "mining.set_extranonce",
                json!([extranonce1.to_string(), extranonce2_size.get()]),
            ),
            ServerMessage::SetVersionMask(m) => {
                note("mining.set_version_mask", json!([HexU32Be(*m).to_string()]))
            }
            ServerMessage::Reconnect { host, port, wait } => {
                let mut p = vec![json!(host)];
                if port.is_some() || wait.is_some() {
                    p.push(json!(port));
                }
                if wait.is_some() {
                    p.push(json!(wait));
                }
                note("client.reconnect", Value::Array(p))
            }
            ServerMessage::ShowMessage(m) => note("client.show_message", json!([m])),
            ServerMessage::GetVersion { id } => {
                json!({"id": id.to_json(), "method": "client.get_version", "params": []})
            }
            ServerMessage::Ping { id } => {
                json!({"id": id.to_json(), "method": "mining.ping", "params": []})
            }
        };
        format!("{v}\n")
    }
}

/// What a request was, remembered until its reply arrives.
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    Configure,
    Subscribe {
        resume: Option<String>,
    },
    Authorize,
    ExtranonceSubscribe,
    SuggestDifficulty,
    /// The engine's job id of the share (to settle its accounting).
    Submit {
        share_job: String,
    },
}

/// A pool's refusal (of a share or of authorization).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub code: Option<i64>,
    pub reason: String,
}

impl Rejection {
    fn from_reply(r: &Reply) -> Self {
        match (&r.error, &r.reject_reason) {
            (Some(e), _) => Rejection {
                code: Some(e.code),
                reason: if e.message.is_empty() {
                    format!("error {}", e.code)
                } else {
                    e.message.clone()
                },
            },
            (None, Some(reason)) => Rejection {
                code: None,
                reason: reason.clone(),
            },
            (None, None) => Rejection {
                code: None,
                reason: "rejected without a reason".into(),
            },
        }
    }

    /// Whether the pool says it has seen this share already (error 22 or
    /// ckpool's "Duplicate").
    pub fn is_duplicate(&self) -> bool {
        self.code == Some(22) || self.reason.to_ascii_lowercase().contains("duplicate")
    }

    /// Whether the share was refused for being late (its job is gone):
    /// error 21 "job not found", or ckpool's "Stale" / "Invalid JobID".
    pub fn is_stale(&self) -> bool {
        if self.code == Some(21) {
            return true;
        }
        let r = self.reason.to_ascii_lowercase();
        r.contains("stale") || r.contains("job not found") || r.contains("invalid jobid")
    }
}

/// The subscribe answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscribed {
    /// `(method, subscription id)` pairs.
    pub subscriptions: Vec<(String, String)>,
    pub extranonce1: Extranonce1,
    pub extranonce2_size: Extranonce2Size,
}

impl Subscribed {
    /// The id to resume the session with: the `mining.notify`
    /// subscription's, or the first one given.
    pub fn session_id(&self) -> Option<&str> {
        self.subscriptions
            .iter()
            .find(|(m, _)| m == "mining.notify")
            .or(self.subscriptions.first())
            .map(|(_, id)| id.as_str())
    }

    fn from_result(v: &Value) -> Result<Self, CodecError> {
        let a = v
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| params_err("mining.subscribe reply", format!("result {}", show(v))))?;
        let subs = a[0]
            .as_array()
            .ok_or_else(|| params_err("mining.subscribe reply", "subscriptions must be a list"))?;
        let pair = |p: &Value| -> Result<(String, String), CodecError> {
            match p.as_array().map(Vec::as_slice) {
                Some([m, id]) => Ok((
                    as_str("subscription method", m)?.to_string(),
                    match id {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        other => {
                            return Err(params_err(
                                "mining.subscribe reply",
                                format!("subscription id {}", show(other)),
                            ))
                        }
                    },
                )),
                _ => Err(params_err(
                    "mining.subscribe reply",
                    format!("subscription {}", show(p)),
                )),
            }
        };
        // Either a list of pairs or (some pools) a single pair.
        let subscriptions = if subs.len() == 2 && subs[0].is_string() {
            vec![pair(&a[0])?]
        } else {
            subs.iter().take(16).map(pair).collect::<Result<_, _>>()?
        };
        Ok(Subscribed {
            subscriptions,
            extranonce1: Extranonce1::parse(as_str("extranonce1", &a[1])?)?,
            extranonce2_size: Extranonce2Size::from_json(&a[2])?,
        })
    }

    /// The reply's `result` value.
    pub fn to_result(&self) -> Value {
        let subs: Vec<Value> = self
            .subscriptions
            .iter()
            .map(|(m, id)| json!([m, id]))
            .collect();
        json!([
            subs,
            self.extranonce1.to_string(),
            self.extranonce2_size.get()
        ])
    }
}

/// A reply interpreted through the request it answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The granted version-rolling mask, if the pool allows rolling.
    Configure(Option<u32>),
    Subscribe(Result<Subscribed, Rejection>),
    Authorize(Result<(), Rejection>),
    ExtranonceSubscribe(bool),
    SuggestDifficulty(bool),
    Submit {
        share_job: String,
        outcome: Result<(), Rejection>,
    },
}

fn bool_outcome(r: &Reply) -> Result<(), Rejection> {
    if r.error.is_none() && r.result == Value::Bool(true) {
        Ok(())
    } else {
        Err(Rejection::from_reply(r))
    }
}

/// Requests waiting for their replies, by id.
#[derive(Debug, Default)]
pub struct PendingMap {
    next_id: u64,
    waiting: HashMap<u64, (Pending, Instant)>,
}

impl PendingMap {
    pub fn new() -> Self {
        PendingMap {
            next_id: 1,
            waiting: HashMap::new(),
        }
    }

    /// Give `request` the next id and remember it; returns the message.
    pub fn register(
        &mut self,
        request: Request,
        pending: Pending,
        now: Instant,
    ) -> Result<ClientMessage, CodecError> {
        if self.waiting.len() >= MAX_PENDING {
            return Err(CodecError::TooManyPending);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.insert(id, (pending, now));
        Ok(ClientMessage::Request { id, request })
    }

    /// Match a reply to its request and interpret it accordingly. Returns
    /// the answer and the time since the request was sent.
    pub fn resolve(
        &mut self,
        reply: &Reply,
        now: Instant,
    ) -> Result<(Answer, Duration), CodecError> {
        let (pending, sent) = self
            .waiting
            .remove(&reply.id)
            .ok_or_else(|| CodecError::UnknownId(reply.id.to_string()))?;
        let latency = now.saturating_duration_since(sent);
        let answer = match pending {
            Pending::Configure => Answer::Configure(configure_mask(reply)),
            Pending::Subscribe { .. } => Answer::Subscribe(match reply.error {
                Some(_) => Err(Rejection::from_reply(reply)),
                None => Ok(Subscribed::from_result(&reply.result)?),
            }),
            Pending::Authorize => Answer::Authorize(bool_outcome(reply)),
            Pending::ExtranonceSubscribe => {
                Answer::ExtranonceSubscribe(bool_outcome(reply).is_ok())
            }
            Pending::SuggestDifficulty => Answer::SuggestDifficulty(bool_outcome(reply).is_ok()),
            Pending::Submit { share_job } => Answer::Submit {
                share_job,
                outcome: bool_outcome(reply),
            },
        };
        Ok((answer, latency))
    }

    /// Forget every request (the connection is gone) and return them.
    pub fn drain(&mut self) -> Vec<Pending> {
        self.waiting.drain().map(|(_, (p, _))| p).collect()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

fn configure_mask(reply: &Reply) -> Option<u32> {
    let o = reply.result.as_object()?;
    if o.get("version-rolling")?.as_bool()? {
        let m = o.get("version-rolling.mask")?;
        HexU32Be::from_json("version-rolling.mask", m)
            .ok()
            .map(|h| h.0)
    } else {
        None
    }
}

/// The result object granting (or refusing) version rolling.
pub fn configure_result(mask: Option<u32>) -> Value {
    match mask {
        Some(m) => {
            json!({"version-rolling": true, "version-rolling.mask": HexU32Be(m).to_string()})
        }
        None => json!({"version-rolling": false}),
    }
}
