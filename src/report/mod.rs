//! What a run shows about itself, kept apart from the work sources that
//! feed it and the hashing core it measures.
//!
//! - [`stats`]: the one shared [`stats::Stats`] every consumer reads;
//! - [`api`], [`metrics`]: the cgminer-compatible API and Prometheus;
//! - [`progress`], [`units`]: the terminal line and how rates are written;
//! - [`plot`]: the benchmark as an SVG chart.

pub mod api;
pub mod metrics;
pub mod plot;
pub mod progress;
pub mod stats;
pub mod units;
