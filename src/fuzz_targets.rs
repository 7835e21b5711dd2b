//! Entry points for fuzzing the parsers that read untrusted input, shared by
//! the cargo-fuzz targets in `fuzz/` and by the corpus smoke test that the
//! test command runs on stable Rust. Each must return for any input, never
//! panic, and keep what it checks true.

use std::sync::{Arc, OnceLock};

use crate::header::HeaderTemplate;
use crate::stats::Stats;

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
    let _ = crate::units::parse_u32(&text);
}

/// Monitoring API requests: every reply is JSON for a JSON request, or
/// cgminer's text form, and always has a STATUS.
pub fn api_request(data: &[u8]) {
    static STATS: OnceLock<Arc<Stats>> = OnceLock::new();
    let stats = STATS.get_or_init(|| Stats::new("fuzz"));
    let text = String::from_utf8_lossy(&data[..data.len().min(crate::api::MAX_REQUEST)]);
    let reply = crate::api::handle_request(text.trim(), stats);
    if text.trim().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&reply).expect("JSON reply to a JSON request");
        assert!(v.is_object());
    } else {
        assert!(reply.contains("STATUS="), "{reply}");
    }
}
