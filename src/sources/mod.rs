//! Work sources: what turns outside data into [`Job`]s for the engine and
//! takes its [`Share`]s back, and the machinery they all share, so that a
//! new protocol only speaks its wire.
//!
//! Every source has the shape of [`WorkSource`]: it hands jobs to a
//! [`Miner`] (`set_job`, and `pause`/`resume` around an outage), takes the
//! re-checked shares the miner sends on its channel, and reports each
//! share's outcome and its connection state into one [`ShareStats`],
//! mirrored into the run's [`Stats`](crate::report::stats::Stats) for the
//! status line, the API and the metrics.
//!
//! The shared parts:
//! - [`accounting`]: [`ShareStats`], the share accounting of every source
//!   (found, accepted, rejected by reason, stale, latency, one row per
//!   pool or node), and its mirror into the run's stats;
//! - [`backoff`]: retry delays (doubling to a cap, with or without jitter)
//!   and sleeps that a stop cuts short;
//! - [`outbox`]: the bounded queue of shares waiting for a connection;
//! - [`pool`]: the pool runner (the `-o` list, failover and failback,
//!   redirects, the offline queue and pause, `max_shares`) and the
//!   [`pool::PoolProtocol`] trait a pool protocol implements for it;
//! - [`pools`]: the protocols behind one `-o` list, chosen by URL scheme.
//!
//! The sources:
//! - [`stratum`]: Stratum v1, a [`pool::PoolProtocol`];
//! - [`sv2`]: Stratum V2 (the SRI's crates), a [`pool::PoolProtocol`];
//! - [`gbt`]: solo mining against a node (getblocktemplate, submitblock),
//!   with its own loop (longpoll, the pending-block store).

#[cfg(doc)]
use crate::hashing::{
    engine::Miner,
    work::{Job, Share},
};
#[cfg(doc)]
use accounting::ShareStats;
use accounting::SharedStats;

pub mod accounting;
pub mod backoff;
pub mod gbt;
pub mod outbox;
pub mod pool;
pub mod pools;
pub mod stratum;
pub mod sv2;

/// The interface every work source implements.
///
/// A source is built with what it mines with: the [`Miner`] its jobs go
/// to, the receiver of the shares that miner finds (or the miner's
/// configuration, for a source that starts the engine itself once it has
/// work), its [`ShareStats`], and the run's stop condition. [`mine`]
/// then runs it to the end:
/// - jobs out: every [`Job`] goes to the miner as soon as the source has
///   it, and `set_job(None)` when the work is no longer valid;
/// - shares in: each [`Share`] the miner sends is counted found and is
///   submitted, queued for a connection, or counted stale;
/// - outcomes: each submitted share ends accepted, rejected (with the
///   reason given) or stale in the [`ShareStats`];
/// - connection state: each pool's or node's row says `Alive`, `Dead` or
///   `Connecting`;
/// - shutdown: the stop condition is polled often; on a stop the source
///   gives outstanding submissions a moment, counts what cannot be
///   submitted any more, and returns.
///
/// [`mine`]: WorkSource::mine
pub trait WorkSource {
    /// What a finished run returns besides the accounting.
    type Output;
    /// Why a run could not go on.
    type Error;

    /// The command this source serves (`pool`, `solo`), as the run's
    /// stats name it.
    fn name(&self) -> &'static str;

    /// The share accounting the source counts into; the caller prints
    /// its summary at the end.
    fn stats(&self) -> SharedStats;

    /// Mine until the stop condition says so or the source is done.
    fn mine(self) -> Result<Self::Output, Self::Error>;
}
