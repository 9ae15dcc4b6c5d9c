//! Peg-in minting at import, with the node's real peg-in verifier: the Bitcoin follower over
//! the embedded regtest devnet (Bitcoin Core RPC over HTTP) feeds the deposit index, and
//! `FollowerPegIns` derives the minted outpoints from the consensus store. A confirmed deposit
//! is proposed and minted once; a block listing the same outpoint twice, or one already
//! minted on its chain, is invalid and not imported.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod chain;

use alys_bitcoin::bitcoin::hashes::Hash;
use alys_consensus::validate::BlockError;
use alys_consensus::{Chain, PegInRejection};
use alys_primitives::payload::Withdrawal as SszWithdrawal;
use alys_primitives::withdrawals::{expected_withdrawals, withdrawal_index_base};
use alys_primitives::{Address, ConsensusBlock, PegIn, SignedConsensusBlock};
use chain::*;
use ssz_types::VariableList;

/// Replace the block's peg-ins (and its withdrawals by their mints), keeping the block
/// otherwise valid, and sign it with a threshold.
fn with_pegins(
    chain: &Chain<Engine>,
    mut block: ConsensusBlock,
    pegins: Vec<PegIn>,
) -> SignedConsensusBlock {
    block.pegins = VariableList::new(pegins).expect("pegins");
    let base = withdrawal_index_base(block.execution_payload.block_number);
    let mints = expected_withdrawals(&block.pegins, base).expect("mints");
    block.execution_payload.withdrawals =
        VariableList::new(mints.iter().map(|w| SszWithdrawal::from(*w)).collect()).expect("≤ 16");
    rehash(&mut block);
    sign_block(chain, block)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_minted_once_duplicate_and_already_minted_blocks_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec();
    let time = manual_time();

    // The node: one store shared by the follower, the minted set and the chain, as in `alys`;
    // Bitcoin is the embedded regtest devnet, reached over its Core-compatible RPC.
    let mut node = PegNode::start(dir.path(), spec.clone(), &time).await;

    // A deposit with the required confirmations.
    let alice = Address::repeat_byte(0xa1);
    let txid = node.confirmed_deposit(0.5, alice).await;
    let (chain, verifier) = (&mut node.chain, &node.verifier);

    // The proposer includes it, validators accept it: minted with its exact amount.
    let mut slot = chain.clock().current_slot() + 1;
    let minting = extend(chain, &time, slot).await;
    let deposit = minting
        .message
        .pegins
        .first()
        .cloned()
        .expect("deposit proposed");
    assert_eq!(minting.message.pegins.len(), 1);
    assert_eq!(deposit.txid.0, txid.to_byte_array());
    assert_eq!((deposit.sats, deposit.evm_address), (50_000_000, alice));
    let ws = minting.message.execution_payload.engine_withdrawals();
    assert_eq!(
        (ws.len(), ws[0].address, ws[0].amount),
        (1, alice, 500_000_000)
    );
    assert_eq!(
        verifier.minted_in(&minting.root(), &txid),
        Some(minting.root())
    );

    // Not proposed again.
    slot += 1;
    let next = produce(chain, &time, slot).await.block;
    assert!(next.pegins.is_empty(), "already minted: not a candidate");

    // Already minted on this chain: invalid.
    let again = with_pegins(chain, next.clone(), vec![deposit]);
    assert_invalid(chain, &again, |e| {
        matches!(e, BlockError::PegInRejected { index: 0, reason: PegInRejection::AlreadyMinted { vout, .. } } if *vout == deposit.vout)
    })
    .await;

    // The same outpoint listed twice in one block: invalid.
    let twice = with_pegins(chain, next.clone(), vec![deposit, deposit]);
    assert_invalid(chain, &twice, |e| {
        matches!(e, BlockError::DuplicatePegIn { index: 1 })
    })
    .await;

    // The honest block still imports, and the deposit stays minted once on the chain.
    chain
        .import_block(&sign_block(chain, next))
        .await
        .expect("honest block imports");
    let head = chain.head().root;
    let minted = verifier.minted_on(&head).expect("minted set");
    assert_eq!(minted.len(), 1);
    assert_eq!(verifier.minted_in(&head, &txid), Some(minting.root()));
}
