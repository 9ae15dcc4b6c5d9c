//! The metrics flags of `alys node` and `alys dev`: where the Prometheus scrape endpoint
//! listens, or that it is off. Starting it installs the process's metrics recorder.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alys_metrics::MetricsServer;
use eyre::WrapErr;

/// The default metrics port.
pub(super) const DEFAULT_METRICS_PORT: u16 = 9001;

/// Metrics flags.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct MetricsArgs {
    /// Prometheus metrics port (`GET /metrics`); 0 picks a free port.
    #[arg(long, default_value_t = DEFAULT_METRICS_PORT)]
    metrics_port: u16,
    /// Listen address of the metrics server (it has no authentication: expose it only to the
    /// network of your Prometheus).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    metrics_addr: IpAddr,
    /// Do not serve metrics (nothing is recorded either).
    #[arg(long, conflicts_with_all = ["metrics_port", "metrics_addr"])]
    no_metrics: bool,
}

impl MetricsArgs {
    /// Installs the recorder (`authorities` label values `0..authorities`) and serves it;
    /// `None` with `--no-metrics`. With `fallback_to_free_port` (`alys dev`), a taken default
    /// port is replaced by a free one with a warning; otherwise a port that cannot be bound
    /// ends the start.
    pub(super) async fn start(
        &self,
        authorities: usize,
        fallback_to_free_port: bool,
    ) -> eyre::Result<Option<MetricsServer>> {
        if self.no_metrics {
            return Ok(None);
        }
        let handle = alys_metrics::install(authorities).wrap_err("installing the metrics")?;
        let addr = SocketAddr::new(self.metrics_addr, self.metrics_port);
        let server = match MetricsServer::start(addr, handle.clone()).await {
            Ok(s) => s,
            Err(e) if fallback_to_free_port && self.metrics_port == DEFAULT_METRICS_PORT => {
                tracing::warn!(error = %e, "metrics port {} unavailable, using a free port", self.metrics_port);
                MetricsServer::start(SocketAddr::new(self.metrics_addr, 0), handle)
                    .await
                    .wrap_err("binding the metrics server")?
            }
            Err(e) => {
                return Err(e).wrap_err_with(|| {
                    format!(
                        "binding the metrics server on {addr} (--metrics-port, or --no-metrics)"
                    )
                })
            }
        };
        Ok(Some(server))
    }
}
