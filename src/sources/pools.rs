//! The pool protocols behind one `-o` list: each URL's scheme picks
//! Stratum v1 or Stratum V2, so a list may mix them (a V2 pool with a v1
//! backup, or the other way round) and the pool runner fails over between
//! them like between pools of one protocol.

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use super::accounting::SharedStats;
use super::pool::{
    ConnectFailure, Pool, PoolError, PoolProtocol, PoolSession, PoolUrl, Prober, Protocol,
};
use super::stratum::session::{SessionConfig, StratumV1};
use super::sv2::session::{Sv2, Sv2Settings};
use super::WorkSource;
use crate::hashing::engine::Miner;
use crate::hashing::work::Share;
use crate::report::stats::Stats;

/// Every pool protocol, chosen per URL.
pub struct Protocols<'a> {
    pub v1: StratumV1<'a>,
    pub v2: Sv2,
}

impl PoolProtocol for Protocols<'_> {
    fn connect(
        &mut self,
        url: &PoolUrl,
        timeout: Duration,
    ) -> Result<Box<dyn PoolSession + '_>, ConnectFailure> {
        match url.protocol {
            Protocol::StratumV1 => self.v1.connect(url, timeout),
            Protocol::StratumV2 => self.v2.connect(url, timeout),
        }
    }

    fn prober(&self) -> Prober {
        let (v1, v2) = (self.v1.prober(), self.v2.prober());
        Arc::new(move |url: &PoolUrl, timeout: Duration| match url.protocol {
            Protocol::StratumV1 => v1(url, timeout),
            Protocol::StratumV2 => v2(url, timeout),
        })
    }
}

/// Mine for `cfg`'s pools (v1 settings in `cfg`, V2 ones in `sv2`) until
/// `stop()` says so, `max_shares` is reached, or every pool refuses us.
pub fn run(
    cfg: &SessionConfig,
    sv2: Sv2Settings,
    miner: &Miner,
    shares: &Receiver<Share>,
    stats: SharedStats,
    report: &Stats,
    stop: &dyn Fn() -> bool,
) -> Result<(), PoolError> {
    let mut protocols = Protocols {
        v1: StratumV1::new(cfg)?,
        v2: Sv2 { settings: sv2 },
    };
    Pool {
        cfg: &cfg.pool,
        protocol: &mut protocols,
        miner,
        shares,
        stats,
        report,
        stop,
    }
    .mine()
}
