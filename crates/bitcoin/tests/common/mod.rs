//! Test support: an in-memory Bitcoin chain of real rust-bitcoin blocks with Core's RPC
//! semantics (in-process [`MemRpc`] and a real HTTP JSON-RPC server), deposit builders, and a
//! wait for follower events.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use alys_bitcoin::bitcoin::absolute::LockTime;
use alys_bitcoin::bitcoin::block::{Header, Version as BlockVersion};
use alys_bitcoin::bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use alys_bitcoin::bitcoin::hashes::Hash;
use alys_bitcoin::bitcoin::key::XOnlyPublicKey;
use alys_bitcoin::bitcoin::script::PushBytesBuf;
use alys_bitcoin::bitcoin::transaction::Version;
use alys_bitcoin::bitcoin::{
    Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use alys_bitcoin::rpc::{
    BlockchainInfo, FeeEstimate, HeaderInfo, MempoolAcceptResult, RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER, RPC_METHOD_NOT_FOUND,
};
use alys_bitcoin::{BitcoinRpc, RpcError};
use alys_federation::{Federation, SchnorrSigner};
use parking_lot::Mutex;
use serde_json::{json, Value};

/// A 2-of-3 regtest federation with a 1,000-sat minimum.
pub(crate) fn federation() -> Federation {
    let keys: Vec<XOnlyPublicKey> = (1..=3u8)
        .map(|i| SchnorrSigner::from_bytes(&[i; 32]).unwrap().public_key())
        .collect();
    Federation::new(Network::Regtest, keys, 2, None, 1_000).unwrap()
}

fn input(seed: u64) -> TxIn {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8] = 0x5a;
    TxIn {
        previous_output: OutPoint::new(Txid::from_byte_array(b), 0),
        script_sig: ScriptBuf::new(),
        sequence: Sequence::MAX,
        witness: Witness::new(),
    }
}

/// A deposit of `sats` to `fed` for EVM `recipient`; `seed` makes it unique.
pub(crate) fn deposit_tx(
    fed: &Federation,
    sats: u64,
    recipient: [u8; 20],
    seed: u64,
) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![input(seed)],
        output: vec![
            TxOut {
                value: Amount::from_sat(sats),
                script_pubkey: fed.script_pubkey().clone(),
            },
            TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::new_op_return(
                    PushBytesBuf::try_from(recipient.to_vec()).unwrap(),
                ),
            },
        ],
    }
}

/// A payment to the federation without OP_RETURN (rejected).
pub(crate) fn no_op_return_tx(fed: &Federation, sats: u64, seed: u64) -> Transaction {
    let mut tx = deposit_tx(fed, sats, [0; 20], seed);
    tx.output.truncate(1);
    tx
}

/// An unrelated payment.
pub(crate) fn other_tx(seed: u64) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![input(seed)],
        output: vec![TxOut {
            value: Amount::from_sat(5_000),
            script_pubkey: ScriptBuf::new_op_return(PushBytesBuf::new()),
        }],
    }
}

fn coinbase(height: u64, tag: u32) -> Transaction {
    let mut sig = vec![];
    sig.extend_from_slice(&height.to_le_bytes());
    sig.extend_from_slice(&tag.to_le_bytes());
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(sig),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(50 * 100_000_000),
            script_pubkey: ScriptBuf::new(),
        }],
    }
}

/// Builds a block on `prev` at `height` with `txs` (a coinbase is prepended).
pub(crate) fn make_block(prev: BlockHash, height: u64, tag: u32, txs: Vec<Transaction>) -> Block {
    let mut txdata = vec![coinbase(height, tag)];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: BlockVersion::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000 + height as u32,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: tag,
        },
        txdata,
    };
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    block
}

/// An in-memory block tree with an active chain, answering like Bitcoin Core.
#[derive(Debug)]
pub(crate) struct MemChain {
    blocks: HashMap<BlockHash, (Block, u64)>,
    /// Active chain, index = height.
    pub active: Vec<BlockHash>,
    tag: u32,
}

impl Default for MemChain {
    fn default() -> Self {
        Self::new()
    }
}

impl MemChain {
    /// A chain with only a genesis block.
    pub(crate) fn new() -> Self {
        let g = make_block(BlockHash::all_zeros(), 0, 0, vec![]);
        let h = g.block_hash();
        Self {
            blocks: HashMap::from([(h, (g, 0))]),
            active: vec![h],
            tag: 1,
        }
    }

    /// Active tip height.
    pub(crate) fn height(&self) -> u64 {
        self.active.len() as u64 - 1
    }

    /// Active tip.
    pub(crate) fn tip(&self) -> BlockHash {
        *self.active.last().unwrap()
    }

    /// Mines a block with `txs` on `parent` (any known block); it becomes active if it makes
    /// the longest chain (ties keep the current chain, as Core does).
    pub(crate) fn mine_on(&mut self, parent: BlockHash, txs: Vec<Transaction>) -> BlockHash {
        let ph = self.blocks[&parent].1;
        self.tag += 1;
        let b = make_block(parent, ph + 1, self.tag, txs);
        let h = b.block_hash();
        self.blocks.insert(h, (b, ph + 1));
        if ph + 1 > self.height() {
            self.set_active(h);
        }
        h
    }

    /// Mines on the active tip.
    pub(crate) fn mine(&mut self, txs: Vec<Transaction>) -> BlockHash {
        let t = self.tip();
        self.mine_on(t, txs)
    }

    /// Mines `n` empty blocks on the active tip.
    pub(crate) fn mine_empty(&mut self, n: usize) -> BlockHash {
        for _ in 0..n {
            self.mine(vec![]);
        }
        self.tip()
    }

    /// Makes the chain ending at `tip` active (like `invalidateblock` on the other branch).
    pub(crate) fn set_active(&mut self, tip: BlockHash) {
        let mut chain = vec![];
        let mut h = tip;
        loop {
            chain.push(h);
            let (b, height) = &self.blocks[&h];
            if *height == 0 {
                break;
            }
            h = b.header.prev_blockhash;
        }
        chain.reverse();
        self.active = chain;
    }

    /// `invalidateblock`: the active chain ends at the parent of `hash`.
    pub(crate) fn invalidate(&mut self, hash: BlockHash) {
        let parent = self.blocks[&hash].0.header.prev_blockhash;
        self.set_active(parent);
    }

    fn on_active(&self, h: &BlockHash) -> Option<u64> {
        let (_, height) = self.blocks.get(h)?;
        (self.active.get(*height as usize) == Some(h)).then_some(*height)
    }

    fn not_found(method: &str) -> RpcError {
        RpcError::Core {
            method: method.into(),
            code: RPC_INVALID_ADDRESS_OR_KEY,
            message: "Block not found".into(),
        }
    }

    /// Core-shaped JSON for the methods the follower uses.
    pub(crate) fn handle(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let hash_param = |i: usize| -> Result<BlockHash, RpcError> {
            params
                .get(i)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Self::not_found(method))
        };
        match method {
            "getblockcount" => Ok(json!(self.height())),
            "getbestblockhash" => Ok(json!(self.tip().to_string())),
            "getblockchaininfo" => Ok(json!({
                "chain": "regtest", "blocks": self.height(), "headers": self.height(),
                "bestblockhash": self.tip().to_string(), "initialblockdownload": false
            })),
            "getblockhash" => {
                let h = params.first().and_then(Value::as_u64).unwrap_or(u64::MAX);
                self.active
                    .get(h as usize)
                    .map(|h| json!(h.to_string()))
                    .ok_or_else(|| RpcError::Core {
                        method: method.into(),
                        code: RPC_INVALID_PARAMETER,
                        message: "Block height out of range".into(),
                    })
            }
            "getblockheader" => {
                let h = hash_param(0)?;
                let (b, height) = self.blocks.get(&h).ok_or_else(|| Self::not_found(method))?;
                if params.get(1) == Some(&json!(false)) {
                    return Ok(json!(serialize_hex(&b.header)));
                }
                let active = self.on_active(&h).is_some();
                let mut v = json!({
                    "hash": h.to_string(),
                    "confirmations": if active { (self.height() - height + 1) as i64 } else { -1 },
                    "height": height,
                    "time": b.header.time,
                });
                if *height > 0 {
                    v["previousblockhash"] = json!(b.header.prev_blockhash.to_string());
                }
                if active {
                    if let Some(n) = self.active.get(*height as usize + 1) {
                        v["nextblockhash"] = json!(n.to_string());
                    }
                }
                Ok(v)
            }
            "getblock" => {
                let h = hash_param(0)?;
                let (b, _) = self.blocks.get(&h).ok_or_else(|| Self::not_found(method))?;
                Ok(json!(serialize_hex(b)))
            }
            "estimatesmartfee" => Ok(json!({"feerate": 0.0001, "blocks": 2})),
            _ => Err(RpcError::Core {
                method: method.into(),
                code: RPC_METHOD_NOT_FOUND,
                message: "Method not found".into(),
            }),
        }
    }
}

/// [`BitcoinRpc`] over a shared [`MemChain`], with an on/off switch to simulate an outage.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemRpc {
    pub chain: Arc<Mutex<MemChain>>,
    pub offline: Arc<AtomicBool>,
    /// Notified on every call refused while offline.
    pub refused: Arc<tokio::sync::Notify>,
}

impl MemRpc {
    fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
        if self.offline.load(Ordering::SeqCst) {
            self.refused.notify_one();
            return Err(RpcError::Connect {
                url: "mem".into(),
                reason: "offline".into(),
            });
        }
        self.chain.lock().handle(method, &params)
    }
    fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, RpcError> {
        serde_json::from_value(v).map_err(|e| RpcError::Decode {
            method: "mem".into(),
            reason: e.to_string(),
        })
    }
    fn hexd<T: alys_bitcoin::bitcoin::consensus::Decodable>(v: Value) -> Result<T, RpcError> {
        deserialize_hex(v.as_str().unwrap_or_default()).map_err(|e| RpcError::Decode {
            method: "mem".into(),
            reason: e.to_string(),
        })
    }
}

#[async_trait::async_trait]
impl BitcoinRpc for MemRpc {
    async fn get_blockchain_info(&self) -> Result<BlockchainInfo, RpcError> {
        Self::decode(self.call("getblockchaininfo", vec![])?)
    }
    async fn get_block_count(&self) -> Result<u64, RpcError> {
        Self::decode(self.call("getblockcount", vec![])?)
    }
    async fn get_best_block_hash(&self) -> Result<BlockHash, RpcError> {
        Ok(
            Self::decode::<String>(self.call("getbestblockhash", vec![])?)?
                .parse()
                .unwrap(),
        )
    }
    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcError> {
        Ok(
            Self::decode::<String>(self.call("getblockhash", vec![json!(height)])?)?
                .parse()
                .unwrap(),
        )
    }
    async fn get_block_header(&self, hash: &BlockHash) -> Result<Header, RpcError> {
        Self::hexd(self.call(
            "getblockheader",
            vec![json!(hash.to_string()), json!(false)],
        )?)
    }
    async fn get_block_header_info(&self, hash: &BlockHash) -> Result<HeaderInfo, RpcError> {
        Self::decode(self.call("getblockheader", vec![json!(hash.to_string()), json!(true)])?)
    }
    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcError> {
        Self::hexd(self.call("getblock", vec![json!(hash.to_string()), json!(0)])?)
    }
    async fn get_raw_transaction(
        &self,
        _txid: &Txid,
        _block_hash: Option<&BlockHash>,
    ) -> Result<Transaction, RpcError> {
        Err(RpcError::Core {
            method: "getrawtransaction".into(),
            code: RPC_METHOD_NOT_FOUND,
            message: "Method not found".into(),
        })
    }
    async fn send_raw_transaction(&self, _tx: &Transaction) -> Result<Txid, RpcError> {
        Err(RpcError::Core {
            method: "sendrawtransaction".into(),
            code: RPC_METHOD_NOT_FOUND,
            message: "Method not found".into(),
        })
    }
    async fn test_mempool_accept(
        &self,
        _txs: &[Transaction],
    ) -> Result<Vec<MempoolAcceptResult>, RpcError> {
        Ok(vec![])
    }
    async fn estimate_smart_fee(&self, _conf_target: u16) -> Result<FeeEstimate, RpcError> {
        Self::decode(self.call("estimatesmartfee", vec![])?)
    }
}

/// A real HTTP JSON-RPC server (Bitcoin Core's 1.0 dialect: HTTP 500/404 with an error body,
/// Basic auth `alys:alys`) over a shared [`MemChain`]. Dropping the handle stops it.
pub(crate) struct HttpServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Stops serving; returns once the listener is closed.
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// Serves `chain` on `addr` (port 0 = any).
    pub(crate) async fn start(chain: Arc<Mutex<MemChain>>, addr: SocketAddr) -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::body::Bytes;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;

        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap();
        let listener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let chain = chain.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let chain = chain.clone();
                        async move {
                            let ok_auth = req
                                .headers()
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                == Some("Basic YWx5czphbHlz");
                            if !ok_auth {
                                return Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(401)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                );
                            }
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let v: Value = serde_json::from_slice(&body).unwrap();
                            let method = v["method"].as_str().unwrap_or_default().to_string();
                            let params = v["params"].as_array().cloned().unwrap_or_default();
                            let res = chain.lock().handle(&method, &params);
                            let (status, out) = match res {
                                Ok(r) => (200, json!({"result": r, "error": null, "id": v["id"]})),
                                Err(RpcError::Core { code, message, .. }) => (
                                    if code == RPC_METHOD_NOT_FOUND { 404 } else { 500 },
                                    json!({"result": null, "error": {"code": code, "message": message}, "id": v["id"]}),
                                ),
                                Err(e) => (500, json!({"result": null, "error": {"code": -1, "message": e.to_string()}, "id": v["id"]})),
                            };
                            Ok(hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(out.to_string())))
                                .unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, task }
    }
}

/// Receives follower events into `seen` until `done(seen)`; fails after 30 s or if the
/// follower stops.
pub(crate) async fn wait_for<F: Fn(&[alys_bitcoin::FollowerEvent]) -> bool>(
    rx: &mut tokio::sync::mpsc::Receiver<alys_bitcoin::FollowerEvent>,
    seen: &mut Vec<alys_bitcoin::FollowerEvent>,
    done: F,
) {
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !done(seen) {
            match rx.recv().await {
                Some(ev) => seen.push(ev),
                None => panic!("follower stopped"),
            }
        }
    })
    .await
    .expect("timed out waiting for follower events");
}
