//! Pool mining over Stratum V2, on the SRI's own crates (`stratum-core`:
//! framing, Noise, codec and messages, at the version the SRI pool role is
//! built with).
//!
//! - [`url`]: `stratum2+tcp://HOST:PORT/AUTHORITY_PUBKEY` and the key;
//! - [`wire`]: the Noise-encrypted link and the messages as plain values;
//! - [`channel`]: one mining channel's jobs, target and shares in flight
//!   (no I/O);
//! - [`session`]: setup, channel opening, and the loop that feeds the
//!   engine and submits its shares.
//!
//! `docs/pool-mining.md` explains what differs from Stratum v1.

pub mod channel;
pub mod session;
pub mod url;
pub mod wire;
