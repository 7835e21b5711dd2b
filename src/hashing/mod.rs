//! The hashing core: everything between a [`work::Job`] and a re-checked
//! [`work::Share`], independent of where the job came from and of how the
//! run is reported.
//!
//! - [`pow`]: targets and difficulty;
//! - [`header`], [`coinbase`]: building the header and the coinbase;
//! - [`work`]: the job, header variant and share types;
//! - [`sha256`]: the nonce-sweep kernels and backend dispatch;
//! - [`engine`]: the parallel search.

pub mod coinbase;
pub mod engine;
pub mod header;
pub mod pow;
pub mod sha256;
pub mod work;
