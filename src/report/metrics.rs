//! Prometheus metrics: `GET /metrics` in the Prometheus text format
//! (0.0.4), so that the dashboards people already run (Prometheus and
//! Grafana) can watch noncesweep. Every scrape reads the run's shared
//! [`Stats`], the same numbers the status line and the cgminer API show;
//! the `prometheus-client` crate writes the exposition. Loopback-only
//! unless `--api-allow` lists the scraper, like the cgminer API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::report::api::{ApiError, Served};
use crate::report::stats::Stats;

/// Longest request head read, in bytes.
const MAX_REQUEST: usize = 8192;

/// What a run mines with, for the info metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The hashing backend in use (`avx512`, `shani`, ...).
    pub backend: String,
    /// What the kernel's lanes hold: `versions` or `nonces`.
    pub lanes: String,
    /// The kernel variant calibration chose (`x16`, `x32`, ...).
    pub kernel: String,
}

/// The collector that turns a [`Stats`] snapshot into metrics at each
/// scrape.
struct StatsCollector {
    stats: Arc<Stats>,
    info: RunInfo,
}

impl std::fmt::Debug for StatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsCollector")
            .field("command", &self.stats.command())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for StatsCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.stats.snapshot();
        let command = self.stats.command().to_string();
        {
            let mut m = e.encode_descriptor(
                "noncesweep_miner",
                "What this run mines with: command, hashing backend, what its lanes hold and the kernel variant",
                None,
                MetricType::Info,
            )?;
            m.encode_info(&[
                ("command", command.as_str()),
                ("backend", self.info.backend.as_str()),
                ("lanes", self.info.lanes.as_str()),
                ("kernel", self.info.kernel.as_str()),
                ("version", env!("CARGO_PKG_VERSION")),
            ])?;
        }
        gauge(
            &mut e,
            "noncesweep_uptime_seconds",
            "Seconds since the run started",
            s.elapsed_secs,
        )?;
        counter(
            &mut e,
            "noncesweep_hashes",
            "Hashes computed by all worker threads",
            s.hashes,
        )?;
        gauge(
            &mut e,
            "noncesweep_hashrate_hashes_per_second",
            "Hash rate of all threads over the last 5 seconds",
            s.rate_5s,
        )?;
        {
            let mut m = e.encode_descriptor(
                "noncesweep_thread_hashrate_hashes_per_second",
                "Hash rate of each worker thread over the last 5 seconds",
                None,
                MetricType::Gauge,
            )?;
            for (i, r) in s.per_thread_5s.iter().enumerate() {
                let labels = [("thread", i.to_string())];
                ConstGauge::new(*r).encode(m.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut e,
            "noncesweep_shares_accepted",
            "Shares (or solo blocks) the pool or node accepted",
            s.accepted,
        )?;
        {
            let mut m = e.encode_descriptor(
                "noncesweep_shares_rejected",
                "Shares (or solo blocks) the pool or node rejected, by the reason it gave",
                None,
                MetricType::Counter,
            )?;
            for (reason, n) in self.stats.reject_reasons() {
                let labels = [("reason", reason)];
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut e,
            "noncesweep_shares_stale",
            "Shares whose job was gone before the pool could take them",
            s.stale,
        )?;
        counter(
            &mut e,
            "noncesweep_blocks_found",
            "Blocks found (accepted shares that met the network target)",
            s.blocks,
        )?;
        gauge(
            &mut e,
            "noncesweep_best_share_difficulty",
            "Difficulty of the best share found in this run",
            s.best_share,
        )?;
        gauge(
            &mut e,
            "noncesweep_difficulty",
            "The difficulty mined at now (the pool's share difficulty, or the network's)",
            s.difficulty,
        )?;
        {
            let mut m = e.encode_descriptor(
                "noncesweep_source_up",
                "Whether each pool or node is connected (1) or not (0)",
                None,
                MetricType::Gauge,
            )?;
            for src in self.stats.sources() {
                let up = i64::from(src.status == "Alive");
                let labels = [("url", src.url), ("kind", src.kind)];
                ConstGauge::new(up).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The exposition text of `stats` and `info`, as served.
pub fn render(stats: &Arc<Stats>, info: &RunInfo) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StatsCollector {
        stats: Arc::clone(stats),
        info: info.clone(),
    }));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// A running `/metrics` endpoint; it stops when dropped.
pub struct MetricsServer {
    served: Served,
}

impl MetricsServer {
    /// Serve `/metrics` on `addr`. A non-loopback address needs a
    /// non-empty `allow` list; loopback scrapers are always allowed.
    pub fn start(
        addr: SocketAddr,
        allow: Vec<IpNet>,
        stats: Arc<Stats>,
        info: RunInfo,
    ) -> Result<MetricsServer, ApiError> {
        if !addr.ip().is_loopback() && allow.is_empty() {
            return Err(ApiError::MetricsNeedsAllowList(addr));
        }
        let served = Served::start(addr, allow, "metrics", move |stream| {
            serve_one(stream, &stats, &info)
        })?;
        tracing::info!(addr = %served.addr, "Prometheus metrics at http://{}/metrics", served.addr);
        Ok(MetricsServer { served })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.served.addr
    }
}

/// The status line and body of the answer to a request head.
fn answer(head: &str, stats: &Arc<Stats>, info: &RunInfo) -> (&'static str, String) {
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => ("200 OK", render(stats, info)),
        ("GET", _) => (
            "404 Not Found",
            "not found: the metrics are at /metrics\n".into(),
        ),
        _ => (
            "405 Method Not Allowed",
            "only GET /metrics is served\n".into(),
        ),
    }
}

fn serve_one(mut stream: TcpStream, stats: &Arc<Stats>, info: &RunInfo) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let complete = loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break false,
            Ok(n) => {
                head.extend_from_slice(&chunk[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n")
                    || head.windows(2).any(|w| w == b"\n\n")
                {
                    break true;
                }
                if head.len() > MAX_REQUEST {
                    break false;
                }
            }
        }
    };
    let (status, body) = if complete {
        answer(&String::from_utf8_lossy(&head), stats, info)
    } else {
        ("400 Bad Request", "bad request\n".to_string())
    };
    let content_type = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn info() -> RunInfo {
        RunInfo {
            backend: "soft".into(),
            lanes: "nonces".into(),
            kernel: "x1".into(),
        }
    }

    #[test]
    fn exposition_has_every_metric_and_reject_reasons() {
        let stats = Stats::new("pool");
        stats.set_hash_source(Arc::new(|| vec![5, 7]));
        stats.accepted.store(3, Ordering::Relaxed);
        stats.record_reject("low difficulty");
        stats.record_reject("low difficulty");
        stats.record_reject("job not found");
        stats.set_sources(vec![crate::report::stats::SourceStatus {
            url: "stratum+tcp://127.0.0.1:3333".into(),
            kind: "stratum".into(),
            status: "Alive".into(),
            ..Default::default()
        }]);
        let text = render(&stats, &info());
        for want in [
            "noncesweep_miner_info{command=\"pool\",backend=\"soft\",lanes=\"nonces\"",
            "noncesweep_hashes_total 12",
            "noncesweep_thread_hashrate_hashes_per_second{thread=\"1\"}",
            "noncesweep_shares_accepted_total 3",
            "noncesweep_shares_rejected_total{reason=\"low difficulty\"} 2",
            "noncesweep_shares_rejected_total{reason=\"job not found\"} 1",
            "noncesweep_source_up{url=\"stratum+tcp://127.0.0.1:3333\",kind=\"stratum\"} 1",
            "# TYPE noncesweep_blocks_found_total counter",
            "noncesweep_uptime_seconds ",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert_eq!(stats.rejected.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn only_get_metrics_is_served() {
        let stats = Stats::new("bench");
        assert_eq!(
            answer("GET /metrics HTTP/1.1\r\n\r\n", &stats, &info()).0,
            "200 OK"
        );
        assert_eq!(
            answer("GET / HTTP/1.1\r\n\r\n", &stats, &info()).0,
            "404 Not Found"
        );
        assert!(answer("POST /metrics HTTP/1.1\r\n\r\n", &stats, &info())
            .0
            .starts_with("405"));
    }

    #[test]
    fn non_loopback_needs_allow_list() {
        let err = MetricsServer::start(
            "0.0.0.0:0".parse().unwrap(),
            vec![],
            Stats::new("bench"),
            info(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ApiError::MetricsNeedsAllowList(_)));
    }
}
