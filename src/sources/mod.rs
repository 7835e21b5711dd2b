//! Work sources: what turns outside data into [`Job`](crate::hashing::work::Job)s
//! for the engine and takes its [`Share`](crate::hashing::work::Share)s back.
//!
//! - [`gbt`]: solo mining against a node (getblocktemplate, submitblock);
//! - [`stratum`]: pool mining over Stratum v1;
//! - [`sv2`]: pool mining over Stratum V2.

pub mod gbt;
pub mod stratum;
pub mod sv2;
