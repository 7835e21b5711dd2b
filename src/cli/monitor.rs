//! Options for watching and steering a long run, shared by every mining
//! command: the status line, the monitoring API and CPU controls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use noncesweep::api::{self, ApiServer};
use noncesweep::stats::{Reporter, Stats};

#[derive(Debug, Args, Clone)]
pub struct MonitorArgs {
    /// Seconds between status lines.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "S")]
    pub status_interval: f64,
    /// Also print each thread's rate with every status line.
    #[arg(long, global = true)]
    pub per_thread: bool,
    /// Serve the read-only cgminer-compatible API here (e.g. 127.0.0.1:4028).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub api_listen: Option<SocketAddr>,
    /// Clients allowed to use the API besides loopback: comma-separated
    /// addresses or CIDRs. Required to listen on a non-loopback address.
    #[arg(long, global = true, value_name = "LIST")]
    pub api_allow: Option<String>,
    /// Pin each worker thread to its own CPU core.
    #[arg(long, global = true)]
    pub cpu_affinity: bool,
    /// Run at low priority so the machine stays usable (niceness 0..19;
    /// `--nice` alone means 19).
    #[arg(long, global = true, value_name = "N", num_args = 0..=1, default_missing_value = "19")]
    pub nice: Option<i32>,
}

/// The status thread and API server of a run; both stop when dropped.
pub struct Monitoring {
    _reporter: Reporter,
    _api: Option<ApiServer>,
}

impl MonitorArgs {
    /// Check values that clap cannot.
    pub fn validate(&self) -> Result<()> {
        if !(self.status_interval.is_finite() && self.status_interval >= 0.1) {
            bail!(
                "--status-interval must be at least 0.1 seconds, got {}",
                self.status_interval
            );
        }
        if let Some(n) = self.nice {
            if !(0..=19).contains(&n) {
                bail!("--nice must be from 0 to 19, got {n}");
            }
        }
        if let Some(addr) = self.api_listen {
            let allow = api::parse_allow(self.api_allow.as_deref().unwrap_or(""))?;
            if !addr.ip().is_loopback() && allow.is_empty() {
                return Err(api::ApiError::NeedsAllowList(addr).into());
            }
        }
        Ok(())
    }

    /// Lower the process priority when `--nice` is given, and pin workers
    /// to cores with `--cpu-affinity`.
    pub fn apply_priority(&self) -> Result<()> {
        noncesweep::engine::pin_workers(self.cpu_affinity);
        if let Some(n) = self.nice {
            // SAFETY: setpriority only reads its integer arguments; `0` as
            // `who` means the calling process.
            let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error()).context("--nice: setpriority failed");
            }
            tracing::info!(niceness = n, "running at low priority");
        }
        Ok(())
    }

    /// Start the status line (unless `quiet`) and the API (when asked).
    pub fn start(&self, stats: &Arc<Stats>, quiet: bool) -> Result<Monitoring> {
        self.validate()?;
        let reporter = stats.spawn_reporter(
            Duration::from_secs_f64(self.status_interval),
            self.per_thread,
            quiet,
        );
        let api = match self.api_listen {
            Some(addr) => {
                let allow = api::parse_allow(self.api_allow.as_deref().unwrap_or(""))?;
                Some(ApiServer::start(addr, allow, Arc::clone(stats))?)
            }
            None => None,
        };
        Ok(Monitoring {
            _reporter: reporter,
            _api: api,
        })
    }
}
