//! Crash safety of the standalone execution client: `alys el` is killed with SIGKILL while
//! payloads are being imported over the Engine API; after each kill the data directory must be
//! consistent (flat state hashes to the head's state root) and the client must resume at that
//! head and keep importing on top of it.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{path::Path, process::Command, time::Duration};

use alloy::eips::eip4895::Withdrawal;
use alloy::rpc::types::engine::{PayloadAttributes, PayloadStatusEnum};
use alloy_primitives::{Address, B256};
use alys_engine::{EngineClientConfig, ExecutionEngine, HttpEngineClient};
use alys_test_utils::el::forkchoice;
use alys_test_utils::nodes::ElProcess;
use alys_test_utils::seed::seeded_rng;
use rand::Rng;

const GENESIS: &str = r#"{
  "config": {
    "chainId": 263634, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
    "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
    "berlinBlock": 0, "londonBlock": 0, "terminalTotalDifficulty": 0,
    "terminalTotalDifficultyPassed": true, "shanghaiTime": 0, "cancunTime": 0
  },
  "timestamp": "0x6553f100", "gasLimit": "0x1c9c380", "baseFeePerGas": "0x3b9aca00",
  "difficulty": "0x0", "extraData": "0x",
  "alloc": {
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": { "balance": "0xd3c21bcecceda1000000" }
  }
}"#;
const GENESIS_TIME: u64 = 0x6553f100;

fn start_el(dir: &Path) -> ElProcess {
    ElProcess::start(
        Path::new(env!("CARGO_BIN_EXE_alys")),
        &dir.join("genesis.json"),
        &dir.join("data"),
        &dir.join("jwt.hex"),
    )
}

/// Runs `alys el check-db` and returns (head number, head hash).
fn check_db(dir: &Path) -> (u64, B256) {
    let out = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(["el", "check-db", "--chain"])
        .arg(dir.join("genesis.json"))
        .arg("--datadir")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check-db failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut words = stdout.split_whitespace().skip(1);
    let number = words.next().unwrap().parse().unwrap();
    let hash = words.next().unwrap().parse().unwrap();
    (number, hash)
}

/// An Engine API client of `el` (its JWT secret file exists once it printed its endpoints).
async fn connect(dir: &Path, el: &ElProcess) -> HttpEngineClient {
    let secret = alys_engine::load_jwt_secret(&dir.join("jwt.hex")).expect("JWT secret file");
    let config = EngineClientConfig {
        retries: 0,
        ..Default::default()
    };
    let client = HttpEngineClient::new(&el.engine_url, secret, config).unwrap();
    client
        .exchange_capabilities(vec![])
        .await
        .expect("execution client answers");
    client
}

/// Builds and imports one block on `head` (number `number`); returns the new head.
async fn produce(
    client: &HttpEngineClient,
    head: B256,
    number: u64,
) -> Result<B256, alys_engine::EngineError> {
    let withdrawals = (0..20)
        .map(|i| Withdrawal {
            index: number * 20 + i,
            validator_index: 0,
            address: Address::random(),
            amount: 1 + i,
        })
        .collect();
    let root = B256::random();
    let attrs = PayloadAttributes {
        timestamp: GENESIS_TIME + 2 * number,
        prev_randao: B256::random(),
        suggested_fee_recipient: Address::ZERO,
        withdrawals: Some(withdrawals),
        parent_beacon_block_root: Some(root),
        slot_number: None,
        target_gas_limit: None,
    };
    let updated = client
        .forkchoice_updated(forkchoice(head), Some(attrs))
        .await?;
    let id = updated.payload_id.expect("payload id");
    let payload = client.get_payload(id).await?.execution_payload;
    let hash = payload.payload_inner.payload_inner.block_hash;
    assert_eq!(payload.payload_inner.payload_inner.block_number, number);
    let status = client.new_payload(payload, vec![], root).await?;
    assert_eq!(status.status, PayloadStatusEnum::Valid);
    let updated = client.forkchoice_updated(forkchoice(hash), None).await?;
    assert_eq!(updated.payload_status.status, PayloadStatusEnum::Valid);
    Ok(hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_imports_leaves_a_consistent_resumable_head() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("genesis.json"), GENESIS).unwrap();
    let mut rng = seeded_rng("sigkill_during_imports");
    let mut head: Option<(u64, B256)> = None;
    for round in 0..5 {
        let mut el = start_el(dir.path());
        let client = connect(dir.path(), &el).await;
        let (mut number, mut hash) = match head {
            Some(h) => h,
            None => (0, genesis_hash()),
        };
        // After a restart the client resumes at the head check-db saw.
        let resumed = client
            .forkchoice_updated(forkchoice(hash), None)
            .await
            .unwrap();
        assert_eq!(
            resumed.payload_status.status,
            PayloadStatusEnum::Valid,
            "round {round}"
        );
        let kill_after = Duration::from_millis(rng.gen_range(100..600));
        let deadline = tokio::time::Instant::now() + kill_after;
        while tokio::time::Instant::now() < deadline {
            match produce(&client, hash, number + 1).await {
                Ok(h) => {
                    hash = h;
                    number += 1;
                }
                Err(e) => panic!("round {round}: import failed before the kill: {e}"),
            }
        }
        // Kill while a request is in flight.
        let in_flight = tokio::spawn({
            let client = client.clone();
            async move { produce(&client, hash, number + 1).await }
        });
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..5))).await;
        el.process.kill();
        let _ = in_flight.await;
        let (db_number, db_hash) = check_db(dir.path());
        assert!(
            db_number >= number,
            "round {round}: head went back from {number} to {db_number}"
        );
        assert!(db_number <= number + 1, "round {round}");
        if db_number == number {
            assert_eq!(db_hash, hash, "round {round}");
        }
        head = Some((db_number, db_hash));
    }
    // A final restart keeps producing on top of the last head.
    let mut el = start_el(dir.path());
    let client = connect(dir.path(), &el).await;
    let (number, hash) = head.unwrap();
    produce(&client, hash, number + 1).await.unwrap();
    el.process.kill();
}

fn genesis_hash() -> B256 {
    let genesis: alloy_genesis::Genesis = serde_json::from_str(GENESIS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(alys_store::Store::open(&dir.path().join("el")).unwrap());
    alys_evm::chain::Chain::open(store, &genesis)
        .unwrap()
        .genesis_hash()
}
