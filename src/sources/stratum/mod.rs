//! Pool mining over Stratum v1.
//!
//! - [`wire`]: newtypes for the wire quirks (word-swapped prevhash,
//!   big-endian hex integers, bounded extranonces, difficulty);
//! - [`codec`]: typed messages and their JSON lines, line framing with a
//!   cap, and the pending-id map that gives replies their meaning (no I/O);
//! - [`job`]: notify + session state into an engine [`crate::hashing::work::Job`],
//!   and a [`crate::hashing::work::Share`] into `mining.submit`;
//! - [`transport`]: TCP and TLS (`rustls`), `client.reconnect` targets;
//! - [`session`]: Stratum v1 as a protocol of the pool runner
//!   ([`crate::sources::pool`]): handshake, jobs, submits and their
//!   answers, version rolling, `client.reconnect`, the failback probe.
//!
//! `docs/pool-mining.md` explains the protocol as noncesweep speaks it.

pub mod codec;
pub mod job;
pub mod session;
pub mod transport;
pub mod wire;
