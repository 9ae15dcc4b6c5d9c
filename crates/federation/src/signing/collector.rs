//! [`PayoutSigner`]: sign, collect, assemble, broadcast, track (see the module docs).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alys_consensus::{PegOutSignatureSink, SignatureRejection, SignatureVerdict};
use alys_metrics::{catalog as m, counter};
use alys_primitives::PegOutSignatures;
use bitcoin::{BlockHash, Transaction, Txid};

use super::{
    assemble, b256_to_txid, check_payout, sign_payout, txid_to_b256, verify_payout_signatures,
    MemberKey, PayoutRpc, PayoutSource, PayoutStatus, ProposedPayout, Publish, SignError,
    SignerConfig, SignerError, MAX_EARLY_SIGNATURES, MAX_STATUSES, MAX_TRACKED_PAYOUTS,
};
use crate::Federation;

/// Blocks below the Bitcoin tip at the first broadcast searched for the payout (another
/// member's collector may have broadcast it earlier).
const LOOKBACK_BLOCKS: u64 = 12;
/// Blocks fetched for one payout in one round at most.
const MAX_BLOCKS_PER_ROUND: u64 = 32;
/// Scanned blocks remembered per payout, to notice a reorg below the tip.
const SCANNED_KEPT: usize = 12;
/// Least time between two source refreshes caused by a message for an unknown payout.
const REFRESH_ON_MISS: Duration = Duration::from_millis(250);

/// What the signer did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignerStats {
    /// Payouts this member signed.
    pub signed: u64,
    /// Payouts this member refused (policy, txid mismatch, signing failure).
    pub refused: u64,
    /// Signature messages kept (new signatures).
    pub collected: u64,
    /// Signature messages rejected as invalid.
    pub rejected: u64,
    /// Broadcasts sent (first sends and rebroadcasts).
    pub broadcasts: u64,
    /// Rebroadcasts of a payout missing from the node's mempool.
    pub rebroadcasts: u64,
}

/// A payout's status with the signatures held and the first accepted broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutProgress {
    /// Where it stands.
    pub status: PayoutStatus,
    /// Members whose valid signatures this node holds, ascending.
    pub members: Vec<u64>,
    /// Unix seconds of the first broadcast the Bitcoin node accepted.
    pub broadcast_at: Option<u64>,
}

/// A broadcast payout being watched.
struct Watch {
    tx: Transaction,
    /// Unix seconds of the first broadcast the node accepted.
    accepted_at: Option<u64>,
    last_sent: Option<Instant>,
    /// First height searched.
    scan_from: Option<u64>,
    /// Next height to search.
    next_scan: u64,
    /// Recently scanned blocks (height, hash), oldest first.
    scanned: VecDeque<(u64, BlockHash)>,
    /// The block holding it.
    found: Option<(u64, BlockHash)>,
    /// Confirmed `required_confirmations` deep: no longer polled.
    done: bool,
}

struct Entry {
    payout: Arc<ProposedPayout>,
    sigs: Vec<Option<Vec<[u8; 64]>>>,
    /// This member refused it (logged once).
    refused: bool,
    /// When this member last published its signatures.
    published: Option<Instant>,
    watch: Option<Watch>,
    status: PayoutStatus,
}

impl Entry {
    fn members(&self) -> Vec<u64> {
        self.sigs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as u64)
            .collect()
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<Txid, Entry>,
    /// Statuses of payouts no longer tracked, oldest first.
    finished: VecDeque<(Txid, PayoutStatus)>,
    last_refresh: Option<Instant>,
    stats: SignerStats,
    /// Signatures of payouts not known yet (this node has not imported the proposing block),
    /// checked once the payout appears; at most [`MAX_EARLY_SIGNATURES`], oldest dropped.
    early: VecDeque<PegOutSignatures>,
}

impl State {
    /// Keeps the last status of a payout no longer tracked (at most [`MAX_STATUSES`]).
    fn finish(&mut self, txid: Txid, status: PayoutStatus) {
        self.finished.push_back((txid, status));
        while self.finished.len() > MAX_STATUSES {
            self.finished.pop_front();
        }
    }
}

/// Signs this member's payouts, collects everyone's signatures, broadcasts and tracks.
pub struct PayoutSigner {
    federation: Arc<Federation>,
    member: Option<MemberKey>,
    source: Arc<dyn PayoutSource>,
    rpc: Arc<dyn PayoutRpc>,
    publish: Publish,
    config: SignerConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for PayoutSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayoutSigner")
            .field("member", &self.member.as_ref().map(|m| m.index))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl PayoutSigner {
    /// A signer for `federation`. `member` is this node's key (`None`: it only collects,
    /// broadcasts and tracks); `publish` sends this member's signatures to the network.
    pub fn new(
        federation: Arc<Federation>,
        member: Option<MemberKey>,
        source: Arc<dyn PayoutSource>,
        rpc: Arc<dyn PayoutRpc>,
        publish: Publish,
        config: SignerConfig,
    ) -> Self {
        let member = member.filter(|m| {
            let ok = federation.keys().get(m.index) == Some(&m.signer.public_key());
            if !ok {
                tracing::error!(
                    index = m.index,
                    key = %m.signer.public_key(),
                    "peg-out key is not the federation key at its index; not signing payouts"
                );
            }
            ok
        });
        Self {
            federation,
            member,
            source,
            rpc,
            publish,
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status of payout `txid`, `None` if this node never saw it (or forgot it).
    pub fn status(&self, txid: &Txid) -> Option<PayoutStatus> {
        let state = self.state();
        state
            .entries
            .get(txid)
            .map(|e| e.status.clone())
            .or_else(|| {
                state
                    .finished
                    .iter()
                    .rev()
                    .find(|(t, _)| t == txid)
                    .map(|(_, s)| s.clone())
            })
    }

    /// The status of payout `txid` with what led to it: the members whose signatures this
    /// node holds and when the Bitcoin node first accepted the broadcast (both unknown once the
    /// payout is no longer tracked).
    pub fn progress(&self, txid: &Txid) -> Option<PayoutProgress> {
        let state = self.state();
        match state.entries.get(txid) {
            Some(e) => Some(PayoutProgress {
                status: e.status.clone(),
                members: e.members(),
                broadcast_at: e.watch.as_ref().and_then(|w| w.accepted_at),
            }),
            None => state
                .finished
                .iter()
                .rev()
                .find(|(t, _)| t == txid)
                .map(|(_, s)| PayoutProgress {
                    status: s.clone(),
                    members: Vec::new(),
                    broadcast_at: None,
                }),
        }
    }

    /// What the signer did so far.
    pub fn stats(&self) -> SignerStats {
        self.state().stats
    }

    /// Signature messages held for payouts not known yet.
    pub fn early_signatures(&self) -> usize {
        self.state().early.len()
    }

    /// Payouts tracked now.
    pub fn tracked(&self) -> usize {
        self.state().entries.len()
    }

    /// Runs [`Self::tick`] every `interval` until the task is dropped.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        loop {
            self.tick().await;
            tokio::time::sleep(interval).await;
        }
    }

    /// One round: take the source's payouts, sign new ones, publish, assemble what reached
    /// the threshold, broadcast and track.
    pub async fn tick(&self) {
        let early = {
            let mut state = self.state();
            self.refresh(&mut state);
            let held: Vec<PegOutSignatures> = state.early.drain(..).collect();
            let (ready, waiting): (Vec<_>, Vec<_>) = held
                .into_iter()
                .partition(|m| state.entries.contains_key(&b256_to_txid(&m.txid)));
            state.early = waiting.into();
            ready
        };
        let members = self.federation.keys().len();
        for msg in &early {
            if let Err(e) = self.check(msg, members) {
                self.state().stats.rejected += 1;
                counter!(m::PEGOUT_SIGNATURES_REJECTED).increment(1);
                tracing::warn!(error = %e, "peg-out signatures received before their payout rejected");
            }
        }
        let to_publish = {
            let mut state = self.state();
            let msgs = self.sign_new(&mut state);
            self.assemble_ready(&mut state);
            msgs
        };
        for msg in to_publish {
            (self.publish)(msg);
        }
        let watched: Vec<Txid> = self
            .state()
            .entries
            .iter()
            .filter(|(_, e)| e.watch.as_ref().is_some_and(|w| !w.done))
            .map(|(t, _)| *t)
            .collect();
        for txid in watched {
            if let Err(e) = self.track(txid).await {
                tracing::warn!(error = %e, "peg-out payout tracking");
            }
        }
    }

    /// Takes the source's payouts: new ones tracked, ones gone dropped (unless broadcast and
    /// still being watched).
    fn refresh(&self, state: &mut State) {
        state.last_refresh = Some(Instant::now());
        let mut payouts = self.source.payouts();
        payouts.truncate(MAX_TRACKED_PAYOUTS);
        let current: std::collections::HashSet<Txid> = payouts.iter().map(|p| p.txid).collect();
        let gone: Vec<Txid> = state
            .entries
            .iter()
            .filter(|(t, e)| !current.contains(*t) && e.watch.as_ref().is_none_or(|w| w.done))
            .map(|(t, _)| *t)
            .collect();
        for txid in gone {
            if let Some(e) = state.entries.remove(&txid) {
                state.finish(txid, e.status);
            }
        }
        for txid in self.source.voided() {
            if state.entries.remove(&txid).is_some() {
                tracing::warn!(%txid, "peg-out payout void (an input was spent outside the peg): no longer broadcast");
                state.finish(txid, PayoutStatus::Voided);
            }
        }
        let n = self.federation.keys().len();
        for p in payouts {
            if state.entries.len() >= MAX_TRACKED_PAYOUTS {
                break;
            }
            state.entries.entry(p.txid).or_insert_with(|| Entry {
                payout: Arc::new(p),
                sigs: vec![None; n],
                refused: false,
                published: None,
                watch: None,
                status: PayoutStatus::Proposed,
            });
        }
    }

    /// This member's signatures of payouts it has not signed (policy first), and the ones to
    /// publish again.
    fn sign_new(&self, state: &mut State) -> Vec<PegOutSignatures> {
        let Some(member) = &self.member else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut signed = 0;
        let mut refused = 0;
        for (txid, e) in state.entries.iter_mut() {
            // Signatures are published again until the payout is confirmed deep enough, so a
            // node that missed them still assembles or at least learns of the payout.
            if e.refused || e.watch.as_ref().is_some_and(|w| w.done) {
                continue;
            }
            if e.sigs[member.index].is_none() && e.watch.is_none() {
                match self.sign_one(member, &e.payout) {
                    Ok(sigs) => {
                        tracing::info!(%txid, member = member.index, inputs = sigs.len(), "peg-out payout signed");
                        e.sigs[member.index] = Some(sigs);
                        e.status = PayoutStatus::Signed {
                            members: e.members(),
                        };
                        signed += 1;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "peg-out payout not signed");
                        e.refused = true;
                        refused += 1;
                        continue;
                    }
                }
            }
            let due = e
                .published
                .is_none_or(|t| t.elapsed() >= self.config.rebroadcast_interval);
            if let (true, Some(sigs)) = (due, &e.sigs[member.index]) {
                match PegOutSignatures::new(txid_to_b256(txid), member.index as u64, sigs) {
                    Ok(m) => {
                        e.published = Some(Instant::now());
                        out.push(m);
                    }
                    Err(reason) => tracing::warn!(
                        error = %SignerError::Message { txid: *txid, reason },
                        "peg-out signatures not published"
                    ),
                }
            }
        }
        state.stats.signed += signed;
        state.stats.refused += refused;
        counter!(m::PEGOUT_PAYOUTS_SIGNED).increment(signed);
        counter!(m::PEGOUT_PAYOUTS_REFUSED).increment(refused);
        out
    }

    fn sign_one(
        &self,
        member: &MemberKey,
        p: &ProposedPayout,
    ) -> Result<Vec<[u8; 64]>, SignerError> {
        let actual = p.tx.compute_txid();
        if actual != p.txid {
            return Err(SignerError::TxidMismatch {
                claimed: p.txid,
                actual,
            });
        }
        check_payout(
            &self.federation,
            &p.tx,
            &p.prevouts,
            &p.requests,
            self.config.fee_cap,
        )
        .map_err(|reason| SignerError::Policy {
            txid: p.txid,
            reason,
        })?;
        sign_payout(&member.signer, &self.federation, &p.tx, &p.prevouts).map_err(|reason| {
            SignerError::Sign {
                txid: p.txid,
                reason,
            }
        })
    }

    /// Assembles every payout with threshold signatures, for broadcast.
    fn assemble_ready(&self, state: &mut State) {
        let need = self.federation.threshold() as usize;
        for (txid, e) in state.entries.iter_mut() {
            if e.watch.is_some() || e.sigs.iter().filter(|s| s.is_some()).count() < need {
                continue;
            }
            match assemble(&self.federation, &e.payout.tx, &e.sigs) {
                Ok(tx) => {
                    tracing::info!(%txid, members = ?e.members(), "peg-out payout assembled");
                    e.watch = Some(Watch {
                        tx,
                        accepted_at: None,
                        last_sent: None,
                        scan_from: None,
                        next_scan: 0,
                        scanned: VecDeque::new(),
                        found: None,
                        done: false,
                    });
                }
                Err(reason) => tracing::warn!(
                    error = %SignerError::Sign { txid: *txid, reason },
                    "peg-out payout not assembled"
                ),
            }
        }
    }

    /// One tracking round of a broadcast payout: confirmations, or a (re)broadcast when due.
    async fn track(&self, txid: Txid) -> Result<(), SignerError> {
        let rpc_err = |reason| SignerError::Rpc { txid, reason };
        let (tx, mut scan_from, mut next_scan, mut scanned, mut found, last_sent) = {
            let state = self.state();
            let Some(w) = state.entries.get(&txid).and_then(|e| e.watch.as_ref()) else {
                return Ok(());
            };
            (
                w.tx.clone(),
                w.scan_from,
                w.next_scan,
                w.scanned.clone(),
                w.found,
                w.last_sent,
            )
        };
        // First round: send at once, before looking for it.
        if last_sent.is_none() {
            self.send(txid, &tx, false).await;
        }
        let tip = self.rpc.get_block_count().await.map_err(rpc_err)?;
        let from = *scan_from.get_or_insert(tip.saturating_sub(LOOKBACK_BLOCKS));
        next_scan = next_scan.max(from);
        // A reorg: the block holding it, or a scanned one, is no longer in the best chain.
        if let Some((h, hash)) = found {
            if h > tip || self.rpc.get_block_hash(h).await.map_err(rpc_err)? != hash {
                tracing::info!(%txid, height = h, "peg-out payout's block left the best chain");
                found = None;
                next_scan = next_scan.min(h);
            }
        }
        while let Some(&(h, hash)) = scanned.back() {
            if h <= tip && self.rpc.get_block_hash(h).await.map_err(rpc_err)? == hash {
                break;
            }
            scanned.pop_back();
            next_scan = next_scan.min(h);
        }
        let mut fetched = 0;
        while found.is_none() && next_scan <= tip && fetched < MAX_BLOCKS_PER_ROUND {
            let hash = self.rpc.get_block_hash(next_scan).await.map_err(rpc_err)?;
            let block = self.rpc.get_block(&hash).await.map_err(rpc_err)?;
            if block.txdata.iter().any(|t| t.compute_txid() == txid) {
                found = Some((next_scan, hash));
            }
            scanned.push_back((next_scan, hash));
            while scanned.len() > SCANNED_KEPT {
                scanned.pop_front();
            }
            next_scan += 1;
            fetched += 1;
        }
        let status = match found {
            Some((h, block)) => {
                let confirmations = tip.saturating_sub(h) + 1;
                Some(PayoutStatus::Confirmed {
                    confirmations,
                    block,
                })
            }
            None => None,
        };
        let done = matches!(status, Some(PayoutStatus::Confirmed { confirmations, .. }) if confirmations >= self.config.required_confirmations);
        {
            let mut state = self.state();
            if let Some(e) = state.entries.get_mut(&txid) {
                if let Some(w) = e.watch.as_mut() {
                    w.scan_from = Some(from);
                    w.next_scan = next_scan;
                    w.scanned = scanned;
                    w.found = found;
                    w.done = done;
                    match &status {
                        Some(s) => e.status = s.clone(),
                        None => {
                            if let Some(at) = w.accepted_at {
                                e.status = PayoutStatus::Broadcast { at };
                            }
                        }
                    }
                }
            }
        }
        if done {
            counter!(m::PEGOUT_PAYOUTS_CONFIRMED).increment(1);
            tracing::info!(%txid, confirmations = self.config.required_confirmations, "peg-out payout confirmed");
        }
        if found.is_some() || last_sent.is_none() {
            return Ok(());
        }
        // Unconfirmed: rebroadcast when the node has lost it and the interval has passed.
        let due = last_sent.is_some_and(|t| t.elapsed() >= self.config.rebroadcast_interval);
        if due
            && self
                .rpc
                .get_raw_transaction(&txid)
                .await
                .map_err(rpc_err)?
                .is_none()
        {
            self.send(txid, &tx, true).await;
        }
        Ok(())
    }

    /// Sends `tx`; a refusal is logged (the next round looks for it in blocks and mempool).
    async fn send(&self, txid: Txid, tx: &Transaction, again: bool) {
        let mut result = self.rpc.send_raw_transaction(tx).await.map(|_| ());
        if result.is_err() {
            // Refused because the node already has it (another collector was first): as good
            // as accepted.
            if let Ok(Some(_)) = self.rpc.get_raw_transaction(&txid).await {
                tracing::debug!(%txid, "peg-out payout already known to the Bitcoin node");
                result = Ok(());
            }
        }
        let mut state = self.state();
        state.stats.broadcasts += 1;
        if again {
            state.stats.rebroadcasts += 1;
        }
        let kind = if again { "again" } else { "first" };
        counter!(m::PEGOUT_BROADCASTS, "kind" => kind).increment(1);
        let Some(e) = state.entries.get_mut(&txid) else {
            return;
        };
        let Some(w) = e.watch.as_mut() else {
            return;
        };
        w.last_sent = Some(Instant::now());
        match result {
            Ok(_) => {
                let at = *w.accepted_at.get_or_insert_with(unix_now);
                if w.found.is_none() {
                    e.status = PayoutStatus::Broadcast { at };
                }
                if again {
                    tracing::info!(%txid, "peg-out payout missing from the Bitcoin node; rebroadcast");
                } else {
                    tracing::info!(%txid, "peg-out payout broadcast");
                }
            }
            Err(reason) => tracing::warn!(
                error = %SignerError::Rpc { txid, reason },
                "peg-out payout broadcast refused"
            ),
        }
    }

    /// The payout `txid`, looking at the source again (rate limited) when it is unknown.
    fn lookup(&self, txid: &Txid) -> Option<Arc<ProposedPayout>> {
        let mut state = self.state();
        if let Some(e) = state.entries.get(txid) {
            return Some(e.payout.clone());
        }
        if state
            .last_refresh
            .is_some_and(|t| t.elapsed() < REFRESH_ON_MISS)
        {
            return None;
        }
        self.refresh(&mut state);
        state.entries.get(txid).map(|e| e.payout.clone())
    }
}

impl PegOutSignatureSink for PayoutSigner {
    fn receive(&self, msg: &PegOutSignatures) -> Result<SignatureVerdict, SignatureRejection> {
        let members = self.federation.keys().len();
        let verdict = self.check(msg, members);
        if verdict.is_err() {
            self.state().stats.rejected += 1;
            counter!(m::PEGOUT_SIGNATURES_REJECTED).increment(1);
        }
        verdict
    }
}

impl PayoutSigner {
    fn check(
        &self,
        msg: &PegOutSignatures,
        members: usize,
    ) -> Result<SignatureVerdict, SignatureRejection> {
        let member = msg.member;
        let index = usize::try_from(member)
            .ok()
            .filter(|m| *m < members)
            .ok_or(SignatureRejection::UnknownMember { member, members })?;
        let txid = b256_to_txid(&msg.txid);
        let Some(payout) = self.lookup(&txid) else {
            let mut state = self.state();
            if state.early.len() >= MAX_EARLY_SIGNATURES {
                state.early.pop_front();
            }
            state.early.push_back(msg.clone());
            return Ok(SignatureVerdict::UnknownPayout);
        };
        let sigs = msg.signatures();
        {
            let state = self.state();
            if state
                .entries
                .get(&txid)
                .and_then(|e| e.sigs[index].as_ref())
                == Some(&sigs)
            {
                return Ok(SignatureVerdict::Accepted);
            }
        }
        let inputs = payout.tx.input.len();
        if sigs.len() != inputs {
            return Err(SignatureRejection::SignatureCount {
                member,
                got: sigs.len(),
                inputs,
            });
        }
        let key = self.federation.keys()[index];
        // Every input's sighash with one cache; the first failing input is reported.
        if let Err(e) =
            verify_payout_signatures(key, &self.federation, &payout.tx, &payout.prevouts, &sigs)
        {
            let input = match e {
                SignError::BadSignature { index } => index,
                _ => 0,
            };
            return Err(SignatureRejection::BadSignature { member, input });
        }
        let mut state = self.state();
        let Some(e) = state.entries.get_mut(&txid) else {
            // Dropped from the source meanwhile.
            return Ok(SignatureVerdict::UnknownPayout);
        };
        if e.sigs[index].is_none() {
            e.sigs[index] = Some(sigs);
            if e.watch.is_none() {
                e.status = PayoutStatus::Signed {
                    members: e.members(),
                };
            }
            state.stats.collected += 1;
            tracing::debug!(%txid, member, "peg-out signatures collected");
        }
        Ok(SignatureVerdict::Accepted)
    }
}
