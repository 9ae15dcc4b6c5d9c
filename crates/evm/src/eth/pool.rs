//! Transaction submission and pool inspection: `eth_sendRawTransaction`, `txpool_status`,
//! `txpool_content`, `txpool_inspect`, `txpool_contentFrom`.
//!
//! Decoding and signature recovery run before any lock; the checks against the head state and
//! the insertion hold only the pool's lock, never the chain's, so a submission is answered
//! while a payload is being built. The head is the one the chain last published.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::consensus::{
    transaction::{Recovered, SignerRecoverable},
    TxEnvelope,
};
use alloy::eips::eip2718::Decodable2718;
use alloy::rpc::types::txpool::{
    TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolInspectSummary, TxpoolStatus,
};
use alloy_primitives::{Address, Bytes, B256};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};

use super::{
    blocking,
    errors::{internal, server_err},
    inline, pending_transaction, EthApi,
};
use crate::{chain::SharedChain, txpool::PoolError};

fn pool_err(e: PoolError) -> ErrorObjectOwned {
    match e {
        PoolError::Internal(m) => internal(m),
        e => server_err(e.to_string()),
    }
}

/// Decodes an EIP-2718 transaction, refusing trailing bytes.
pub(crate) fn decode_raw(raw: &[u8]) -> Result<TxEnvelope, ErrorObjectOwned> {
    if raw.is_empty() {
        return Err(server_err("typed transaction too short"));
    }
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| server_err(format!("rlp: {e}")))?;
    if !buf.is_empty() {
        return Err(server_err("rlp: input contains more than one value"));
    }
    Ok(tx)
}

type Content<T> = (
    BTreeMap<Address, BTreeMap<String, T>>,
    BTreeMap<Address, BTreeMap<String, T>>,
);

impl EthApi {
    /// `eth_sendRawTransaction`, step 1 (no lock): decode and recover the sender.
    pub fn decode_and_recover(params: Params) -> Result<Recovered<TxEnvelope>, ErrorObjectOwned> {
        let raw: Bytes = params.one()?;
        let tx = decode_raw(&raw)?;
        let sender = tx
            .recover_signer()
            .map_err(|e| pool_err(PoolError::InvalidSender(e.to_string())))?;
        Ok(Recovered::new_unchecked(tx, sender))
    }

    /// `eth_sendRawTransaction`, step 2 (under the pool's lock only): validate against the
    /// published head and add to the pool.
    pub fn submit(&self, tx: Recovered<TxEnvelope>) -> Result<B256, ErrorObjectOwned> {
        let (head, view) = self.head_view();
        self.pool()
            .lock()
            .add_recovered(tx, &view, &head)
            .map_err(pool_err)
    }

    fn content_with<T>(
        &self,
        only: Option<Address>,
        f: impl Fn(&Recovered<TxEnvelope>) -> T,
    ) -> Result<Content<T>, ErrorObjectOwned> {
        let (_, view) = self.head_view();
        let pool = self.pool().lock();
        let mut pending = BTreeMap::new();
        let mut queued = BTreeMap::new();
        let senders: Vec<Address> = match only {
            Some(a) => vec![a],
            None => pool.senders().copied().collect(),
        };
        for sender in senders {
            let nonce = view
                .account(&sender)
                .map_err(internal)?
                .map(|a| a.nonce)
                .unwrap_or_default();
            let (p, q) = pool.split_sender(&sender, nonce);
            let map = |txs: Vec<&Recovered<TxEnvelope>>| -> BTreeMap<String, T> {
                txs.into_iter()
                    .map(|tx| {
                        use alloy::consensus::Transaction as _;
                        (tx.nonce().to_string(), f(tx))
                    })
                    .collect()
            };
            if !p.is_empty() {
                pending.insert(sender, map(p));
            }
            if !q.is_empty() {
                queued.insert(sender, map(q));
            }
        }
        Ok((pending, queued))
    }

    /// `txpool_status`.
    pub fn txpool_status(&self) -> Result<TxpoolStatus, ErrorObjectOwned> {
        let (_, view) = self.head_view();
        let status = self.pool().lock().status(&view);
        Ok(TxpoolStatus {
            pending: status.pending as u64,
            queued: status.queued as u64,
        })
    }

    /// `txpool_content`.
    pub fn txpool_content(&self) -> Result<TxpoolContent, ErrorObjectOwned> {
        let (pending, queued) = self.content_with(None, pending_transaction)?;
        Ok(TxpoolContent { pending, queued })
    }

    /// `txpool_contentFrom`.
    pub fn txpool_content_from(
        &self,
        params: Params,
    ) -> Result<TxpoolContentFrom, ErrorObjectOwned> {
        let address: Address = params.one()?;
        let (mut pending, mut queued) = self.content_with(Some(address), pending_transaction)?;
        Ok(TxpoolContentFrom {
            pending: pending.remove(&address).unwrap_or_default(),
            queued: queued.remove(&address).unwrap_or_default(),
        })
    }

    /// `txpool_inspect`.
    pub fn txpool_inspect(&self) -> Result<TxpoolInspect, ErrorObjectOwned> {
        let (pending, queued) =
            self.content_with(None, |tx| TxpoolInspectSummary::from_tx(tx.inner().clone()))?;
        Ok(TxpoolInspect { pending, queued })
    }
}

/// Registers the submission and pool methods.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    inline(module, api, "eth_sendRawTransaction", |api, p| {
        api.submit(EthApi::decode_and_recover(p)?)
    });
    // The node holds no keys.
    for name in [
        "eth_sendTransaction",
        "eth_sign",
        "eth_signTransaction",
        "eth_signTypedData_v4",
    ] {
        inline(module, api, name, |_, _| {
            Err::<(), _>(server_err("unknown account"))
        });
    }
    blocking(module, api, "txpool_status", |api, _| api.txpool_status());
    blocking(module, api, "txpool_content", |api, _| api.txpool_content());
    blocking(module, api, "txpool_contentFrom", |api, p| {
        api.txpool_content_from(p)
    });
    blocking(module, api, "txpool_inspect", |api, _| api.txpool_inspect());
}
