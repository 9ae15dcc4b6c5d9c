//! Samples the transaction pool's size into `alys_txpool_transactions` (a gauge read by
//! Prometheus every few seconds: sampling is cheaper than recording on every pool change).

use std::{sync::Arc, time::Duration};

use alys_metrics::{catalog as m, gauge};

use crate::chain::SharedChain;

/// How often the pool is sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

/// Spawns the sampling task. It holds the chain only while it samples, so the execution
/// client can close its store on stop; it ends when the chain is gone.
pub fn spawn(chain: &SharedChain) -> tokio::task::JoinHandle<()> {
    let chain = Arc::downgrade(chain);
    tokio::spawn(async move {
        loop {
            let Some(pool) = chain.upgrade().map(|c| c.lock().pool().clone()) else {
                return;
            };
            let len = pool.lock().len();
            gauge!(m::TXPOOL_TRANSACTIONS).set(len as f64);
            tokio::time::sleep(SAMPLE_INTERVAL).await;
        }
    })
}
