//! Entry points for fuzzing the parsers that read untrusted input, shared by
//! the cargo-fuzz targets in `fuzz/` and by the corpus smoke test that the
//! test command runs on stable Rust. Each must return for any input, never
//! panic, and keep what it checks true.

use std::sync::{Arc, OnceLock};

use crate::hashing::header::HeaderTemplate;
use crate::report::stats::Stats;

/// Header and number parsing: hex in, header out, and back.
pub fn header_hex(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(h) = HeaderTemplate::from_hex(&text) {
        let bytes = h.to_bytes();
        assert_eq!(hex::encode(bytes), text.trim().to_ascii_lowercase());
        assert_eq!(HeaderTemplate::from_bytes(&bytes), h);
        let _ = h.work_unit(h.block_target()).hash_state(h.header.nonce);
    }
    if data.len() == 80 {
        let h = HeaderTemplate::from_bytes(data.try_into().expect("80 bytes"));
        assert_eq!(&h.to_bytes()[..], data);
    }
    let _ = crate::report::units::parse_u32(&text);
}

/// Monitoring API requests: every reply is JSON for a JSON request, or
/// cgminer's text form, and always has a STATUS.
pub fn api_request(data: &[u8]) {
    static STATS: OnceLock<Arc<Stats>> = OnceLock::new();
    let stats = STATS.get_or_init(|| Stats::new("fuzz"));
    let text = String::from_utf8_lossy(&data[..data.len().min(crate::report::api::MAX_REQUEST)]);
    let reply = crate::report::api::handle_request(text.trim(), stats);
    if text.trim().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&reply).expect("JSON reply to a JSON request");
        assert!(v.is_object());
    } else {
        assert!(reply.contains("STATUS="), "{reply}");
    }
}

/// Stratum: bytes from a pool, split into capped lines and parsed. A line
/// that parses must serialize and parse again to the same message, and the
/// line buffer must never hold much more than one line.
pub fn stratum_line(data: &[u8]) {
    use crate::sources::stratum::codec::{LineBuffer, ServerMessage, MAX_LINE};
    let mut buf = LineBuffer::new();
    for chunk in data.chunks(97) {
        buf.push(chunk);
        loop {
            match buf.next_line() {
                Ok(Some(line)) => {
                    if let Ok(msg) = ServerMessage::from_line(&line) {
                        let again = ServerMessage::from_line(msg.to_line().trim_end())
                            .expect("a parsed message serializes to a parsable line");
                        assert_eq!(again, msg);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // The connection would be dropped: start afresh.
                    buf = LineBuffer::new();
                    break;
                }
            }
        }
        assert!(buf.len() <= MAX_LINE + 97);
    }
}

/// getblocktemplate: any JSON from a node. A template that validates must
/// turn into a job whose first header variant can be built.
pub fn gbt_template(data: &[u8]) {
    use crate::sources::gbt::template::{BlockTemplate, Payout, TemplateJob};
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(t) = BlockTemplate::from_json(&v) else {
        return;
    };
    let payout = Payout {
        script: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
        tag: b"/fuzz/".to_vec(),
    };
    if let Ok(job) = TemplateJob::new(Arc::new(t), &payout, "fuzz".into()) {
        let _ = job.job.variant(0);
    }
}
