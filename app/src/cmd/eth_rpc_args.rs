//! Command-line options of the public eth JSON-RPC server (CORS, connection and size limits),
//! shared by `alys dev`, `alys node --embedded-el` and `alys el`.

use std::{net::SocketAddr, time::Duration};

use alys_evm::eth::server::{Cors, RpcServerConfig};

/// CORS and limits of the eth JSON-RPC (HTTP and WebSocket on one port).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct EthRpcArgs {
    /// Browser origins allowed to call the eth RPC: `*` (any), `none`, or a comma-separated
    /// list such as `http://localhost:5173,https://app.example`. Default: `*` in `alys dev`,
    /// none in `alys node` (but the peg web page's own origins when `--ui-port` serves it) and
    /// in `alys el`.
    #[arg(long = "http-corsdomain")]
    cors: Option<String>,
    /// Largest eth RPC request body, in bytes.
    #[arg(long = "http-max-request-size", default_value_t = 5 * 1024 * 1024)]
    max_request_size: u32,
    /// Largest eth RPC response body, in bytes.
    #[arg(long = "http-max-response-size", default_value_t = 160 * 1024 * 1024)]
    max_response_size: u32,
    /// Most calls in one JSON-RPC batch.
    #[arg(long = "http-max-batch", default_value_t = 1000)]
    max_batch: u32,
    /// Most eth RPC connections open at once (WebSocket sessions included); more are closed at
    /// once.
    #[arg(long = "http-max-connections", default_value_t = 1000)]
    max_connections: u32,
    /// Most eth RPC connections open at once from one client address (IPv4 address or IPv6
    /// /64).
    #[arg(long = "http-max-connections-per-ip", default_value_t = 100)]
    max_connections_per_ip: u32,
    /// Seconds an eth RPC client has to send a request's headers (also the longest an idle
    /// HTTP connection stays open).
    #[arg(long = "http-header-timeout", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds an eth RPC client has to send a request's body.
    #[arg(long = "http-body-timeout", default_value_t = 30)]
    body_timeout: u64,
    /// Gas cap of `eth_call`, `eth_estimateGas` and `debug_traceCall`.
    #[arg(long = "rpc-gascap", default_value_t = 50_000_000)]
    gas_cap: u64,
    /// Widest block range one `eth_getLogs` may query.
    #[arg(long = "rpc-max-log-range", default_value_t = 10_000)]
    max_log_range: u64,
}

impl EthRpcArgs {
    /// The server configuration for `addr`, with `default_cors` unless `--http-corsdomain`
    /// is given.
    pub(super) fn server_config(&self, addr: SocketAddr, default_cors: Cors) -> RpcServerConfig {
        let mut config = RpcServerConfig::new(addr);
        config.cors = self.cors.as_deref().map_or(default_cors, parse_cors);
        config.max_request_body_size = self.max_request_size;
        config.max_response_body_size = self.max_response_size;
        config.max_batch_len = self.max_batch;
        config.limits.max_connections = self.max_connections as usize;
        config.limits.max_per_ip = self.max_connections_per_ip as usize;
        config.limits.header_read_timeout = Duration::from_secs(self.header_timeout);
        config.limits.body_read_timeout = Duration::from_secs(self.body_timeout);
        config.eth.gas_cap = self.gas_cap;
        config.eth.max_log_range = self.max_log_range;
        config
    }
}

/// `*` → any origin, `none` or empty → no CORS headers, otherwise a list of origins.
fn parse_cors(value: &str) -> Cors {
    let origins: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if origins.iter().any(|o| o == "*") {
        Cors::Any
    } else if origins.is_empty() || origins.iter().any(|o| o.eq_ignore_ascii_case("none")) {
        Cors::Disabled
    } else {
        Cors::Origins(origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_values() {
        assert_eq!(parse_cors("*"), Cors::Any);
        assert_eq!(parse_cors("none"), Cors::Disabled);
        assert_eq!(parse_cors(""), Cors::Disabled);
        assert_eq!(
            parse_cors("http://a.test, https://b.test"),
            Cors::Origins(vec!["http://a.test".into(), "https://b.test".into()])
        );
    }
}
