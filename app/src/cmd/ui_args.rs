//! The peg web page's flags, shared by `alys dev` (page on by default, port 3001) and
//! `alys node` (off unless `--ui-port` is given), and the wiring around it: the page's port is
//! bound before the node starts, so the node RPC knows the page's browser origins (the only
//! ones its unauthenticated peg read methods answer with CORS); the page is served once the
//! node's endpoints are known.

use std::net::{IpAddr, SocketAddr};

use alys_evm::eth::server::{Cors, RpcServerConfig};
use alys_peg_ui::{BoundUi, Endpoint, UiConfig, UiServer};
use eyre::WrapErr;

/// Default port of the page in `alys dev`.
pub(super) const DEV_UI_PORT: u16 = 3001;

/// Flags of the peg web page.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct UiArgs {
    /// Port of the peg web page (`alys dev`: default 3001; `alys node`: served only when
    /// given). Its browser origins may call the node RPC's peg read methods without
    /// credentials (rate limited).
    #[arg(long)]
    ui_port: Option<u16>,
    /// Listen address of the peg web page (default: `--addr`).
    #[arg(long)]
    ui_addr: Option<IpAddr>,
    /// `alys dev`: do not serve the peg web page.
    #[arg(long, conflicts_with = "ui_port")]
    no_ui: bool,
    /// More browser origins allowed to call the peg read methods, comma-separated: where the
    /// page is published under another name (e.g. `https://peg.example.org` behind a proxy).
    #[arg(long, value_delimiter = ',')]
    ui_origin: Vec<String>,
    /// eth JSON-RPC URL the page gives wallets and reads balances from. Default: the embedded
    /// execution client's port on the host the browser used for the page; none with an
    /// external execution client.
    #[arg(long)]
    ui_eth_rpc_url: Option<String>,
    /// Node JSON-RPC URL the page calls. Default: the node RPC port on the host the browser
    /// used for the page.
    #[arg(long)]
    ui_node_rpc_url: Option<String>,
}

impl UiArgs {
    /// Binds the page's port on `--ui-addr`, else `default_addr`, when the page is served
    /// (`dev`: unless `--no-ui`, default port 3001, any free port if that one is taken).
    pub(super) async fn bind(
        &self,
        default_addr: IpAddr,
        dev: bool,
    ) -> eyre::Result<Option<BoundUi>> {
        let addr = self.ui_addr.unwrap_or(default_addr);
        let port = match (self.ui_port, dev && !self.no_ui) {
            (Some(port), _) => port,
            (None, true) => DEV_UI_PORT,
            (None, false) => return Ok(None),
        };
        match BoundUi::bind(SocketAddr::new(addr, port)).await {
            Ok(bound) => Ok(Some(bound)),
            Err(e) if dev && self.ui_port.is_none() => {
                tracing::warn!(error = %e, "peg web page port {port} unavailable, using a free port");
                Ok(Some(
                    BoundUi::bind(SocketAddr::new(addr, 0))
                        .await
                        .wrap_err("binding the peg web page")?,
                ))
            }
            Err(e) => Err(e).wrap_err_with(|| format!("binding the peg web page on port {port}")),
        }
    }

    /// The browser origins of the page: those of its address plus `--ui-origin`.
    pub(super) fn origins(&self, bound: &BoundUi) -> Vec<String> {
        let mut origins = bound.origins();
        origins.extend(
            self.ui_origin
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty()),
        );
        origins
    }

    /// The node RPC's unauthenticated access for the page: the peg read methods, to the
    /// page's origins.
    pub(super) fn public_access(&self, bound: &BoundUi) -> alys_rpc::PublicAccess {
        alys_rpc::peg_read_access(self.origins(bound))
    }

    /// Lets the page's origins call the embedded eth RPC when its CORS is a list of origins
    /// (`alys node`'s default is the empty list; `*` already allows them; an explicit `none`
    /// is left as the operator set it).
    pub(super) fn allow_in_eth_cors(&self, config: &mut RpcServerConfig, bound: Option<&BoundUi>) {
        if let (Cors::Origins(list), Some(bound)) = (&mut config.cors, bound) {
            for origin in self.origins(bound) {
                if !list.contains(&origin) {
                    list.push(origin);
                }
            }
        }
    }

    /// Serves the page, pointing it at the node RPC on `node_rpc` and the eth RPC at
    /// `eth_rpc_url` (the embedded client's URL, if any).
    pub(super) fn serve(
        &self,
        bound: BoundUi,
        node_rpc: SocketAddr,
        eth_rpc_url: Option<String>,
    ) -> eyre::Result<UiServer> {
        let node_rpc = match &self.ui_node_rpc_url {
            Some(url) => Endpoint::url(url).wrap_err("--ui-node-rpc-url")?,
            None => Endpoint::Port(node_rpc.port()),
        };
        let eth_rpc = match (&self.ui_eth_rpc_url, eth_rpc_url) {
            (Some(url), _) => Some(Endpoint::url(url).wrap_err("--ui-eth-rpc-url")?),
            (None, Some(url)) => url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .map(Endpoint::Port),
            (None, None) => None,
        };
        Ok(bound.serve(UiConfig { node_rpc, eth_rpc }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ui: UiArgs,
    }

    fn args(a: &[&str]) -> UiArgs {
        Cli::try_parse_from(std::iter::once("alys").chain(a.iter().copied()))
            .unwrap()
            .ui
    }

    #[tokio::test]
    async fn page_on_in_dev_off_in_node_and_its_origins() {
        let local = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        assert!(args(&[]).bind(local, false).await.unwrap().is_none());
        assert!(args(&["--no-ui"])
            .bind(local, true)
            .await
            .unwrap()
            .is_none());
        let ui = args(&["--ui-port", "0", "--ui-origin", "https://peg.example.org/"]);
        let bound = ui.bind(local, false).await.unwrap().unwrap();
        let port = bound.local_addr().port();
        let origins = ui.origins(&bound);
        assert!(origins.contains(&format!("http://127.0.0.1:{port}")));
        assert!(origins.contains(&"https://peg.example.org".to_string()));
        assert!(Cli::try_parse_from(["alys", "--no-ui", "--ui-port", "1"]).is_err());

        // The page's origins join an explicit eth RPC CORS list; `*` and `none` stay.
        let mut list = RpcServerConfig::new("127.0.0.1:0".parse().unwrap());
        list.cors = Cors::Origins(vec!["http://a.test".into()]);
        ui.allow_in_eth_cors(&mut list, Some(&bound));
        assert_eq!(
            list.cors,
            Cors::Origins([vec!["http://a.test".to_string()], origins].concat())
        );
        for cors in [Cors::Any, Cors::Disabled] {
            let mut config = RpcServerConfig::new("127.0.0.1:0".parse().unwrap());
            config.cors = cors.clone();
            ui.allow_in_eth_cors(&mut config, Some(&bound));
            assert_eq!(config.cors, cors);
        }
    }

    #[tokio::test]
    async fn endpoint_overrides_are_checked() {
        let bad = args(&["--ui-eth-rpc-url", "http://x; script-src *"]);
        let bound = BoundUi::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let node: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert!(bad.serve(bound, node, None).is_err());
    }
}
