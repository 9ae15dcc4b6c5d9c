//! Fee suggestions: `eth_gasPrice`, `eth_maxPriorityFeePerGas`, `eth_feeHistory`,
//! `eth_blobBaseFee`, computed as Geth's gas price oracle and fee history do.

use std::sync::Arc;

use alloy::consensus::{Header, Transaction as _};
use alloy::eips::{eip1559::BaseFeeParams, eip7840::BlobParams, BlockNumberOrTag};
use alloy::rpc::types::FeeHistory;
use alloy_primitives::{B256, U256};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};

use super::{
    blocking,
    errors::{header_not_found, internal, invalid_params},
    EthApi,
};
use crate::{chain::SharedChain, db::ElDb};

/// Tips below this are ignored when sampling (Geth's `IgnorePrice`).
const IGNORE_TIP: u128 = 2;
/// Cheapest transactions sampled per block (Geth's `sampleNumber`).
const SAMPLES_PER_BLOCK: usize = 3;
/// Upper bound of a suggested tip (Geth: 500 gwei).
const MAX_TIP: u128 = 500_000_000_000;

/// A block count given as a JSON number or a hex/decimal string (Geth accepts both).
#[derive(Debug, Clone, Copy)]
struct Count(u64);

impl<'de> serde::Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Count)
                .ok_or_else(|| serde::de::Error::custom("block count must be a positive integer")),
            serde_json::Value::String(s) => {
                let parsed = match s.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse(),
                };
                parsed.map(Count).map_err(serde::de::Error::custom)
            }
            _ => Err(serde::de::Error::custom("invalid block count")),
        }
    }
}

/// Effective tips paid in block `hash`, each with the gas its transaction used, ascending.
fn block_tips(
    db: &ElDb,
    hash: &B256,
    header: &Header,
) -> Result<Vec<(u128, u64)>, ErrorObjectOwned> {
    let (Some(body), Some(receipts)) = (
        db.body(hash).map_err(internal)?,
        db.receipts(hash).map_err(internal)?,
    ) else {
        return Ok(Vec::new());
    };
    let base_fee = header.base_fee_per_gas.unwrap_or_default();
    let mut prev = 0;
    let mut tips: Vec<(u128, u64)> = body
        .transactions
        .iter()
        .zip(&receipts)
        .map(|(tx, r)| {
            let used = r.cumulative_gas_used().saturating_sub(prev);
            prev = r.cumulative_gas_used();
            (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), used)
        })
        .collect();
    tips.sort_unstable();
    Ok(tips)
}

impl EthApi {
    /// The suggested priority fee: a percentile of the cheapest tips of recent blocks.
    pub fn suggested_tip(&self) -> Result<u128, ErrorObjectOwned> {
        let (db, head_number) = {
            let chain = self.chain().lock();
            (chain.db().clone(), chain.head().0.number)
        };
        let blocks = self.config().gas_price_blocks;
        let mut samples = Vec::new();
        for n in head_number.saturating_sub(blocks.saturating_sub(1))..=head_number {
            let Some(hash) = db.canonical_hash(n).map_err(internal)? else {
                continue;
            };
            let Some(header) = db.header(&hash).map_err(internal)? else {
                continue;
            };
            samples.extend(
                block_tips(&db, &hash, &header)?
                    .into_iter()
                    .map(|(tip, _)| tip)
                    .filter(|t| *t >= IGNORE_TIP)
                    .take(SAMPLES_PER_BLOCK),
            );
        }
        if samples.is_empty() {
            return Ok(self.config().default_tip);
        }
        samples.sort_unstable();
        let pct = usize::from(self.config().gas_price_percentile.min(100));
        let idx = (samples.len() - 1) * pct / 100;
        Ok(samples[idx].min(MAX_TIP))
    }

    /// `eth_gasPrice`: suggested tip plus the head's base fee.
    pub fn gas_price(&self) -> Result<U256, ErrorObjectOwned> {
        let tip = self.suggested_tip()?;
        let base_fee = self
            .chain()
            .lock()
            .head()
            .0
            .base_fee_per_gas
            .unwrap_or_default();
        Ok(U256::from(tip) + U256::from(base_fee))
    }

    /// `eth_blobBaseFee`: the blob base fee of the next block.
    pub fn blob_base_fee(&self) -> Result<U256, ErrorObjectOwned> {
        let chain = self.chain().lock();
        let head = chain.head().0;
        let excess = head
            .next_block_excess_blob_gas(BlobParams::cancun())
            .unwrap_or_default();
        Ok(U256::from(BlobParams::cancun().calc_blob_fee(excess)))
    }

    /// `eth_feeHistory`.
    pub fn fee_history(&self, params: Params) -> Result<FeeHistory, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let Count(count) = seq.next()?;
        let newest: BlockNumberOrTag = seq.next()?;
        let percentiles: Option<Vec<f64>> = seq.optional_next()?;
        if let Some(p) = &percentiles {
            let mut prev = 0.0;
            for (i, v) in p.iter().enumerate() {
                if !(0.0..=100.0).contains(v) || (i > 0 && *v < prev) {
                    return Err(invalid_params(format!(
                        "invalid reward percentile: #{i}:{v}"
                    )));
                }
                prev = *v;
            }
        }
        let (db, newest_hash) = {
            let chain = self.chain().lock();
            let hash = EthApi::resolve_tag(&chain, newest)?.ok_or_else(header_not_found)?;
            (chain.db().clone(), hash)
        };
        let newest_header = db
            .header(&newest_hash)
            .map_err(internal)?
            .ok_or_else(header_not_found)?;
        let count = count
            .min(self.config().max_fee_history)
            .min(newest_header.number + 1);
        let mut history = FeeHistory::default();
        if count == 0 {
            return Ok(history);
        }
        let oldest = newest_header.number + 1 - count;
        history.oldest_block = oldest;
        let blob = BlobParams::cancun();
        let max_blob_gas = blob.max_blob_gas_per_block();
        let mut rewards = Vec::new();
        for n in oldest..=newest_header.number {
            let hash = if n == newest_header.number {
                newest_hash
            } else {
                db.canonical_hash(n)
                    .map_err(internal)?
                    .ok_or_else(header_not_found)?
            };
            let header = db
                .header(&hash)
                .map_err(internal)?
                .ok_or_else(header_not_found)?;
            history
                .base_fee_per_gas
                .push(u128::from(header.base_fee_per_gas.unwrap_or_default()));
            history.gas_used_ratio.push(if header.gas_limit == 0 {
                0.0
            } else {
                header.gas_used as f64 / header.gas_limit as f64
            });
            history
                .base_fee_per_blob_gas
                .push(blob.calc_blob_fee(header.excess_blob_gas.unwrap_or_default()));
            history.blob_gas_used_ratio.push(if max_blob_gas == 0 {
                0.0
            } else {
                header.blob_gas_used.unwrap_or_default() as f64 / max_blob_gas as f64
            });
            if let Some(p) = &percentiles {
                rewards.push(block_rewards(
                    &block_tips(&db, &hash, &header)?,
                    header.gas_used,
                    p,
                ));
            }
        }
        history.base_fee_per_gas.push(u128::from(
            newest_header
                .next_block_base_fee(BaseFeeParams::ethereum())
                .unwrap_or_default(),
        ));
        history.base_fee_per_blob_gas.push(
            blob.calc_blob_fee(
                newest_header
                    .next_block_excess_blob_gas(blob)
                    .unwrap_or_default(),
            ),
        );
        history.reward = percentiles.map(|_| rewards);
        Ok(history)
    }
}

/// Geth's reward percentiles: tips weighted by gas used.
fn block_rewards(tips: &[(u128, u64)], gas_used: u64, percentiles: &[f64]) -> Vec<u128> {
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut out = Vec::with_capacity(percentiles.len());
    let mut idx = 0;
    let mut sum = tips[0].1;
    for p in percentiles {
        let threshold = (gas_used as f64 * p / 100.0) as u64;
        while sum < threshold && idx < tips.len() - 1 {
            idx += 1;
            sum += tips[idx].1;
        }
        out.push(tips[idx].0);
    }
    out
}

/// Registers the fee methods.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    blocking(module, api, "eth_gasPrice", |api, _| api.gas_price());
    blocking(module, api, "eth_maxPriorityFeePerGas", |api, _| {
        api.suggested_tip().map(U256::from)
    });
    blocking(module, api, "eth_blobBaseFee", |api, _| api.blob_base_fee());
    blocking(module, api, "eth_feeHistory", |api, p| api.fee_history(p));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_are_gas_weighted() {
        let tips = [(1, 21_000), (5, 50_000), (9, 29_000)];
        assert_eq!(
            block_rewards(&tips, 100_000, &[0.0, 25.0, 50.0, 75.0, 100.0]),
            vec![1, 5, 5, 9, 9]
        );
        assert_eq!(block_rewards(&[], 0, &[50.0]), vec![0]);
    }
}
