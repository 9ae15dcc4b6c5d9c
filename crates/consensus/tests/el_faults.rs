//! An execution client that fails must not halt the chain silently. One authority drives a real
//! embedded EL through a fault-injecting proxy (`alys_test_utils::engine_proxy`) that makes
//! chosen methods answer -32601, never answer (timeout) or answer SYNCING. While the EL is
//! broken the node proposes nothing, logs one error naming the method and what to configure,
//! and publishes the problem in its status (RPC `getsyncstatus`); once the EL recovers,
//! production resumes by itself at the next slot.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, TxKind, U256};
use alys_consensus::service::GossipMessage;
use alys_consensus::{ChainStatus, ConsensusService, Input, NoPegIns, ServiceHandle};
use alys_engine::{methods, EngineClientConfig, HttpEngineClient};
use alys_evm::EmbeddedEl;
use alys_test_utils::el::TestEl;
use alys_test_utils::engine_proxy::{EngineProxy, Fault};
use alys_test_utils::federation::{dev_spec, manual_clock, manual_time, open_chain, signer};
use tokio::sync::{mpsc, watch};

/// The first dev account (`test test … junk`, index 0).
const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Log lines captured from the service (on this test's thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

struct Harness {
    el: EmbeddedEl,
    proxy: EngineProxy,
    inputs: mpsc::Sender<Input>,
    status: watch::Receiver<ChainStatus>,
    outbound: mpsc::UnboundedReceiver<GossipMessage>,
    time: alys_consensus::ManualTimeSource,
    slot: u64,
    nonce: u64,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// The next slot starts; waits until the service published a status satisfying `until`.
    async fn tick(&mut self, what: &str, until: impl Fn(&ChainStatus) -> bool) -> ChainStatus {
        self.slot += 1;
        self.time.set_ms(self.slot * 1000);
        self.inputs
            .send(Input::Tick { slot: self.slot })
            .await
            .unwrap();
        let waited =
            tokio::time::timeout(Duration::from_secs(20), self.status.wait_for(|s| until(s)))
                .await
                .map(|r| r.unwrap().clone());
        waited.unwrap_or_else(|_| panic!("slot {}: {what}: {:?}", self.slot, *self.status.borrow()))
    }

    /// Proposals and blocks the service published since the last call.
    fn published(&mut self) -> usize {
        let mut n = 0;
        while self.outbound.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    /// A 1-wei transfer from the first dev account into the EL's pool (tip 1 gwei).
    fn submit_transfer(&mut self) {
        let key: PrivateKeySigner = DEV_KEY.parse().unwrap();
        let mut tx = TxEip1559 {
            chain_id: 263_634,
            nonce: self.nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            access_list: Default::default(),
            input: Default::default(),
        };
        let sig = key.sign_transaction_sync(&mut tx).unwrap();
        let tx: TxEnvelope = tx.into_signed(sig).into();
        self.nonce += 1;
        let chain = self.el.chain().lock();
        let view = chain.state_at(chain.head().1).unwrap();
        chain.pool().lock().add(tx, &view).unwrap();
    }

    fn el_head(&self) -> u64 {
        self.el.chain().lock().head().0.number
    }
}

async fn start() -> Harness {
    let spec = dev_spec(1, 1000);
    let time = manual_time();
    let clock = manual_clock(&spec, &time);
    let dir = tempfile::tempdir().unwrap();
    let TestEl { el, secret, .. } = TestEl::start(dir.path(), spec.genesis.clone()).await;
    let proxy = EngineProxy::start(&el.engine_url()).await;
    let config = EngineClientConfig {
        request_timeout: Duration::from_millis(500),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
    };
    let engine = HttpEngineClient::new(&proxy.url(), secret, config).unwrap();
    let slot = clock.current_slot();
    let chain = open_chain(dir.path(), spec.clone(), clock, engine, Arc::new(NoPegIns)).await;
    let ServiceHandle {
        inputs,
        outbound,
        status,
        ..
    } = ConsensusService::spawn(chain, Some(signer(&spec, 0)));
    Harness {
        el,
        proxy,
        inputs,
        status,
        outbound,
        time,
        slot,
        nonce: 0,
        _dir: dir,
    }
}

fn problem(s: &ChainStatus) -> &alys_consensus::ElProblem {
    s.el.as_ref().expect("an EL problem in the status")
}

// Current-thread runtime: the service runs on this thread, so its log lines are captured.
#[tokio::test]
async fn el_failures_stop_production_visibly_and_production_resumes() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut h = start().await;
    let s = h.tick("first block", |s| s.head_height == 1).await;
    assert!(s.el.is_none());
    h.published();

    // 1. Receipts missing (-32601), as on an Engine API port: a block with a transaction is
    //    not proposed, for as many slots as it lasts, and the error is logged once.
    h.proxy
        .fail(methods::GET_BLOCK_RECEIPTS, Fault::MethodNotFound);
    h.proxy
        .fail(methods::GET_TRANSACTION_RECEIPT, Fault::MethodNotFound);
    h.submit_transfer();
    for failures in 1..=4 {
        let s = h
            .tick("receipts failure recorded", |s| {
                s.el.as_ref().is_some_and(|p| p.failures == failures)
            })
            .await;
        assert_eq!(s.head_height, 1, "no block while the receipts are missing");
        let p = problem(&s);
        assert_eq!(p.method, methods::GET_BLOCK_RECEIPTS);
        assert!(p.error.contains("-32601"), "{}", p.error);
        assert!(p.hint.contains("--execution-rpc-url"), "{}", p.hint);
    }
    assert_eq!(h.published(), 0, "nothing proposed while broken");
    assert_eq!(h.el_head(), 1, "the EL's head did not move");
    assert_eq!(
        logs.count("block production stopped: the execution client failed eth_getBlockReceipts"),
        1,
        "one error line, not one per slot"
    );
    assert!(
        h.proxy.calls(methods::GET_TRANSACTION_RECEIPT) >= 1,
        "fell back to per-transaction receipts"
    );

    h.proxy.heal();
    let s = h
        .tick("resumed after receipts", |s| s.head_height == 2)
        .await;
    assert!(s.el.is_none(), "recovered: {:?}", s.el);
    assert!(
        s.pow.pending_fees_wei > U256::ZERO,
        "the transfer's tip is counted"
    );
    assert_eq!(
        s.pow.pending_fees_wei,
        U256::from(21_000u64 * 1_000_000_000),
        "tip × gas, to the wei"
    );
    assert_eq!(
        logs.count("execution client recovered: eth_getBlockReceipts works again"),
        1
    );
    assert!(h.published() > 0);

    // 2. No answer to forkchoiceUpdated: the call times out every slot; nothing proposed.
    h.proxy
        .fail(methods::FORKCHOICE_UPDATED_V3, Fault::NoAnswer);
    for failures in 1..=2 {
        let s = h
            .tick("timeout recorded", |s| {
                s.el.as_ref().is_some_and(|p| p.failures == failures)
            })
            .await;
        let p = problem(&s);
        assert_eq!(p.method, methods::FORKCHOICE_UPDATED_V3);
        assert!(p.error.contains("timed out"), "{}", p.error);
        assert_eq!(s.head_height, 2);
    }
    assert_eq!(h.published(), 0);
    assert_eq!(
        logs.count(
            "block production stopped: the execution client failed engine_forkchoiceUpdatedV3"
        ),
        1
    );
    h.proxy.heal();
    let s = h
        .tick("resumed after timeouts", |s| s.head_height == 3)
        .await;
    assert!(s.el.is_none());

    // 3. SYNCING, first on forkchoiceUpdated, then on newPayload of the block it just built.
    for method in [methods::FORKCHOICE_UPDATED_V3, methods::NEW_PAYLOAD_V3] {
        let height = h.status.borrow().head_height;
        h.published();
        h.proxy.fail(method, Fault::Syncing);
        h.submit_transfer();
        for failures in 1..=3 {
            let s = h
                .tick("SYNCING recorded", |s| {
                    s.el.as_ref().is_some_and(|p| p.failures == failures)
                })
                .await;
            let p = problem(&s);
            assert_eq!(p.method, method);
            assert_eq!(p.error, "answered SYNCING");
            assert!(p.hint.contains("replays"), "{}", p.hint);
            assert_eq!(s.head_height, height);
        }
        assert_eq!(h.published(), 0, "{method}: nothing proposed while SYNCING");
        h.proxy.heal();
        let s = h
            .tick("resumed after SYNCING", |s| s.head_height == height + 1)
            .await;
        assert!(s.el.is_none());
        assert_eq!(h.el_head(), height + 1);
    }
    assert_eq!(
        logs.count("answered SYNCING"),
        2,
        "one line per SYNCING episode"
    );
}
