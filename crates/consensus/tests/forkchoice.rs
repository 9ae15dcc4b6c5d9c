//! Fork choice across three nodes with real ELs: two competing approved branches resolve the
//! same on every node whatever the arrival order, a longer branch reorgs everyone (EL
//! included), and nothing at or below the finalized block is ever reverted, also after a
//! restart.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_consensus::forkchoice::ForkChoiceError;
use alys_consensus::validate::BlockError;
use alys_consensus::{ImportError, ImportOutcome, NoPegIns};
use common::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_branches_resolve_the_same_and_finality_holds() {
    let spec = spec();
    let time = manual_time();
    let (_dirs, mut nodes) = start_three(&spec, &time).await;
    let genesis = nodes[0].chain.head().root;
    let a = nodes[0].chain.clock().current_slot() + 1;

    // X at slot a and Y at slot a+1, both on genesis, each with threshold approval.
    let x = sign_block(
        &nodes[0].chain,
        produce(&nodes[0].chain, &time, a).await.block,
    );
    let y = sign_block(
        &nodes[2].chain,
        produce(&nodes[2].chain, &time, a + 1).await.block,
    );
    assert_eq!(x.message.parent_root, genesis);
    assert_eq!(y.message.parent_root, genesis);

    let orders = [[&x, &y], [&y, &x], [&y, &x]];
    for (node, order) in nodes.iter_mut().zip(orders) {
        for b in order {
            let out = node.chain.import_block(b).await.expect("import");
            assert!(matches!(out, ImportOutcome::Imported { .. }));
        }
    }
    // Same height: the lower slot wins on every node.
    for node in &nodes {
        assert_eq!(node.chain.head().root, x.root());
    }

    // Z extends Y: the longer branch wins everywhere (EL reorgs to it).
    time.set_ms(nodes[2].chain.clock().slot_start_ms(a + 2));
    let z = nodes[2]
        .chain
        .produce_block_on(y.root(), a + 2, &proposer_signer(&spec, a + 2))
        .await
        .expect("produce on y");
    let z = sign_block(&nodes[2].chain, z.block);
    for node in nodes.iter_mut() {
        node.chain.import_block(&z).await.expect("import z");
        assert_eq!(node.chain.head().root, z.root());
        assert_eq!(node.chain.head().height, 2);
        assert_eq!(
            node.chain.store().canonical_root(1).expect("store"),
            Some(y.root())
        );
    }
    // Every EL follows: a block on Z builds on Z's payload.
    let next = extend(&mut nodes[1].chain, &time, a + 3).await;
    assert_eq!(
        next.message.execution_payload.parent_hash,
        z.message.execution_payload.block_hash
    );
    for i in [0, 2] {
        nodes[i]
            .chain
            .import_block(&next)
            .await
            .expect("import next");
    }

    // Finalize Y: X's branch is gone for good.
    for node in nodes.iter_mut() {
        node.chain.finalize(y.root()).await.expect("finalize");
        assert_eq!(node.chain.finalized().root, y.root());
        assert_eq!(node.chain.head().root, next.root());
        assert!(!node.chain.forkchoice().contains(&x.root()));
    }
    // A block building on X is refused: it would revert the finalized Y.
    let mut on_x = next.message.clone();
    on_x.parent_root = x.root();
    let on_x = sign_block(&nodes[0].chain, on_x);
    let err = nodes[0]
        .chain
        .import_block(&on_x)
        .await
        .expect_err("below finalized");
    assert_eq!(
        err.block_error(),
        Some(&BlockError::ConflictsWithFinalized(x.root()))
    );
    // Finalizing backwards is refused.
    let err = nodes[0]
        .chain
        .finalize(x.root())
        .await
        .expect_err("x pruned");
    assert!(matches!(
        err,
        ImportError::ForkChoice(ForkChoiceError::UnknownBlock(_))
    ));
    let err = nodes[0]
        .chain
        .finalize(genesis)
        .await
        .expect_err("genesis is below");
    assert!(matches!(
        err,
        ImportError::ForkChoice(ForkChoiceError::UnknownBlock(_))
    ));

    // Finality and head survive a restart.
    let status = nodes[0].chain.status();
    let TestNode {
        el,
        engine,
        chain,
        dir,
    } = nodes.remove(0);
    drop(chain);
    let chain = open_chain(&dir, spec.clone(), &time, engine, Arc::new(NoPegIns)).await;
    assert_eq!(chain.status(), status);
    assert_eq!(chain.finalized().root, y.root());
    drop(chain);
    el.stop().await;
}
