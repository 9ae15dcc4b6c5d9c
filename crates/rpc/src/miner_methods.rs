//! Merged-mining methods, shaped as Namecoin Core's so pools connect unchanged (DESIGN §5):
//!
//! * `createauxblock <address>` → `{hash, chainid, previousblockhash, coinbasevalue, bits,
//!   height, _target}` for a proof finalizing the head's unfinalized range and paying the
//!   miner's fee share to `address` (an EVM address);
//! * `submitauxblock <hash> <auxpow hex>` → `true` once the proof is verified and handed to the
//!   consensus service (the next proposer includes it), otherwise a JSON-RPC error saying why;
//! * `getauxblock` → `createauxblock` for the node's default payout address;
//!   `getauxblock <hash> <auxpow hex>` → `submitauxblock`.
//!
//! Outstanding jobs live in an [`alys_auxpow::JobManager`] keyed by work hash, evicted once
//! their range start is finalized or their head is more than [`MAX_JOB_HEAD_LAG`] blocks behind.
//!
//! Error codes follow Bitcoin/Namecoin Core: -5 invalid address, -8 unknown or stale hash
//! (`RPC_INVALID_PARAMETER`), -22 undecodable AuxPoW (`RPC_DESERIALIZATION_ERROR`), -25 proof
//! rejected (`RPC_VERIFY_ERROR`), -10 nothing to mine yet, -1 merged mining disabled / node busy.

use std::sync::{Arc, Mutex};

use alloy_primitives::Address;
use alys_auxpow::bitcoin::CompactTarget;
use alys_auxpow::{
    target_from_compact, AuxPow, AuxPowError, CreateAuxBlockResponse, JobError, JobManager,
    VerifyParams, WorkCommitment, WorkHash,
};
use alys_consensus::{ChainStatus, Input};
use alys_metrics::{catalog as m, counter};
use alys_primitives::withdrawals::FeeSplit;
use alys_primitives::{AuxPowHeader, ChainSpec};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::{Methods, RpcError};

/// Jobs kept at most.
pub const MAX_JOBS: usize = 4096;
/// A job is stale once the head is this many blocks past the job's head.
pub const MAX_JOB_HEAD_LAG: u64 = 64;

/// What the miner methods need from the node.
#[derive(Clone)]
pub struct MinerView {
    /// Status published by the consensus service (head, finalized range, expected bits).
    pub status: watch::Receiver<ChainStatus>,
    /// The chain spec.
    pub spec: Arc<ChainSpec>,
    /// The consensus service's inputs (accepted proofs go there).
    pub inputs: mpsc::Sender<Input>,
    /// Payout address of `getauxblock` without arguments.
    pub default_payout: Option<Address>,
}

struct MinerState {
    view: MinerView,
    verify: Option<VerifyParams>,
    jobs: Mutex<JobManager>,
}

fn err(code: i64, message: impl Into<String>) -> RpcError {
    RpcError {
        code,
        message: message.into(),
    }
}

fn str_param<'a>(params: &'a [Value], i: usize, what: &str) -> Result<&'a str, RpcError> {
    params
        .get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| err(-8, format!("parameter `{what}` must be a string")))
}

impl MinerState {
    fn jobs(&self) -> std::sync::MutexGuard<'_, JobManager> {
        // A panic while holding the lock cannot leave the job table inconsistent in a way
        // that matters (worst case a job is lost): recover the guard.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self, address: &str) -> Result<Value, RpcError> {
        let payout: Address = address.trim().parse().map_err(|_| {
            err(
                -5,
                format!("Invalid address {address:?}: expected a 0x-prefixed EVM address"),
            )
        })?;
        let status = self.view.status.borrow().clone();
        let pow = &status.pow;
        if self.verify.is_none() || !pow.enabled {
            return Err(err(
                -1,
                "merged mining is disabled on this chain (no `pow` in the chain spec)",
            ));
        }
        if status.head_height < pow.range_start {
            return Err(err(
                -10,
                "no unfinalized block to mine on yet; retry after the next block",
            ));
        }
        let commitment = WorkCommitment {
            chain_id: self.view.spec.auxpow_chain_id,
            head_root: status.head_root,
            range_start: pow.range_start,
            payout,
        };
        let bits = CompactTarget::from_consensus(pow.bits);
        let hash = {
            let mut jobs = self.jobs();
            jobs.on_head_moved(pow.finalized_height, status.head_height);
            jobs.insert(commitment, status.head_height, bits, ())
        };
        let gwei = pow.pending_fees_wei / alloy_primitives::U256::from(1_000_000_000u64);
        let gwei = u64::try_from(gwei).unwrap_or(u64::MAX);
        let split = FeeSplit::new(
            gwei,
            self.view.spec.miner_fee_share,
            self.view.spec.federation_fee_addresses.len(),
        );
        let response = CreateAuxBlockResponse::new(
            hash,
            self.view.spec.auxpow_chain_id,
            status.head_root,
            split.miner / alys_primitives::units::GWEI_PER_SAT,
            bits,
            status.head_height.saturating_add(1),
        );
        let response =
            serde_json::to_value(response).map_err(|e| RpcError::internal(e.to_string()))?;
        counter!(m::AUX_WORK_SERVED).increment(1);
        Ok(response)
    }

    /// [`Self::try_submit`], counted in the aux-work metrics.
    fn submit(&self, hash: &str, auxpow_hex: &str) -> Result<Value, RpcError> {
        match self.try_submit(hash, auxpow_hex) {
            Ok(v) => {
                counter!(m::AUX_WORK_ACCEPTED).increment(1);
                Ok(v)
            }
            Err((reason, e)) => {
                counter!(m::AUX_WORK_REJECTED, "reason" => reason).increment(1);
                Err(e)
            }
        }
    }

    /// Checks and forwards a proof; on refusal, the metrics reason (one of
    /// [`m::AUX_REJECT_REASONS`]) and the RPC error.
    fn try_submit(&self, hash: &str, auxpow_hex: &str) -> Result<Value, (&'static str, RpcError)> {
        let hash =
            WorkHash::from_rpc_hex(hash).map_err(|e| ("bad_hash", err(-8, e.to_string())))?;
        let Some(verify) = &self.verify else {
            return Err((
                "disabled",
                err(-1, "merged mining is disabled on this chain"),
            ));
        };
        let job = {
            let status = self.view.status.borrow();
            let mut jobs = self.jobs();
            jobs.on_head_moved(status.pow.finalized_height, status.head_height);
            match jobs.get(&hash) {
                Ok(job) => job.clone(),
                Err(e) => {
                    let reason = match e {
                        JobError::Stale(_) => "stale_work",
                        JobError::Unknown(_) => "unknown_work",
                    };
                    return Err((reason, err(-8, e.to_string())));
                }
            }
        };
        let proof = AuxPow::from_hex(auxpow_hex)
            .map_err(|e| ("malformed", err(-22, format!("AuxPoW decode failed: {e}"))))?;
        proof.verify(&hash, job.bits, verify).map_err(|e| {
            let reason = match e {
                AuxPowError::InsufficientWork => "insufficient_work",
                _ => "invalid_proof",
            };
            (reason, err(-25, format!("AuxPoW rejected: {e}")))
        })?;
        let header = AuxPowHeader::new(
            job.commitment.range_start,
            job.commitment.head_root,
            job.commitment.payout,
            job.bits.to_consensus(),
            proof.to_bytes(),
        )
        .ok_or_else(|| ("too_large", err(-22, "AuxPoW too large")))?;
        self.view
            .inputs
            .try_send(Input::AuxPow(Box::new(header)))
            .map_err(|_| ("busy", err(-1, "node busy: consensus queue full, retry")))?;
        // Accepted: a second proof for the same work adds nothing.
        let _ = self.jobs().remove(&hash);
        Ok(Value::Bool(true))
    }
}

/// Registers `createauxblock`, `submitauxblock` and `getauxblock`.
pub fn register_miner_methods(methods: &mut Methods, view: MinerView) {
    let verify = view.spec.pow.as_ref().and_then(|p| {
        Some(VerifyParams {
            chain_id: view.spec.auxpow_chain_id,
            pow_limit: target_from_compact(CompactTarget::from_consensus(p.pow_limit))?,
        })
    });
    let state = Arc::new(MinerState {
        view,
        verify,
        jobs: Mutex::new(JobManager::new(MAX_JOBS, MAX_JOB_HEAD_LAG)),
    });
    let s = state.clone();
    methods.register(
        "createauxblock",
        "createauxblock <address>: merged-mining work paying the miner's fee share to <address>",
        move |p| s.create(str_param(&p, 0, "address")?),
    );
    let s = state.clone();
    methods.register(
        "submitauxblock",
        "submitauxblock <hash> <auxpow>: submit a solved AuxPoW (hex) for work <hash>",
        move |p| s.submit(str_param(&p, 0, "hash")?, str_param(&p, 1, "auxpow")?),
    );
    let s = state;
    methods.register(
        "getauxblock",
        "getauxblock [<hash> <auxpow>]: work for the node's payout address, or submit a solution",
        move |p| match p.len() {
            0 => match s.view.default_payout {
                Some(a) => s.create(&a.to_string()),
                None => Err(err(
                    -1,
                    "no default payout address: start the node with --miner-address, or use createauxblock <address>",
                )),
            },
            2 => s.submit(str_param(&p, 0, "hash")?, str_param(&p, 1, "auxpow")?),
            n => Err(err(-1, format!("getauxblock takes 0 or 2 parameters, got {n}"))),
        },
    );
}
