//! Pool mining over Stratum v1.
//!
//! - [`wire`]: newtypes for the wire quirks (word-swapped prevhash,
//!   big-endian hex integers, bounded extranonces, difficulty);
//! - [`codec`]: typed messages and their JSON lines, line framing with a
//!   cap, and the pending-id map that gives replies their meaning (no I/O);
//! - [`job`]: notify + session state into an engine [`crate::hashing::work::Job`],
//!   and a [`crate::hashing::work::Share`] into `mining.submit`;
//! - [`transport`]: pool URLs, TCP and TLS (`rustls`);
//! - [`session`]: the client thread: handshake, reconnect with backoff,
//!   failover, share accounting;
//! - [`stats`]: the share counters the command reports.
//!
//! `docs/pool-mining.md` explains the protocol as noncesweep speaks it.

pub mod codec;
pub mod job;
pub mod session;
pub mod stats;
pub mod transport;
pub mod wire;
