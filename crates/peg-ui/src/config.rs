//! What the page is told (`/config.json`) and allowed (its Content Security Policy): the node
//! RPC and eth RPC endpoints, each a port on the host the browser used to reach the page, or a
//! URL the operator gave; and the browser origins of the page for the node RPC's CORS.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hyper::header::HeaderValue;

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not `http://` or `https://`.
    #[error("{0:?} is not an http:// or https:// URL")]
    Scheme(String),
    /// Characters that have no place in a URL given to a browser (spaces, quotes, `;`, `,`).
    #[error("{0:?} contains characters not allowed in an endpoint URL")]
    Characters(String),
}

/// Where the page reaches a JSON-RPC server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// This port, on the host name the browser used for the page (`http://<host>:<port>`).
    Port(u16),
    /// This URL, as given (a reverse proxy, or an external execution client).
    Url(String),
}

impl Endpoint {
    /// A URL endpoint, checked: `http(s)://` and no characters that could break out of the
    /// policy or the JSON it is written into.
    pub fn url(url: &str) -> Result<Self, EndpointError> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(EndpointError::Scheme(url.to_string()));
        }
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`;,<>\\".contains(c))
        {
            return Err(EndpointError::Characters(url.to_string()));
        }
        Ok(Self::Url(url.to_string()))
    }

    fn resolve(&self, host: &str) -> String {
        match self {
            Endpoint::Port(port) => format!("http://{host}:{port}"),
            Endpoint::Url(url) => url.clone(),
        }
    }
}

/// The endpoints the page uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    /// The node JSON-RPC (peg methods).
    pub node_rpc: Endpoint,
    /// The eth JSON-RPC wallets are pointed at and the page reads balances from; `None` when
    /// the node has none to offer (an external execution client and no URL given).
    pub eth_rpc: Option<Endpoint>,
}

impl UiConfig {
    /// `/config.json` for a page loaded from `host`.
    pub(crate) fn json(&self, host: &str) -> String {
        serde_json::json!({
            "nodeRpcUrl": self.node_rpc.resolve(host),
            "ethRpcUrl": self.eth_rpc.as_ref().map(|e| e.resolve(host)),
        })
        .to_string()
    }

    /// The Content Security Policy of a page loaded from `host`: its own files, images from
    /// itself or `data:` (wallet icons), and connections to itself and the two endpoints only.
    pub(crate) fn content_security_policy(&self, host: &str) -> String {
        let mut connect = vec!["'self'".to_string(), self.node_rpc.resolve(host)];
        if let Some(eth) = &self.eth_rpc {
            connect.push(eth.resolve(host));
        }
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            connect.join(" ")
        )
    }
}

/// The browser origins of a page served on `addr`: on a loopback or unspecified address the
/// names a local browser uses (`127.0.0.1`, `localhost`, `[::1]`), otherwise the address
/// itself. Pages published under other names need those origins added by the operator.
pub fn origins_for(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ]
    } else {
        vec![format!("http://{}", SocketAddr::new(ip, port))]
    }
}

/// The host name (without port) of a `Host` header, if it is a plain name or IP literal;
/// otherwise `fallback` (an unspecified address becomes `127.0.0.1`).
pub(crate) fn request_host(header: Option<&HeaderValue>, fallback: IpAddr) -> String {
    let parsed = header.and_then(|h| h.to_str().ok()).and_then(|h| {
        if let Some(rest) = h.strip_prefix('[') {
            // [v6]:port
            let (inner, _) = rest.split_once(']')?;
            let ip: std::net::Ipv6Addr = inner.parse().ok()?;
            Some(format!("[{ip}]"))
        } else {
            let name = h.split(':').next()?;
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            ok.then(|| name.to_ascii_lowercase())
        }
    });
    parsed.unwrap_or_else(|| {
        let ip = if fallback.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            fallback
        };
        match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> String {
        request_host(
            Some(&HeaderValue::from_str(value).unwrap()),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
    }

    #[test]
    fn host_header_names_and_literals() {
        assert_eq!(host("localhost:3001"), "localhost");
        assert_eq!(host("127.0.0.1:3001"), "127.0.0.1");
        assert_eq!(host("Peg.Example.org"), "peg.example.org");
        assert_eq!(host("[::1]:3001"), "[::1]");
        // Anything else falls back to the bound address.
        assert_eq!(host("evil.test; script-src *"), "127.0.0.1");
        assert_eq!(host("a\"b"), "127.0.0.1");
        assert_eq!(host("[zz]:1"), "127.0.0.1");
        assert_eq!(host(""), "127.0.0.1");
        assert_eq!(
            request_host(None, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            "127.0.0.1"
        );
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert_eq!(
            Endpoint::url("https://rpc.example/eth/"),
            Ok(Endpoint::Url("https://rpc.example/eth".into()))
        );
        assert!(matches!(
            Endpoint::url("ftp://x"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            Endpoint::url("http://x; script-src *"),
            Err(EndpointError::Characters(_))
        ));
        assert!(matches!(
            Endpoint::url("http://x\"}"),
            Err(EndpointError::Characters(_))
        ));
    }

    #[test]
    fn config_and_policy_follow_the_host() {
        let config = UiConfig {
            node_rpc: Endpoint::Port(3000),
            eth_rpc: Some(Endpoint::Url("https://eth.example".into())),
        };
        let json: serde_json::Value = serde_json::from_str(&config.json("localhost")).unwrap();
        assert_eq!(json["nodeRpcUrl"], "http://localhost:3000");
        assert_eq!(json["ethRpcUrl"], "https://eth.example");
        let csp = config.content_security_policy("localhost");
        assert!(
            csp.contains("connect-src 'self' http://localhost:3000 https://eth.example;"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        let none = UiConfig {
            node_rpc: Endpoint::Port(3000),
            eth_rpc: None,
        };
        let json: serde_json::Value = serde_json::from_str(&none.json("h")).unwrap();
        assert!(json["ethRpcUrl"].is_null());
    }

    #[test]
    fn origins_of_local_and_public_addresses() {
        let local: SocketAddr = "127.0.0.1:3001".parse().unwrap();
        assert_eq!(
            origins_for(local),
            [
                "http://127.0.0.1:3001",
                "http://localhost:3001",
                "http://[::1]:3001"
            ]
        );
        let public: SocketAddr = "192.0.2.7:3001".parse().unwrap();
        assert_eq!(origins_for(public), ["http://192.0.2.7:3001"]);
        let v6: SocketAddr = "[2001:db8::1]:3001".parse().unwrap();
        assert_eq!(origins_for(v6), ["http://[2001:db8::1]:3001"]);
    }
}
