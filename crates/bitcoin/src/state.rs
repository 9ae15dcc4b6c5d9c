//! The follower's pure state machine: a window of recent blocks, pending deposits and the
//! confirmation rule. No I/O; the driver ([`crate::Follower`]) feeds it blocks and rollbacks.

use std::collections::VecDeque;

use alys_primitives::{Address, Sats};
use bitcoin::{BlockHash, Txid};
use serde::{Deserialize, Serialize};

use crate::scan::{DepositOutput, ScanItem, ScannedDeposit};

/// Serde as the `Display`/`FromStr` string (hashes as Bitcoin shows them).
mod as_str {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
pub(crate) use as_str::{deserialize as de_str, serialize as ser_str};

/// A block on the followed chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockRef {
    /// Height.
    pub height: u64,
    /// Hash.
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub hash: BlockHash,
}

/// A deposit found in a followed block.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FoundDeposit {
    /// Deposit transaction.
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub txid: Txid,
    /// Outputs paying the federation.
    pub vouts: Vec<u32>,
    /// Their values, in the order of `vouts` (empty in records written before the values were
    /// kept: see [`outputs_of`]).
    #[serde(default)]
    pub values: Vec<Sats>,
    /// Sum of those outputs.
    pub sats: Sats,
    /// EVM recipient.
    pub recipient: Address,
    /// The block it was found in.
    pub block: BlockRef,
}

impl FoundDeposit {
    fn new(d: ScannedDeposit, block: BlockRef) -> Self {
        Self {
            txid: d.txid,
            vouts: d.outputs.iter().map(|o| o.vout).collect(),
            values: d.outputs.iter().map(|o| o.sats).collect(),
            sats: d.sats(),
            recipient: d.recipient,
            block,
        }
    }

    /// Each output paying the federation with its value.
    pub fn outputs(&self) -> Vec<DepositOutput> {
        outputs_of(&self.vouts, &self.values, self.sats)
    }
}

/// The outputs `(vout, value)` of a record: `values` in the order of `vouts`; a record written
/// before the values were kept has none, which is exact for a single output (its value is the
/// sum) and unknown (empty) for several.
pub fn outputs_of(vouts: &[u32], values: &[Sats], sum: Sats) -> Vec<DepositOutput> {
    if values.len() == vouts.len() {
        vouts
            .iter()
            .zip(values)
            .map(|(&vout, &sats)| DepositOutput { vout, sats })
            .collect()
    } else if let ([vout], []) = (vouts, values) {
        vec![DepositOutput {
            vout: *vout,
            sats: sum,
        }]
    } else {
        Vec::new()
    }
}

/// A transaction paying the federation that is not a valid deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundRejection {
    /// The transaction.
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub txid: Txid,
    /// Sum of its federation outputs.
    pub sats: Sats,
    /// Why it is rejected (the deposit rules' message).
    pub reason: String,
    /// The block it was found in.
    pub block: BlockRef,
}

/// What the follower reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowerEvent {
    /// A block was connected to the followed chain.
    BlockConnected(BlockRef),
    /// A block was disconnected (reorg).
    BlockDisconnected(BlockRef),
    /// A deposit was seen in a block; not yet confirmed (never mint on this).
    DepositSeen(FoundDeposit),
    /// A deposit reached the required confirmations: mint it (once per outpoint).
    Deposit(FoundDeposit),
    /// A deposit seen but not yet confirmed was reorged out; it was never reported.
    Dropped(FoundDeposit),
    /// A deposit already reported was reorged out (reorg deeper than the confirmations).
    Reverted(FoundDeposit),
    /// A transaction pays the federation but is not a valid deposit.
    Rejected(FoundRejection),
    /// A rejected transaction's block was reorged out.
    RejectionDropped(FoundRejection),
}

/// Follower state errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The block does not extend the tip.
    #[error("block {hash} at height {height} does not extend the tip {tip:?}")]
    NotExtendingTip {
        /// Offered block.
        hash: BlockHash,
        /// Its height.
        height: u64,
        /// Current tip.
        tip: Option<BlockRef>,
    },
    /// A reorg reaches below the window of remembered blocks.
    #[error("reorg deeper than the follower's window of {window} blocks (at height {height})")]
    ReorgTooDeep {
        /// Window size.
        window: usize,
        /// Height of the oldest remembered block.
        height: u64,
    },
}

/// The follower's state (persisted as a whole after every block).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerState {
    start_height: u64,
    required: u32,
    window_len: usize,
    window: VecDeque<BlockRef>,
    pending: Vec<FoundDeposit>,
    reported: Vec<FoundDeposit>,
    rejected: Vec<FoundRejection>,
}

impl FollowerState {
    /// A fresh follower starting at `start_height`, reporting at `required` confirmations,
    /// remembering `window` blocks (raised to at least `required + 6`).
    pub fn new(start_height: u64, required: u32, window: usize) -> Self {
        let required = required.max(1);
        Self {
            start_height,
            required,
            window_len: window.max(required as usize + 6),
            window: VecDeque::new(),
            pending: Vec::new(),
            reported: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// The followed tip.
    pub fn tip(&self) -> Option<BlockRef> {
        self.window.back().copied()
    }

    /// The remembered blocks, oldest first.
    pub fn window(&self) -> impl Iterator<Item = &BlockRef> {
        self.window.iter()
    }

    /// Height of the next block to connect.
    pub fn next_height(&self) -> u64 {
        self.tip().map_or(self.start_height, |t| t.height + 1)
    }

    /// Confirmations required.
    pub fn required(&self) -> u32 {
        self.required
    }

    /// First height followed.
    pub fn start_height(&self) -> u64 {
        self.start_height
    }

    /// Deposits seen, not yet confirmed.
    pub fn pending(&self) -> &[FoundDeposit] {
        &self.pending
    }

    /// Reported deposits whose block is still in the window.
    pub fn reported(&self) -> &[FoundDeposit] {
        &self.reported
    }

    /// Confirmations of a block at `height` given the tip (0 if above the tip).
    pub fn confirmations(&self, height: u64) -> u64 {
        self.tip()
            .map_or(0, |t| (t.height + 1).saturating_sub(height))
    }

    /// Connects block `hash` at `height` with parent `prev`, found items `items` (from
    /// [`crate::scan_block`]). With an empty window the block must be at
    /// [`Self::next_height`] (the anchor); otherwise it must extend the tip.
    pub fn connect(
        &mut self,
        height: u64,
        hash: BlockHash,
        prev: BlockHash,
        items: Vec<ScanItem>,
    ) -> Result<Vec<FollowerEvent>, StateError> {
        let extends = match self.tip() {
            Some(t) => t.hash == prev && t.height + 1 == height,
            None => height == self.start_height,
        };
        if !extends {
            return Err(StateError::NotExtendingTip {
                hash,
                height,
                tip: self.tip(),
            });
        }
        let block = BlockRef { height, hash };
        self.window.push_back(block);
        let mut events = vec![FollowerEvent::BlockConnected(block)];
        for item in items {
            match item {
                ScanItem::Deposit(d) => {
                    let f = FoundDeposit::new(d, block);
                    events.push(FollowerEvent::DepositSeen(f.clone()));
                    self.pending.push(f);
                }
                ScanItem::Rejected {
                    txid, sats, reason, ..
                } => {
                    let r = FoundRejection {
                        txid,
                        sats,
                        reason,
                        block,
                    };
                    events.push(FollowerEvent::Rejected(r.clone()));
                    self.rejected.push(r);
                }
            }
        }
        // Confirmation rule: a deposit at height h has tip - h + 1 confirmations.
        let required = u64::from(self.required);
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| height + 1 - p.block.height >= required);
        self.pending = waiting;
        for d in ready {
            events.push(FollowerEvent::Deposit(d.clone()));
            self.reported.push(d);
        }
        // Forget what fell out of the window (final as far as this follower is concerned).
        while self.window.len() > self.window_len {
            self.window.pop_front();
        }
        if let Some(oldest) = self.window.front().map(|b| b.height) {
            self.reported.retain(|d| d.block.height >= oldest);
            self.rejected.retain(|r| r.block.height >= oldest);
        }
        Ok(events)
    }

    /// Disconnects the tip (it left the active chain): pending deposits in it are dropped,
    /// reported ones reverted.
    pub fn disconnect_tip(&mut self) -> Result<Vec<FollowerEvent>, StateError> {
        let Some(tip) = self.tip() else {
            return Ok(Vec::new());
        };
        if self.window.len() == 1 && tip.height > self.start_height {
            return Err(StateError::ReorgTooDeep {
                window: self.window_len,
                height: tip.height,
            });
        }
        self.window.pop_back();
        let mut events = vec![FollowerEvent::BlockDisconnected(tip)];
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|d| d.block == tip);
        self.pending = keep;
        events.extend(gone.into_iter().map(FollowerEvent::Dropped));
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reported)
            .into_iter()
            .partition(|d| d.block == tip);
        self.reported = keep;
        events.extend(gone.into_iter().map(FollowerEvent::Reverted));
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.rejected)
            .into_iter()
            .partition(|r| r.block == tip);
        self.rejected = keep;
        events.extend(gone.into_iter().map(FollowerEvent::RejectionDropped));
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn h(i: u8) -> BlockHash {
        BlockHash::from_byte_array([i; 32])
    }

    fn dep(i: u8) -> ScanItem {
        ScanItem::Deposit(ScannedDeposit {
            txid: Txid::from_byte_array([i; 32]),
            outputs: vec![DepositOutput {
                vout: 0,
                sats: Sats(5_000),
            }],
            recipient: Address::repeat_byte(i),
        })
    }

    fn count<F: Fn(&FollowerEvent) -> bool>(evs: &[FollowerEvent], f: F) -> usize {
        evs.iter().filter(|e| f(e)).count()
    }

    #[test]
    fn anchor_link_and_confirmation_rule() {
        let mut s = FollowerState::new(10, 2, 0);
        assert_eq!(s.next_height(), 10);
        assert!(
            s.connect(11, h(11), h(10), vec![]).is_err(),
            "anchor is the start height"
        );
        s.connect(10, h(10), h(9), vec![dep(1)]).unwrap();
        assert!(matches!(
            s.connect(11, h(11), h(99), vec![]),
            Err(StateError::NotExtendingTip { .. })
        ));
        assert!(
            s.connect(12, h(12), h(10), vec![]).is_err(),
            "height must follow"
        );
        let evs = s.connect(11, h(11), h(10), vec![]).unwrap();
        assert_eq!(count(&evs, |e| matches!(e, FollowerEvent::Deposit(_))), 1);
        assert_eq!(s.confirmations(10), 2);
        assert!(s.pending().is_empty());
        assert_eq!(s.reported().len(), 1);
    }

    #[test]
    fn disconnect_drops_pending_and_reverts_reported() {
        let mut s = FollowerState::new(0, 2, 0);
        s.connect(0, h(0), h(255), vec![dep(1)]).unwrap();
        s.connect(1, h(1), h(0), vec![dep(2)]).unwrap(); // dep 1 reported
        let evs = s.disconnect_tip().unwrap();
        assert_eq!(
            count(
                &evs,
                |e| matches!(e, FollowerEvent::Dropped(d) if d.sats == Sats(5_000))
            ),
            1
        );
        let evs = s.disconnect_tip().unwrap();
        assert_eq!(count(&evs, |e| matches!(e, FollowerEvent::Reverted(_))), 1);
        assert!(s.tip().is_none());
        assert!(s.disconnect_tip().unwrap().is_empty());
    }

    #[test]
    fn window_is_bounded_and_deep_reorg_detected() {
        let mut s = FollowerState::new(0, 1, 0); // window 7
        let mut prev = h(255);
        for i in 0..20u8 {
            s.connect(u64::from(i), h(i), prev, vec![]).unwrap();
            prev = h(i);
        }
        assert_eq!(s.window().count(), 7);
        for _ in 0..6 {
            s.disconnect_tip().unwrap();
        }
        assert!(matches!(
            s.disconnect_tip(),
            Err(StateError::ReorgTooDeep { .. })
        ));
    }

    #[test]
    fn state_roundtrips_through_json() {
        let mut s = FollowerState::new(3, 6, 100);
        s.connect(3, h(3), h(2), vec![dep(4)]).unwrap();
        let back: FollowerState = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
