//! noncesweep: a Bitcoin SHA-256d proof-of-work miner for CPUs.
//!
//! The library holds everything; the `noncesweep` binary is a thin command
//! line over it. The flow of work:
//!
//! ```text
//! work source --Job--> header/coinbase --WorkUnit--> engine (rayon) --hit--> re-check --Share--> work source
//! ```
//!
//! - [`hashing`]: the hashing core, from a job to a re-checked share
//!   (header, coinbase, work types, targets, SHA-256 kernels, the engine);
//! - [`sources`]: the work sources that feed it (solo over getblocktemplate,
//!   pool over Stratum) and the machinery they share;
//! - [`report`]: what a run reports (stats, the cgminer API, Prometheus
//!   metrics, the progress line, units, the benchmark plot);
//! - [`mod@bench`], [`remine`]: the commands built directly on the engine;
//! - [`teach`], [`profit`]: the nonce-search walkthrough and the profitability model;
//! - [`shutdown`]: Ctrl-C handling shared by every command.

pub mod bench;
pub mod fuzz_targets;
pub mod hashing;
pub mod profit;
pub mod remine;
pub mod report;
pub mod shutdown;
pub mod sources;
pub mod teach;
