//! Sender recovery overlapped with execution.
//!
//! Recovering the signer of every transaction dominates the import of a block of simple
//! transactions. The signatures are independent, so they are recovered in chunks on the rayon
//! pool while the calling thread executes, in block order, each transaction whose sender is
//! already known: execution hides behind recovery instead of following it.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    mpsc,
};

use alloy::consensus::{
    transaction::{Recovered, SignerRecoverable},
    TxEnvelope,
};
use alloy_primitives::Address;
use rayon::prelude::*;

/// Transactions recovered per task.
const CHUNK: usize = 16;

/// A transaction whose signature does not recover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction {index}: bad signature: {reason}")]
pub(crate) struct BadSignature {
    /// Position of the transaction in the block.
    pub index: usize,
    /// What the recovery reported.
    pub reason: String,
}

type ChunkResult = (usize, Vec<Result<Address, String>>);

/// Runs `consume` over `txs` with their senders, recovered concurrently in block order.
///
/// `consume` sees the transactions up to the first bad signature; that signature is returned as
/// an error, whatever `consume` returned.
pub(crate) fn with_recovered_senders<R>(
    txs: &[TxEnvelope],
    consume: impl FnOnce(&mut dyn Iterator<Item = Recovered<TxEnvelope>>) -> R,
) -> Result<R, BadSignature> {
    if rayon::current_thread_index().is_some() {
        // On a pool thread, blocking for chunks could starve the pool: recover first.
        let recovered = recover_all(txs)?;
        return Ok(consume(&mut recovered.into_iter()));
    }
    let aborted = AtomicBool::new(false);
    let (send, receive) = mpsc::channel::<ChunkResult>();
    rayon::in_place_scope(|scope| {
        for (index, chunk) in txs.chunks(CHUNK).enumerate() {
            let send = send.clone();
            let aborted = &aborted;
            scope.spawn(move |_| {
                if aborted.load(Ordering::Relaxed) {
                    return;
                }
                let senders = chunk
                    .iter()
                    .map(|tx| tx.recover_signer().map_err(|e| e.to_string()))
                    .collect();
                let _ = send.send((index, senders));
            });
        }
        drop(send);
        let mut stream = InOrder {
            txs,
            receive,
            chunks: std::iter::repeat_with(|| None)
                .take(txs.len().div_ceil(CHUNK))
                .collect(),
            next: 0,
            failed: None,
        };
        let result = consume(&mut stream);
        aborted.store(true, Ordering::Relaxed);
        match stream.failed {
            Some(bad) => Err(bad),
            None => Ok(result),
        }
    })
}

/// Recovers every sender in parallel, failing on the first bad signature.
pub(crate) fn recover_all(txs: &[TxEnvelope]) -> Result<Vec<Recovered<TxEnvelope>>, BadSignature> {
    txs.par_iter()
        .enumerate()
        .map(|(index, tx)| {
            tx.recover_signer()
                .map(|signer| Recovered::new_unchecked(tx.clone(), signer))
                .map_err(|e| BadSignature {
                    index,
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// Yields transactions with their senders in block order as their chunks arrive.
struct InOrder<'a> {
    txs: &'a [TxEnvelope],
    receive: mpsc::Receiver<ChunkResult>,
    chunks: Vec<Option<Vec<Result<Address, String>>>>,
    next: usize,
    failed: Option<BadSignature>,
}

impl Iterator for InOrder<'_> {
    type Item = Recovered<TxEnvelope>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed.is_some() || self.next >= self.txs.len() {
            return None;
        }
        let (chunk, offset) = (self.next / CHUNK, self.next % CHUNK);
        while self.chunks[chunk].is_none() {
            // Every chunk task sends exactly once before the senders are all dropped.
            let (index, senders) = self.receive.recv().ok()?;
            self.chunks[index] = Some(senders);
        }
        let index = self.next;
        self.next += 1;
        match &self.chunks[chunk].as_ref()?[offset] {
            Ok(sender) => Some(Recovered::new_unchecked(self.txs[index].clone(), *sender)),
            Err(reason) => {
                self.failed = Some(BadSignature {
                    index,
                    reason: reason.clone(),
                });
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, Transaction, TxLegacy};
    use alloy::network::TxSignerSync;
    use alloy::signers::local::PrivateKeySigner;
    use alloy_primitives::{Signature, TxKind, U256};

    fn signed(count: usize) -> (Vec<TxEnvelope>, Vec<Address>) {
        let signers: Vec<PrivateKeySigner> = (0..7).map(|_| PrivateKeySigner::random()).collect();
        (0..count)
            .map(|i| {
                let signer = &signers[i % signers.len()];
                let mut tx = TxLegacy {
                    chain_id: Some(1),
                    nonce: i as u64,
                    gas_price: 1,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::ZERO),
                    value: U256::from(i),
                    input: Default::default(),
                };
                let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
                (TxEnvelope::Legacy(tx.into_signed(sig)), signer.address())
            })
            .unzip()
    }

    fn corrupt(tx: &TxEnvelope) -> TxEnvelope {
        let TxEnvelope::Legacy(signed) = tx else {
            unreachable!("legacy transactions only")
        };
        let sig = Signature::new(U256::ZERO, U256::from(1), false);
        TxEnvelope::Legacy(signed.tx().clone().into_signed(sig))
    }

    #[test]
    fn yields_every_sender_in_block_order() {
        let (txs, senders) = signed(100);
        let seen = with_recovered_senders(&txs, |stream| {
            stream
                .map(|r| (r.inner().nonce(), r.signer()))
                .collect::<Vec<_>>()
        })
        .expect("all signatures good");
        let expected: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, a)| (i as u64, a))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn stops_at_the_first_bad_signature_and_names_it() {
        let (mut txs, _) = signed(100);
        txs[37] = corrupt(&txs[37]);
        txs[80] = corrupt(&txs[80]);
        let mut consumed = 0;
        let err = with_recovered_senders(&txs, |stream| consumed = stream.count())
            .expect_err("bad signature");
        assert_eq!(
            consumed, 37,
            "only the transactions before the bad one are executed"
        );
        assert_eq!(err.index, 37);
        assert!(
            err.to_string().starts_with("transaction 37: bad signature"),
            "{err}"
        );
    }

    #[test]
    fn on_a_pool_thread_recovers_first_with_the_same_result() {
        let (mut txs, senders) = signed(40);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let seen = pool.install(|| {
            with_recovered_senders(&txs, |stream| {
                stream.map(|r| r.signer()).collect::<Vec<_>>()
            })
        });
        assert_eq!(seen.expect("good"), senders);
        txs[3] = corrupt(&txs[3]);
        let err = pool
            .install(|| with_recovered_senders(&txs, |stream| stream.count()))
            .expect_err("bad");
        assert_eq!(err.index, 3);
    }

    #[test]
    fn an_empty_block_has_nothing_to_recover() {
        let count = with_recovered_senders(&[], |stream| stream.count()).expect("empty");
        assert_eq!(count, 0);
    }
}
