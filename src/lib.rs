//! noncesweep: a Bitcoin SHA-256d proof-of-work miner for CPUs.
//!
//! The library holds everything; the `noncesweep` binary is a thin command
//! line over it. The flow of work:
//!
//! ```text
//! work source --Job--> header/coinbase --WorkUnit--> engine (rayon) --hit--> re-check --Share--> work source
//! ```
//!
//! - [`pow`]: targets and difficulty;
//! - [`header`], [`coinbase`]: building the header and the coinbase;
//! - [`work`]: the job, header variant and share types;
//! - [`sha256`]: the nonce-sweep kernels and backend dispatch;
//! - [`engine`]: the parallel search;
//! - [`gbt`]: solo mining against a node (getblocktemplate, submitblock);
//! - [`bench`], [`remine`]: the commands built directly on the engine ([`plot`] draws the benchmark);
//! - [`stratum`]: pool mining over Stratum v1;
//! - [`teach`], [`profit`]: the nonce-search walkthrough and the profitability model;
//! - [`progress`], [`units`]: how progress and rates are shown;
//! - [`stats`], [`api`], [`metrics`]: what a long run reports, over the cgminer API and to Prometheus.

pub mod api;
pub mod bench;
pub mod coinbase;
pub mod engine;
pub mod fuzz_targets;
pub mod gbt;
pub mod header;
pub mod metrics;
pub mod plot;
pub mod pow;
pub mod profit;
pub mod progress;
pub mod remine;
pub mod sha256;
pub mod shutdown;
pub mod stats;
pub mod stratum;
pub mod teach;
pub mod units;
pub mod work;
