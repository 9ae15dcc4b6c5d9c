//! Gossip topics and their payload encoding.
//!
//! One gossipsub topic per message kind, named
//! `/alys/<first 4 bytes of the chain-spec hash, hex>/<kind>/ssz_snappy`, so nodes of different
//! chains never share a mesh. Payloads are the message's SSZ encoding (transactions: their
//! EIP-2718 encoding) compressed with raw snappy. Every topic has a cap on the decoded size,
//! checked from the snappy header *before* decompressing, so a small compressed message can
//! never expand into a large allocation.

use alloy_primitives::B256;
use alys_consensus::GossipMessage;
use alys_primitives::auxpow_header::MaxAuxPowProofBytes;
use alys_primitives::block::{APPROVAL_BYTES, MAX_SIGNED_BLOCK_BYTES};
use alys_primitives::{
    Approval, AuxPowHeader, BlockProposal, PegOutSignatures, SignedConsensusBlock,
    MAX_PEGOUT_SIGNATURES_BYTES,
};
use libp2p::gossipsub::{IdentTopic, TopicHash};
use ssz_types::typenum::Unsigned;

/// Largest transaction relayed (the embedded pool's limit, as Geth's).
pub const MAX_TRANSACTION_BYTES: usize = 128 * 1024;
/// Largest peg-out signature message: one member's signatures of a payout with the most inputs.
pub const MAX_PEGOUT_SIGNATURE_BYTES: usize = MAX_PEGOUT_SIGNATURES_BYTES;
/// SSZ size of an [`AuxPowHeader`] with the largest proof: fixed part (range start 8, range
/// end 32, payout 20, bits 4, proof offset 4) plus the proof.
pub const MAX_AUXPOW_HEADER_BYTES: usize = 68 + MaxAuxPowProofBytes::USIZE;

/// The gossip topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Block proposals (block + proposer approval).
    Proposal,
    /// Blocks with threshold approval.
    Block,
    /// Individual approvals.
    Approval,
    /// AuxPoW proofs submitted by miners, for the next proposer.
    AuxPow,
    /// Transactions for the embedded execution clients' pools.
    Transaction,
    /// A federation member's signatures of a peg-out payout.
    PegOutSignature,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 6] = [
        Topic::Proposal,
        Topic::Block,
        Topic::Approval,
        Topic::AuxPow,
        Topic::Transaction,
        Topic::PegOutSignature,
    ];

    /// The kind part of the topic name.
    pub const fn kind(self) -> &'static str {
        match self {
            Topic::Proposal => "block_proposal",
            Topic::Block => "signed_block",
            Topic::Approval => "approval",
            Topic::AuxPow => "auxpow",
            Topic::Transaction => "transaction",
            Topic::PegOutSignature => "pegout_signature",
        }
    }

    /// Largest decoded (uncompressed) payload accepted on the topic.
    pub const fn max_decoded_bytes(self) -> usize {
        match self {
            Topic::Proposal | Topic::Block => MAX_SIGNED_BLOCK_BYTES,
            Topic::Approval => APPROVAL_BYTES,
            Topic::AuxPow => MAX_AUXPOW_HEADER_BYTES,
            Topic::Transaction => MAX_TRANSACTION_BYTES,
            Topic::PegOutSignature => MAX_PEGOUT_SIGNATURE_BYTES,
        }
    }

    /// Largest compressed payload accepted on the topic (snappy's worst case for the decoded
    /// cap): the gossipsub transmit limit of the topic.
    pub fn max_compressed_bytes(self) -> usize {
        snap::raw::max_compress_len(self.max_decoded_bytes())
    }

    /// The gossipsub topic on the chain with `spec_hash`.
    pub fn ident(self, spec_hash: B256) -> IdentTopic {
        IdentTopic::new(format!(
            "/alys/{}/{}/ssz_snappy",
            hex_prefix(spec_hash),
            self.kind()
        ))
    }

    /// The topic whose hash is `hash` on the chain with `spec_hash`.
    pub fn from_hash(hash: &TopicHash, spec_hash: B256) -> Option<Topic> {
        Topic::ALL
            .into_iter()
            .find(|t| t.ident(spec_hash).hash() == *hash)
    }
}

fn hex_prefix(hash: B256) -> String {
    hash[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A decoded gossip payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A consensus message.
    Consensus(GossipMessage),
    /// A transaction (EIP-2718 bytes, not yet decoded).
    Transaction(Vec<u8>),
}

/// Why a gossip payload was refused before validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message's compressed size is over the topic's cap.
    #[error("{topic:?}: compressed payload of {len} bytes exceeds {max}")]
    CompressedTooLarge {
        /// The topic.
        topic: Topic,
        /// Size.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// The snappy header announces more than the topic's cap.
    #[error("{topic:?}: decoded payload of {len} bytes exceeds {max}")]
    DecodedTooLarge {
        /// The topic.
        topic: Topic,
        /// Announced size.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// Not valid snappy.
    #[error("{topic:?}: snappy: {reason}")]
    Snappy {
        /// The topic.
        topic: Topic,
        /// Why.
        reason: String,
    },
    /// Not valid SSZ of the topic's type.
    #[error("{topic:?}: {reason}")]
    Ssz {
        /// The topic.
        topic: Topic,
        /// Why.
        reason: String,
    },
}

/// Encodes a consensus message: its topic and the snappy-compressed SSZ bytes.
pub fn encode(msg: &GossipMessage) -> (Topic, Vec<u8>) {
    let (topic, ssz) = match msg {
        GossipMessage::Proposal(p) => (Topic::Proposal, p.encode()),
        GossipMessage::Block(b) => (Topic::Block, b.encode()),
        GossipMessage::Approval(a) => (Topic::Approval, a.encode()),
        GossipMessage::AuxPow(h) => (Topic::AuxPow, h.encode()),
        GossipMessage::PegOutSignatures(s) => (Topic::PegOutSignature, s.encode()),
    };
    (topic, compress(&ssz))
}

/// Snappy-compresses `bytes` (raw format).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    // Compression fails only for inputs over 4 GiB, far above every cap.
    snap::raw::Encoder::new()
        .compress_vec(bytes)
        .unwrap_or_default()
}

/// Decompresses `data` when both its compressed and announced sizes are within `max`.
pub(crate) fn decompress(topic: Topic, data: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    let max_compressed = snap::raw::max_compress_len(max);
    if data.len() > max_compressed {
        return Err(DecodeError::CompressedTooLarge {
            topic,
            len: data.len(),
            max: max_compressed,
        });
    }
    let len = snap::raw::decompress_len(data).map_err(|e| DecodeError::Snappy {
        topic,
        reason: e.to_string(),
    })?;
    if len > max {
        return Err(DecodeError::DecodedTooLarge { topic, len, max });
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| DecodeError::Snappy {
            topic,
            reason: e.to_string(),
        })
}

/// Decodes a payload received on `topic`: size caps, snappy, then the topic's SSZ type.
/// Never panics on any input.
pub fn decode(topic: Topic, data: &[u8]) -> Result<Payload, DecodeError> {
    let bytes = decompress(topic, data, topic.max_decoded_bytes())?;
    let ssz = |reason: String| DecodeError::Ssz { topic, reason };
    Ok(match topic {
        Topic::Proposal => Payload::Consensus(GossipMessage::Proposal(Box::new(
            BlockProposal::decode(&bytes).map_err(|e| ssz(e.to_string()))?,
        ))),
        Topic::Block => Payload::Consensus(GossipMessage::Block(Box::new(
            SignedConsensusBlock::decode(&bytes).map_err(|e| ssz(e.to_string()))?,
        ))),
        Topic::Approval => Payload::Consensus(GossipMessage::Approval(
            Approval::decode(&bytes).map_err(|e| ssz(e.to_string()))?,
        )),
        Topic::AuxPow => Payload::Consensus(GossipMessage::AuxPow(Box::new(
            AuxPowHeader::decode(&bytes).map_err(|e| ssz(e.to_string()))?,
        ))),
        Topic::Transaction => Payload::Transaction(bytes),
        Topic::PegOutSignature => Payload::Consensus(GossipMessage::PegOutSignatures(Box::new(
            PegOutSignatures::decode(&bytes).map_err(|e| ssz(e.to_string()))?,
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, FixedBytes};

    fn approval() -> Approval {
        Approval {
            block_root: B256::repeat_byte(1),
            slot: 9,
            authority_index: 1,
            signature: FixedBytes::repeat_byte(2),
        }
    }

    #[test]
    fn roundtrip_every_consensus_kind() {
        let header = AuxPowHeader::new(
            3,
            B256::repeat_byte(4),
            Address::repeat_byte(5),
            0x207fffff,
            vec![7; 300],
        )
        .unwrap();
        for msg in [
            GossipMessage::Approval(approval()),
            GossipMessage::AuxPow(Box::new(header)),
        ] {
            let (topic, bytes) = encode(&msg);
            assert_eq!(decode(topic, &bytes).unwrap(), Payload::Consensus(msg));
        }
    }

    #[test]
    fn pegout_signatures_roundtrip_within_their_cap() {
        use ssz_types::typenum::Unsigned;
        let n = alys_primitives::pegout_signatures::MaxPayoutInputs::USIZE;
        let sigs: Vec<[u8; 64]> = (0..n).map(|i| [i as u8; 64]).collect();
        let msg = GossipMessage::PegOutSignatures(Box::new(
            PegOutSignatures::new(B256::repeat_byte(3), 1, &sigs).unwrap(),
        ));
        let (topic, bytes) = encode(&msg);
        assert_eq!(topic, Topic::PegOutSignature);
        assert_eq!(msg.size_bytes(), Topic::PegOutSignature.max_decoded_bytes());
        assert_eq!(decode(topic, &bytes).unwrap(), Payload::Consensus(msg));
        // One byte over the cap is refused from the snappy header, before decompressing.
        let over = compress(&vec![0u8; MAX_PEGOUT_SIGNATURE_BYTES + 1]);
        assert!(matches!(
            decode(Topic::PegOutSignature, &over),
            Err(DecodeError::DecodedTooLarge { .. })
        ));
    }

    #[test]
    fn topics_are_distinct_and_chain_bound() {
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        for t in Topic::ALL {
            assert_eq!(Topic::from_hash(&t.ident(a).hash(), a), Some(t));
            assert_eq!(Topic::from_hash(&t.ident(a).hash(), b), None);
        }
    }

    #[test]
    fn oversized_and_garbage_are_typed_errors() {
        // A snappy header announcing more than the approval's exact size.
        let big = compress(&[0u8; APPROVAL_BYTES + 1]);
        assert!(matches!(
            decode(Topic::Approval, &big),
            Err(DecodeError::DecodedTooLarge { .. })
        ));
        // Within the cap but not an approval.
        let short = compress(&[1, 2, 3]);
        assert!(matches!(
            decode(Topic::Approval, &short),
            Err(DecodeError::Ssz { .. })
        ));
        // Compressed size over the cap.
        let huge = vec![0u8; Topic::Approval.max_compressed_bytes() + 1];
        assert!(matches!(
            decode(Topic::Approval, &huge),
            Err(DecodeError::CompressedTooLarge { .. })
        ));
        // A header announcing 1 GiB on the block topic: refused before allocating.
        let mut lying = Vec::new();
        let mut n: u64 = 1 << 30;
        while n >= 0x80 {
            lying.push((n as u8) | 0x80);
            n >>= 7;
        }
        lying.push(n as u8);
        lying.extend_from_slice(&[0; 16]);
        assert!(matches!(
            decode(Topic::Block, &lying),
            Err(DecodeError::DecodedTooLarge { .. })
        ));
        assert!(matches!(
            decode(Topic::Block, &[0xff; 40]),
            Err(DecodeError::Snappy { .. })
        ));
        assert!(matches!(
            decode(Topic::PegOutSignature, &compress(&[1])),
            Err(DecodeError::Ssz { .. })
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..5_000 {
            let len = rng.gen_range(0..400);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            for t in Topic::ALL {
                let _ = decode(t, &bytes);
                let _ = decode(t, &compress(&bytes));
            }
        }
    }
}
