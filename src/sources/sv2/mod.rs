//! Pool mining over Stratum V2, on the SRI's own crates (`stratum-core`:
//! framing, Noise, codec and messages, at the version the SRI pool role is
//! built with).
//!
//! - [`key`]: the pool's authority key (the end of a `stratum2+tcp://HOST:PORT/KEY`
//!   URL, which [`PoolUrl`](crate::sources::pool::PoolUrl) parses);
//! - [`wire`]: the Noise-encrypted link and the messages as plain values;
//! - [`channel`]: one mining channel's jobs, target and shares in flight
//!   (no I/O);
//! - [`session`]: setup, channel opening, and the loop that feeds the
//!   engine and submits its shares.
//!
//! `docs/pool-mining.md` explains what differs from Stratum v1.

pub mod channel;
pub mod key;
pub mod session;
pub mod wire;
