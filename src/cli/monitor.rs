//! Options for watching and steering a long run, shared by every mining
//! command: the status line, the monitoring API, Prometheus metrics and
//! CPU controls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use noncesweep::hashing::sha256::Selection;
use noncesweep::report::api::{self, ApiServer};
use noncesweep::report::metrics::{MetricsServer, RunInfo};
use noncesweep::report::stats::{Reporter, Stats};

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
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (e.g.
    /// 127.0.0.1:9184).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Clients allowed to use the API and the metrics besides loopback:
    /// comma-separated addresses or CIDRs. Required to listen on a
    /// non-loopback address.
    #[arg(long, global = true, value_name = "LIST")]
    pub api_allow: Option<String>,
    /// Pin worker threads to CPUs: alone, each worker to its own core; with
    /// a cpuminer-style hex mask (`--cpu-affinity 0x3`: CPUs 0 and 1), the
    /// workers to the mask's CPUs in turn.
    #[arg(
        long,
        global = true,
        value_name = "MASK",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "each-core",
        value_parser = parse_affinity
    )]
    pub cpu_affinity: Option<Affinity>,
    /// Run at low priority so the machine stays usable (niceness 0..19;
    /// `--nice` alone means 19).
    #[arg(long, global = true, value_name = "N", num_args = 0..=1, default_missing_value = "19")]
    pub nice: Option<i32>,
}

/// Where `--cpu-affinity` pins the workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affinity {
    /// Each worker to its own core (`--cpu-affinity` alone).
    EachCore,
    /// The CPUs of a hex mask, lowest first.
    Cpus(Vec<usize>),
}

/// Parse `--cpu-affinity`'s value: a hex mask with or without `0x`, a bit
/// per CPU (cpuminer's form, up to 128 CPUs).
pub fn parse_affinity(s: &str) -> Result<Affinity, String> {
    if s == "each-core" {
        return Ok(Affinity::EachCore);
    }
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mask = u128::from_str_radix(hex, 16).map_err(|_| {
        format!("{s:?} is not a CPU mask: give hex digits, one bit per CPU (0x3 = CPUs 0 and 1)")
    })?;
    if mask == 0 {
        return Err("a CPU mask of 0 names no CPU".into());
    }
    Ok(Affinity::Cpus(
        (0..128).filter(|b| mask >> b & 1 == 1).collect(),
    ))
}

/// Whether `s` can be `--cpu-affinity`'s value (a hex mask).
pub fn looks_like_mask(s: &str) -> bool {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Set the process's niceness (`--nice`, cpuminer's `--cpu-priority`).
pub fn set_niceness(n: i32, flag: &str) -> Result<()> {
    // SAFETY: setpriority only reads its integer arguments; `0` as `who`
    // means the calling process.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if n < 0 {
            return Err(e).with_context(|| {
                format!("{flag}: raising the priority (niceness {n}) needs root or CAP_SYS_NICE")
            });
        }
        return Err(e).with_context(|| format!("{flag}: setpriority failed"));
    }
    tracing::info!(niceness = n, "process priority set");
    Ok(())
}

/// What the info metric says about a run mining with `selection`, on
/// work that does or does not allow version rolling.
pub fn run_info(selection: &Selection, version_rolling: bool) -> RunInfo {
    let kernel = selection.for_job(version_rolling);
    RunInfo {
        backend: kernel.backend().name().to_string(),
        lanes: kernel.mode().name().to_string(),
        kernel: kernel.variant().to_string(),
    }
}

/// The status thread, API server and metrics endpoint of a run; all stop
/// when dropped.
pub struct Monitoring {
    _reporter: Reporter,
    _api: Option<ApiServer>,
    _metrics: Option<MetricsServer>,
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
        let allow = api::parse_allow(self.api_allow.as_deref().unwrap_or(""))?;
        if let Some(addr) = self.api_listen {
            if !addr.ip().is_loopback() && allow.is_empty() {
                return Err(api::ApiError::NeedsAllowList(addr).into());
            }
        }
        if let Some(addr) = self.metrics_listen {
            if !addr.ip().is_loopback() && allow.is_empty() {
                return Err(api::ApiError::MetricsNeedsAllowList(addr).into());
            }
        }
        if let Some(Affinity::Cpus(cpus)) = &self.cpu_affinity {
            let n = core_affinity_count();
            if let Some(&too_high) = cpus.iter().find(|&&c| c >= n) {
                bail!(
                    "--cpu-affinity names CPU {too_high}, but this machine has {n} (0 to {})",
                    n - 1
                );
            }
        }
        Ok(())
    }

    /// Lower the process priority when `--nice` is given, and pin workers
    /// to cores with `--cpu-affinity`.
    pub fn apply_priority(&self) -> Result<()> {
        match &self.cpu_affinity {
            None => noncesweep::hashing::engine::pin_workers(false),
            Some(Affinity::EachCore) => noncesweep::hashing::engine::pin_workers(true),
            Some(Affinity::Cpus(cpus)) => noncesweep::hashing::engine::pin_workers_to(cpus.clone()),
        }
        if let Some(n) = self.nice {
            set_niceness(n, "--nice")?;
        }
        Ok(())
    }

    /// Start the status line (unless `quiet`), the API and the metrics
    /// endpoint (when asked).
    pub fn start(&self, stats: &Arc<Stats>, quiet: bool, info: RunInfo) -> Result<Monitoring> {
        self.validate()?;
        let reporter = stats.spawn_reporter(
            Duration::from_secs_f64(self.status_interval),
            self.per_thread,
            quiet,
        );
        let allow = api::parse_allow(self.api_allow.as_deref().unwrap_or(""))?;
        let api = match self.api_listen {
            Some(addr) => Some(ApiServer::start(addr, allow.clone(), Arc::clone(stats))?),
            None => None,
        };
        let metrics = match self.metrics_listen {
            Some(addr) => Some(MetricsServer::start(addr, allow, Arc::clone(stats), info)?),
            None => None,
        };
        Ok(Monitoring {
            _reporter: reporter,
            _api: api,
            _metrics: metrics,
        })
    }
}

/// How many CPUs the OS can run this process on (for mask checks).
fn core_affinity_count() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .max(
            core_affinity::get_core_ids()
                .map(|c| c.iter().map(|c| c.id + 1).max().unwrap_or(0))
                .unwrap_or(0),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_masks_parse_as_cpuminer_reads_them() {
        assert_eq!(parse_affinity("0x3"), Ok(Affinity::Cpus(vec![0, 1])));
        assert_eq!(parse_affinity("A"), Ok(Affinity::Cpus(vec![1, 3])));
        assert_eq!(parse_affinity("each-core"), Ok(Affinity::EachCore));
        assert!(parse_affinity("0").unwrap_err().contains("no CPU"));
        assert!(parse_affinity("0xZZ")
            .unwrap_err()
            .contains("not a CPU mask"));
        assert!(looks_like_mask("0x3") && looks_like_mask("ff") && !looks_like_mask("pool"));
    }
}
