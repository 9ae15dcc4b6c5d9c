//! The seam through which peg-out signatures (DESIGN §8) reach whoever collects them.
//!
//! Consensus knows nothing of Bitcoin: it carries [`PegOutSignatures`] between nodes like its
//! other messages and asks a [`PegOutSignatureSink`] (the federation's collector, installed with
//! [`crate::ConsensusService::spawn_with_pegout_sink`]) what each one is worth. The answer
//! becomes the message's [`crate::PeerVerdict`]: accepted messages are forwarded, those for a
//! payout this node does not know are ignored, invalid ones penalize the peer that sent them.

use alys_primitives::PegOutSignatures;

/// What the collector made of a valid-looking message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureVerdict {
    /// Every signature verifies (or the member's signatures were already held): forward it.
    Accepted,
    /// The payout is not one this node knows (yet): not forwarded, nobody penalized.
    UnknownPayout,
}

/// Why a peg-out signature message is invalid (the peer that sent it is penalized).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRejection {
    /// `member` is not an index of `federationBitcoinPubkeys`.
    #[error("peg-out signer {member} is not a federation member (there are {members})")]
    UnknownMember {
        /// The index given.
        member: u64,
        /// Federation size.
        members: usize,
    },
    /// Not one signature per input of the payout.
    #[error("member {member} sent {got} peg-out signatures for {inputs} inputs")]
    SignatureCount {
        /// The member.
        member: u64,
        /// Signatures in the message.
        got: usize,
        /// Inputs of the payout.
        inputs: usize,
    },
    /// A signature does not verify under the member's key over the payout.
    #[error("member {member}'s peg-out signature of input {input} does not verify")]
    BadSignature {
        /// The member.
        member: u64,
        /// The input.
        input: usize,
    },
}

/// Receives every peg-out signature message, from this node's bus or from a peer.
pub trait PegOutSignatureSink: Send + Sync {
    /// Checks `msg` and keeps it if it is valid. Called on the consensus task: keep it quick
    /// (no I/O).
    fn receive(&self, msg: &PegOutSignatures) -> Result<SignatureVerdict, SignatureRejection>;
}

/// The default sink: no collector, every message ignored (never forwarded, never penalized).
#[derive(Clone, Copy, Debug, Default)]
pub struct IgnorePegOutSignatures;

impl PegOutSignatureSink for IgnorePegOutSignatures {
    fn receive(&self, _: &PegOutSignatures) -> Result<SignatureVerdict, SignatureRejection> {
        Ok(SignatureVerdict::UnknownPayout)
    }
}
