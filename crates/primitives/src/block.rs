//! The consensus block, its approvals, and their SSZ wire format.
//!
//! * [`ConsensusBlock`]: parent root, slot, the parent's aggregate approval, execution payload,
//!   peg-ins, optional AuxPoW, optional peg-out proposal, federation outputs spent outside the
//!   peg. Its **root** is its SSZ `hash_tree_root`.
//!
//! Why a block carries its parent's approval: which authorities end up in a block's aggregate
//! depends on which approvals a node happened to receive, so the aggregate is not part of the
//! block root and differs between nodes. The child fixes one: its `parent_approval` must be a
//! valid threshold approval of the parent, and its payload's `prevRandao` is
//! sha256(`parent_approval.signature`) (zero on top of genesis, whose approval is empty), so
//! every node derives the same value.
//! * [`Approval`]: one authority's BLS signature over the block's signing root
//!   ([`crate::signing`], domain [`crate::DomainType::BlockApproval`]).
//! * [`SignedConsensusBlock`]: block + [`AggregateApproval`] (bitfield over the authorities in
//!   spec order + aggregate signature).
//!
//! Decoding from the wire goes through [`SignedConsensusBlock::decode`] /
//! [`Approval::decode`], which cap the input size before SSZ decoding; SSZ decoding itself
//! never panics on arbitrary input.
//!
//! The AuxPoW and peg-out fields are opaque byte lists for now (their own crates will define
//! them); each is an SSZ `List[_, 1]` (absent = empty) so adding structure later keeps the shape.

use crate::payload::ExecutionPayload;
use crate::units::Sats;
use alloy_primitives::{Address, FixedBytes, B256};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U1048576, U128, U16, U256 as N256};
use ssz_types::{BitList, ListEncodedOption, VariableList};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// Maximum peg-ins per block.
pub type MaxPegInsPerBlock = U128;
/// Maximum size of the (opaque, for now) AuxPoW encoding.
pub type MaxAuxPowBytes = U1048576;
/// Maximum size of one Bitcoin transaction.
pub type MaxBitcoinTxBytes = U1048576;
/// Maximum federation outputs a block declares spent outside the peg.
pub type MaxFederationSpendsPerBlock = U16;
/// [`MaxFederationSpendsPerBlock`] as a number.
pub const MAX_FEDERATION_SPENDS_PER_BLOCK: usize =
    <MaxFederationSpendsPerBlock as ssz_types::typenum::Unsigned>::USIZE;
/// Maximum number of authorities (bitfield capacity).
pub type MaxAuthorities = N256;
/// Maximum number of authorities, as a number.
pub const MAX_AUTHORITIES: usize = 256;

/// Largest accepted SSZ encoding of a signed block (16 MiB).
pub const MAX_SIGNED_BLOCK_BYTES: usize = 16 * 1024 * 1024;
/// Exact SSZ size of an [`Approval`].
pub const APPROVAL_BYTES: usize = 32 + 8 + 8 + 96;

/// Compressed BLS signature bytes as they appear on the wire (validated when used).
pub type SignatureBytes = FixedBytes<96>;
/// Opaque byte list bounded by `N`.
pub type ByteList<N> = VariableList<u8, N>;
/// Index of an authority in the chain spec's `authorities`.
pub type AuthorityIndex = u64;

/// A Bitcoin deposit minted by a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, TreeHash)]
pub struct PegIn {
    /// Deposit txid, in Bitcoin's internal byte order (as hashed; displayed reversed).
    pub txid: B256,
    /// Hash of the Bitcoin block containing the deposit, internal byte order.
    pub block_hash: B256,
    /// Output index of the deposit (first output paying the federation).
    pub vout: u32,
    /// Deposited amount in satoshis.
    pub sats: u64,
    /// EVM recipient (from the OP_RETURN).
    pub evm_address: Address,
}

impl PegIn {
    /// The deposited amount.
    pub fn amount(&self) -> Sats {
        Sats(self.sats)
    }
}

/// A federation output spent on Bitcoin outside the peg: by a transaction that is not a payout
/// proposed on this chain. Every node with a Bitcoin node checks it against its own view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, TreeHash)]
pub struct FederationSpend {
    /// Txid of the spent output, internal byte order.
    pub txid: B256,
    /// Index of the spent output.
    pub vout: u32,
    /// Txid of the spending transaction, internal byte order.
    pub spender: B256,
    /// Hash of the Bitcoin block containing the spending transaction, internal byte order.
    pub block_hash: B256,
}

/// A consensus block (unsigned).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ConsensusBlock {
    /// Root of the parent consensus block.
    pub parent_root: B256,
    /// Slot the block was produced for.
    pub slot: u64,
    /// A threshold approval of the parent (empty for a child of genesis).
    pub parent_approval: AggregateApproval,
    /// Full execution payload.
    pub execution_payload: ExecutionPayload,
    /// Deposits minted by this block.
    pub pegins: VariableList<PegIn, MaxPegInsPerBlock>,
    /// Optional AuxPoW (opaque until the auxpow crate defines it).
    pub auxpow: ListEncodedOption<ByteList<MaxAuxPowBytes>>,
    /// Optional unsigned peg-out proposal (Bitcoin tx).
    pub pegout_proposal: ListEncodedOption<ByteList<MaxBitcoinTxBytes>>,
    /// Federation outputs spent on Bitcoin by a transaction that is not a payout of this
    /// chain, each at least `requiredBtcConfirmations` deep: they leave the UTXO set, and a
    /// payout that spent one is void.
    pub federation_spends: VariableList<FederationSpend, MaxFederationSpendsPerBlock>,
}

impl ConsensusBlock {
    /// A block with the given parent, slot and payload, an empty parent approval and no peg
    /// data.
    pub fn new(parent_root: B256, slot: u64, execution_payload: ExecutionPayload) -> Self {
        Self {
            parent_root,
            slot,
            parent_approval: AggregateApproval::empty(0),
            execution_payload,
            pegins: VariableList::empty(),
            auxpow: ListEncodedOption(None),
            pegout_proposal: ListEncodedOption(None),
            federation_spends: VariableList::empty(),
        }
    }

    /// The block root: SSZ `hash_tree_root`.
    pub fn root(&self) -> B256 {
        self.tree_hash_root()
    }
}

/// One authority's approval of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, TreeHash)]
pub struct Approval {
    /// Root of the approved block.
    pub block_root: B256,
    /// Slot of the approved block.
    pub slot: u64,
    /// Index of the approving authority.
    pub authority_index: AuthorityIndex,
    /// Signature over `approval_signing_root(block_root, slot, domain(BlockApproval))`.
    pub signature: SignatureBytes,
}

impl Approval {
    /// Decode from the wire (exact size, never panics).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeBlockError> {
        if bytes.len() != APPROVAL_BYTES {
            return Err(DecodeBlockError::TooLarge {
                len: bytes.len(),
                max: APPROVAL_BYTES,
            });
        }
        Self::from_ssz_bytes(bytes).map_err(|e| DecodeBlockError::Ssz(format!("{e:?}")))
    }

    /// Encode to the wire.
    pub fn encode(&self) -> Vec<u8> {
        self.as_ssz_bytes()
    }
}

/// Threshold approval of a block: which authorities signed and their aggregate signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct AggregateApproval {
    /// Bit `i` set ⇔ authority `i` signed. Its length must equal the number of authorities.
    pub bitfield: BitList<MaxAuthorities>,
    /// Aggregate BLS signature of the signers.
    pub signature: SignatureBytes,
}

impl AggregateApproval {
    /// No signers: a bitfield of `n` zero bits (`n` capped at [`MAX_AUTHORITIES`]) and a zero
    /// signature. The approval of genesis.
    pub fn empty(n: usize) -> Self {
        let bitfield = match BitList::with_capacity(n.min(MAX_AUTHORITIES)) {
            Ok(b) => b,
            Err(_) => unreachable!("a length within the capacity is always accepted"),
        };
        Self {
            bitfield,
            signature: FixedBytes::ZERO,
        }
    }

    /// Whether no bit is set.
    pub fn is_empty(&self) -> bool {
        self.bitfield.is_zero()
    }

    /// Indices of the set bits.
    pub fn signers(&self) -> Vec<usize> {
        self.bitfield
            .iter()
            .enumerate()
            .filter(|(_, b)| *b)
            .map(|(i, _)| i)
            .collect()
    }
}

/// A block with its threshold approval.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SignedConsensusBlock {
    /// The block.
    pub message: ConsensusBlock,
    /// Its approval.
    pub approval: AggregateApproval,
}

impl SignedConsensusBlock {
    /// Root of the block (not of the signed container).
    pub fn root(&self) -> B256 {
        self.message.root()
    }

    /// Decode from the wire, refusing inputs over [`MAX_SIGNED_BLOCK_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeBlockError> {
        if bytes.len() > MAX_SIGNED_BLOCK_BYTES {
            return Err(DecodeBlockError::TooLarge {
                len: bytes.len(),
                max: MAX_SIGNED_BLOCK_BYTES,
            });
        }
        Self::from_ssz_bytes(bytes).map_err(|e| DecodeBlockError::Ssz(format!("{e:?}")))
    }

    /// Encode to the wire.
    pub fn encode(&self) -> Vec<u8> {
        self.as_ssz_bytes()
    }
}

/// A proposed block with its proposer's own approval (gossiped before threshold is reached).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct BlockProposal {
    /// The proposed block.
    pub block: ConsensusBlock,
    /// The proposer's approval of `block`.
    pub proposer_approval: Approval,
}

impl BlockProposal {
    /// Decode from the wire, refusing inputs over [`MAX_SIGNED_BLOCK_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeBlockError> {
        if bytes.len() > MAX_SIGNED_BLOCK_BYTES {
            return Err(DecodeBlockError::TooLarge {
                len: bytes.len(),
                max: MAX_SIGNED_BLOCK_BYTES,
            });
        }
        Self::from_ssz_bytes(bytes).map_err(|e| DecodeBlockError::Ssz(format!("{e:?}")))
    }

    /// Encode to the wire.
    pub fn encode(&self) -> Vec<u8> {
        self.as_ssz_bytes()
    }
}

/// Why wire bytes are not a valid block or approval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeBlockError {
    /// Over the size cap (or, for fixed-size messages, not the exact size).
    #[error("encoding is {len} bytes, limit {max}")]
    TooLarge {
        /// Actual size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Malformed SSZ.
    #[error("malformed SSZ: {0}")]
    Ssz(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample_signed() -> SignedConsensusBlock {
        let mut block = ConsensusBlock::new(B256::repeat_byte(1), 42, ExecutionPayload::default());
        block
            .pegins
            .push(PegIn {
                txid: B256::repeat_byte(2),
                block_hash: B256::repeat_byte(3),
                vout: 1,
                sats: 50_000,
                evm_address: Address::repeat_byte(4),
            })
            .unwrap();
        block.auxpow = ListEncodedOption(Some(VariableList::new(vec![1, 2, 3]).unwrap()));
        let mut bitfield = BitList::with_capacity(3).unwrap();
        bitfield.set(0, true).unwrap();
        bitfield.set(2, true).unwrap();
        SignedConsensusBlock {
            message: block,
            approval: AggregateApproval {
                bitfield,
                signature: FixedBytes::repeat_byte(7),
            },
        }
    }

    #[test]
    fn roundtrip_and_root_is_stable() {
        let b = sample_signed();
        let bytes = b.encode();
        let back = SignedConsensusBlock::decode(&bytes).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.root(), b.root());
        assert_eq!(back.approval.signers(), vec![0, 2]);
        let mut other = b.message.clone();
        other.slot += 1;
        assert_ne!(other.root(), b.root());
        let a = Approval {
            block_root: b.root(),
            slot: 42,
            authority_index: 2,
            signature: FixedBytes::repeat_byte(9),
        };
        assert_eq!(a.encode().len(), APPROVAL_BYTES);
        assert_eq!(Approval::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let good = sample_signed().encode();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for cut in 0..good.len() {
            let _ = SignedConsensusBlock::decode(&good[..cut]);
        }
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] = rng.gen();
            }
            let _ = SignedConsensusBlock::decode(&bytes);
            let len = rng.gen_range(0..600);
            let random: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let _ = SignedConsensusBlock::decode(&random);
            let _ = Approval::decode(&random);
            let _ = BlockProposal::decode(&random);
        }
        assert!(matches!(
            SignedConsensusBlock::decode(&vec![0u8; MAX_SIGNED_BLOCK_BYTES + 1]),
            Err(DecodeBlockError::TooLarge { .. })
        ));
    }
}
