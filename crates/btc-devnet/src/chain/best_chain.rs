//! The block index's chain selection: accepting blocks, activating the most-work valid chain
//! (reorgs), and `invalidateblock`/`reconsiderblock`.

use bitcoin::{Block, BlockHash, CompactTarget, Target, Transaction};

use super::{BlockEntry, BlockStatus, Chain, Reject, REGTEST_BITS};

impl Chain {
    /// Adds a block to the index and activates the most-work chain. `verify_scripts` is false
    /// only when replaying the devnet's own log.
    pub fn submit_block(&mut self, block: Block, verify_scripts: bool) -> Result<(), Reject> {
        let hash = block.block_hash();
        if self.blocks.contains_key(&hash) {
            return Err(Reject::invalid("duplicate"));
        }
        let prev = block.header.prev_blockhash;
        let Some(parent) = self.blocks.get(&prev) else {
            return Err(Reject::invalid("prev-blk-not-found"));
        };
        if block.header.bits != CompactTarget::from_consensus(REGTEST_BITS) {
            return Err(Reject::invalid("bad-diffbits"));
        }
        if block
            .header
            .validate_pow(Target::from_compact(block.header.bits))
            .is_err()
        {
            return Err(Reject::invalid("high-hash"));
        }
        if block.header.time <= self.median_time_past_of(&prev) {
            return Err(Reject::invalid("time-too-old"));
        }
        let status = if parent.status == BlockStatus::Valid {
            BlockStatus::Valid
        } else {
            BlockStatus::FailedChild
        };
        let entry = BlockEntry {
            height: parent.height + 1,
            chainwork: parent.chainwork + block.header.work(),
            block,
            status,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.blocks.insert(hash, entry);
        self.children.entry(prev).or_default().push(hash);
        self.activate_best_chain(verify_scripts);
        match self.blocks.get(&hash).map(|e| e.status) {
            Some(BlockStatus::Failed) => Err(Reject::invalid("block failed validation")),
            _ => Ok(()),
        }
    }

    fn best_candidate(&self) -> BlockHash {
        let mut best = self.tip();
        let mut best_key = self.blocks.get(&best).map(|e| (e.chainwork, e.seq));
        for (h, e) in &self.blocks {
            if e.status != BlockStatus::Valid {
                continue;
            }
            let better = match best_key {
                None => true,
                Some((w, s)) => e.chainwork > w || (e.chainwork == w && e.seq < s),
            };
            if better {
                best = *h;
                best_key = Some((e.chainwork, e.seq));
            }
        }
        best
    }

    /// Moves to the most-work valid chain, returning disconnected transactions to the mempool.
    fn activate_best_chain(&mut self, verify_scripts: bool) {
        let mut disconnected: Vec<Vec<Transaction>> = Vec::new();
        let mut connected_any = false;
        loop {
            let best = self.best_candidate();
            if best == self.tip() {
                break;
            }
            // Path from best back to the active chain.
            let mut path = Vec::new();
            let mut cur = best;
            while !self.is_active(&cur) {
                path.push(cur);
                match self.blocks.get(&cur) {
                    Some(e) => cur = e.block.header.prev_blockhash,
                    None => break,
                }
            }
            let fork_height = self.blocks.get(&cur).map_or(0, |e| e.height);
            while self.height() > fork_height {
                disconnected.push(self.disconnect_tip());
            }
            for h in path.into_iter().rev() {
                match self.connect_block(h, verify_scripts) {
                    Ok(()) => connected_any = true,
                    Err(e) => {
                        tracing::warn!("block {h} failed to connect: {e}");
                        self.mark_failed(h);
                        break;
                    }
                }
            }
        }
        if disconnected.is_empty() && !connected_any {
            return;
        }
        // Disconnected transactions first (oldest block first), then the old mempool.
        let mut txs: Vec<Transaction> = disconnected.into_iter().rev().flatten().collect();
        txs.extend(self.take_mempool());
        self.refill_mempool(txs);
    }

    fn mark_failed(&mut self, hash: BlockHash) {
        if let Some(e) = self.blocks.get_mut(&hash) {
            e.status = BlockStatus::Failed;
        }
        let mut stack: Vec<BlockHash> = self.children.get(&hash).cloned().unwrap_or_default();
        while let Some(h) = stack.pop() {
            if let Some(e) = self.blocks.get_mut(&h) {
                e.status = BlockStatus::FailedChild;
            }
            stack.extend(self.children.get(&h).cloned().unwrap_or_default());
        }
    }

    /// `invalidateblock`: marks `hash` and its descendants invalid and reorgs away from them.
    pub fn invalidate_block(&mut self, hash: &BlockHash) -> Result<(), Reject> {
        let Some(entry) = self.blocks.get(hash) else {
            return Err(Reject::invalid("Block not found"));
        };
        if entry.height == 0 {
            return Err(Reject::invalid("cannot invalidate genesis"));
        }
        let height = entry.height;
        self.mark_failed(*hash);
        let mut disconnected = Vec::new();
        if self.is_active(hash) {
            while self.height() >= height {
                disconnected.push(self.disconnect_tip());
            }
        }
        // Return disconnected transactions before choosing a new chain.
        let mut txs: Vec<Transaction> = disconnected.into_iter().rev().flatten().collect();
        txs.extend(self.take_mempool());
        self.refill_mempool(txs);
        self.activate_best_chain(true);
        Ok(())
    }

    /// `reconsiderblock`: clears the invalid marks of `hash`, its ancestors and descendants,
    /// then activates the most-work chain.
    pub fn reconsider_block(&mut self, hash: &BlockHash) -> Result<(), Reject> {
        if !self.blocks.contains_key(hash) {
            return Err(Reject::invalid("Block not found"));
        }
        let mut stack = vec![*hash];
        while let Some(h) = stack.pop() {
            if let Some(e) = self.blocks.get_mut(&h) {
                e.status = BlockStatus::Valid;
            }
            stack.extend(self.children.get(&h).cloned().unwrap_or_default());
        }
        let mut cur = *hash;
        while let Some(e) = self.blocks.get_mut(&cur) {
            e.status = BlockStatus::Valid;
            if e.height == 0 {
                break;
            }
            cur = e.block.header.prev_blockhash;
        }
        // Descendants of blocks that are still failed elsewhere stay failed-child: recompute.
        self.recompute_child_status();
        self.activate_best_chain(true);
        Ok(())
    }

    fn recompute_child_status(&mut self) {
        let mut order: Vec<(u32, BlockHash)> =
            self.blocks.iter().map(|(h, e)| (e.height, *h)).collect();
        order.sort_unstable();
        for (_, h) in order {
            let (prev, status) = match self.blocks.get(&h) {
                Some(e) if e.height > 0 => (e.block.header.prev_blockhash, e.status),
                _ => continue,
            };
            let parent_bad = self
                .blocks
                .get(&prev)
                .is_some_and(|p| p.status != BlockStatus::Valid);
            if let Some(e) = self.blocks.get_mut(&h) {
                if status == BlockStatus::Valid && parent_bad {
                    e.status = BlockStatus::FailedChild;
                } else if status == BlockStatus::FailedChild && !parent_bad {
                    e.status = BlockStatus::Valid;
                }
            }
        }
    }
}
