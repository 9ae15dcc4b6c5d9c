//! [`CoreRpcClient`]: Bitcoin Core's JSON-RPC over HTTP/1.1 (hyper), with user/password or
//! cookie-file auth, a per-request timeout and retries with exponential backoff on connection
//! errors.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Block, BlockHash, Transaction, Txid};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use alys_secrets::{redact_url, RedactedUrl};

use crate::rpc::{
    BitcoinRpc, BlockchainInfo, FeeEstimate, HeaderInfo, MempoolAcceptResult, RpcError,
};

/// How to authenticate. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    None,
    /// `-rpcuser`/`-rpcpassword` (or `-rpcauth`).
    UserPass {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
    /// Bitcoin Core's `.cookie` file, re-read on every request (it changes when Core restarts).
    CookieFile(PathBuf),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Auth::CookieFile(path) => f.debug_tuple("CookieFile").field(path).finish(),
        }
    }
}

/// Timeouts and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    /// Retries after a transient error (connection, timeout, warm-up); 0 = try once.
    pub max_retries: u32,
    /// First backoff; doubled after each retry.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Largest response body accepted (a mainnet block in hex is under 8 MB).
    pub max_body_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_body_bytes: 64 << 20,
        }
    }
}

/// Bitcoin Core JSON-RPC client (HTTP only, as Core serves it).
#[derive(Debug)]
pub struct CoreRpcClient {
    url: RedactedUrl,
    host: String,
    port: u16,
    path: String,
    auth: Auth,
    config: ClientConfig,
    next_id: AtomicU64,
}

impl CoreRpcClient {
    /// A client for `url` (`http://host:port[/wallet/<name>]`; port defaults to 8332). The URL
    /// appears in errors and `Debug` only redacted (`alys_secrets::redact_url`).
    pub fn new(url: &str, auth: Auth, config: ClientConfig) -> Result<Self, RpcError> {
        let bad = |reason: &str| RpcError::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(bad(&format!("scheme `{other}` unsupported, use http"))),
            None => return Err(bad("missing scheme, expected http://host:port")),
        }
        let host = uri.host().ok_or_else(|| bad("missing host"))?.to_string();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(8332);
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        Ok(Self {
            url: RedactedUrl::new(url),
            host,
            port,
            path,
            auth,
            config,
            next_id: AtomicU64::new(1),
        })
    }

    /// The endpoint URL (displays redacted).
    pub fn url(&self) -> &RedactedUrl {
        &self.url
    }

    fn auth_header(&self) -> Result<Option<String>, RpcError> {
        let creds = match &self.auth {
            Auth::None => return Ok(None),
            Auth::UserPass { user, password } => format!("{user}:{password}"),
            Auth::CookieFile(path) => std::fs::read_to_string(path)
                .map_err(|e| RpcError::Cookie {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
                .trim()
                .to_string(),
        };
        Ok(Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )))
    }

    /// Calls `method` with positional `params`, retrying transient failures; returns the raw
    /// JSON result.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 0;
        loop {
            match self.call_once(method, &params).await {
                Err(e) if e.is_transient() && attempt < self.config.max_retries => {
                    attempt += 1;
                    tracing::debug!(%e, attempt, "bitcoin rpc: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
                other => return other,
            }
        }
    }

    /// [`Self::call`] and decode the result as `T`.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<T, RpcError> {
        let v = self.call(method, params).await?;
        serde_json::from_value(v).map_err(|e| RpcError::Decode {
            method: method.to_string(),
            reason: e.to_string(),
        })
    }

    async fn call_once(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params});
        let body = serde_json::to_vec(&body).map_err(|e| RpcError::Decode {
            method: method.to_string(),
            reason: e.to_string(),
        })?;
        let auth = self.auth_header()?;
        let (status, bytes) = tokio::time::timeout(self.config.timeout, self.post(body, auth))
            .await
            .map_err(|_| RpcError::Timeout {
                method: method.to_string(),
                timeout: self.config.timeout,
            })??;
        if status == 401 || status == 403 {
            return Err(RpcError::Unauthorized(status));
        }
        let reply: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(_) => {
                let mut body = String::from_utf8_lossy(&bytes).into_owned();
                truncate(&mut body, 300);
                return Err(RpcError::Http { status, body });
            }
        };
        if let Some(err) = reply.get("error").filter(|e| !e.is_null()) {
            return Err(RpcError::Core {
                method: method.to_string(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        match reply.get("result") {
            Some(v) => Ok(v.clone()),
            None => Err(RpcError::Decode {
                method: method.to_string(),
                reason: format!("HTTP {status}: neither result nor error in reply"),
            }),
        }
    }

    async fn post(&self, body: Vec<u8>, auth: Option<String>) -> Result<(u16, Bytes), RpcError> {
        let conn_err = |e: String| RpcError::Connect {
            url: self.url.to_string(),
            reason: e,
        };
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = format!("{}:{}", self.host, self.port);
        let mut req = Request::post(self.path.as_str())
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            req = req.header(hyper::header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| conn_err(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| conn_err(e.to_string()))?;
        let status = resp.status().as_u16();
        let limited = http_body_util::Limited::new(resp.into_body(), self.config.max_body_bytes);
        let bytes = limited
            .collect()
            .await
            .map_err(|e| conn_err(format!("reading body: {e}")))?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// Truncates `s` to at most `n` bytes on a character boundary.
fn truncate(s: &mut String, n: usize) {
    let mut i = n.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    s.truncate(i);
}

fn hex_str(method: &str, v: Value) -> Result<String, RpcError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(RpcError::Decode {
            method: method.to_string(),
            reason: format!("expected a hex string, got {}", short(&other)),
        }),
    }
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    truncate(&mut s, 100);
    s
}

fn decode_hex<T: bitcoin::consensus::Decodable>(method: &str, v: Value) -> Result<T, RpcError> {
    let s = hex_str(method, v)?;
    deserialize_hex(&s).map_err(|e| RpcError::Decode {
        method: method.to_string(),
        reason: e.to_string(),
    })
}

fn parse_str<T: std::str::FromStr>(method: &str, v: Value) -> Result<T, RpcError>
where
    T::Err: std::fmt::Display,
{
    let s = hex_str(method, v)?;
    s.parse().map_err(|e: T::Err| RpcError::Decode {
        method: method.to_string(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl BitcoinRpc for CoreRpcClient {
    async fn get_blockchain_info(&self) -> Result<BlockchainInfo, RpcError> {
        self.call_as("getblockchaininfo", vec![]).await
    }

    async fn get_block_count(&self) -> Result<u64, RpcError> {
        self.call_as("getblockcount", vec![]).await
    }

    async fn get_best_block_hash(&self) -> Result<BlockHash, RpcError> {
        let v = self.call("getbestblockhash", vec![]).await?;
        parse_str("getbestblockhash", v)
    }

    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcError> {
        let v = self.call("getblockhash", vec![json!(height)]).await?;
        parse_str("getblockhash", v)
    }

    async fn get_block_header(&self, hash: &BlockHash) -> Result<Header, RpcError> {
        let v = self
            .call(
                "getblockheader",
                vec![json!(hash.to_string()), json!(false)],
            )
            .await?;
        decode_hex("getblockheader", v)
    }

    async fn get_block_header_info(&self, hash: &BlockHash) -> Result<HeaderInfo, RpcError> {
        self.call_as("getblockheader", vec![json!(hash.to_string()), json!(true)])
            .await
    }

    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcError> {
        let v = self
            .call("getblock", vec![json!(hash.to_string()), json!(0)])
            .await?;
        decode_hex("getblock", v)
    }

    async fn get_raw_transaction(
        &self,
        txid: &Txid,
        block_hash: Option<&BlockHash>,
    ) -> Result<Transaction, RpcError> {
        let mut params = vec![json!(txid.to_string()), json!(false)];
        if let Some(b) = block_hash {
            params.push(json!(b.to_string()));
        }
        let v = self.call("getrawtransaction", params).await?;
        decode_hex("getrawtransaction", v)
    }

    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, RpcError> {
        let v = self
            .call("sendrawtransaction", vec![json!(serialize_hex(tx))])
            .await?;
        parse_str("sendrawtransaction", v)
    }

    async fn test_mempool_accept(
        &self,
        txs: &[Transaction],
    ) -> Result<Vec<MempoolAcceptResult>, RpcError> {
        let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
        self.call_as("testmempoolaccept", vec![json!(hexes)]).await
    }

    async fn estimate_smart_fee(&self, conf_target: u16) -> Result<FeeEstimate, RpcError> {
        self.call_as("estimatesmartfee", vec![json!(conf_target)])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        let c = CoreRpcClient::new(
            "http://127.0.0.1:18443",
            Auth::None,
            ClientConfig::default(),
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("127.0.0.1", 18443, "/")
        );
        let c = CoreRpcClient::new("http://node/wallet/w1", Auth::None, ClientConfig::default())
            .unwrap();
        assert_eq!((c.port, c.path.as_str()), (8332, "/wallet/w1"));
        for bad in ["https://x:1", "127.0.0.1:8332", "http://", "::"] {
            assert!(
                matches!(
                    CoreRpcClient::new(bad, Auth::None, ClientConfig::default()),
                    Err(RpcError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_never_appear_in_errors_or_debug() {
        let auth = || Auth::UserPass {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        let c = CoreRpcClient::new(
            "http://bob:s3cret@127.0.0.1:1/wallet/w",
            auth(),
            ClientConfig::default(),
        )
        .unwrap();
        let shown = format!("{c:?} {}", c.url());
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        let err = CoreRpcClient::new("https://bob:s3cret@host:1", auth(), ClientConfig::default())
            .unwrap_err();
        assert!(matches!(err, RpcError::InvalidUrl { .. }));
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn connect_errors_name_the_redacted_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let config = ClientConfig {
            max_retries: 0,
            ..ClientConfig::default()
        };
        let c = CoreRpcClient::new(
            &format!("http://bob:s3cret@127.0.0.1:{port}"),
            Auth::None,
            config,
        )
        .unwrap();
        let err = c.post(b"{}".to_vec(), None).await.unwrap_err();
        assert!(matches!(err, RpcError::Connect { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("bob"), "{text}");
    }

    #[test]
    fn cookie_auth_reads_file_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cookie");
        let c = CoreRpcClient::new(
            "http://127.0.0.1:1",
            Auth::CookieFile(path.clone()),
            ClientConfig::default(),
        )
        .unwrap();
        assert!(matches!(c.auth_header(), Err(RpcError::Cookie { .. })));
        std::fs::write(&path, "__cookie__:abc\n").unwrap();
        let h = c.auth_header().unwrap().unwrap();
        assert_eq!(
            h,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("__cookie__:abc")
            )
        );
    }
}
