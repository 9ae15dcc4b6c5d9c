//! Federation consensus (DESIGN §4): Aura slots, BLS threshold approvals, block production and
//! import through the Engine API, fork choice and finality bookkeeping.
//!
//! Modules, in the order a block meets them:
//!
//! * [`clock`]: slot = floor(unix_ms / slotDurationMs), injectable time source;
//! * [`schedule`]: proposer of slot `s` = `authorities[s % n]`;
//! * [`producer`]: forkchoiceUpdated with attributes → getPayload → sign;
//! * [`approvals`]: collect individual approvals, aggregate at threshold;
//! * [`validate`]: every import rule as a [`validate::BlockError`] variant;
//! * [`import`]: validate → newPayload VALID → persist → fork choice → forkchoiceUpdated;
//! * [`forkchoice`]: longest approved chain from the finalized block;
//! * [`chain_store`]: the chain's columns in the node's LevelDB store;
//! * [`pow`]: merged mining: AuxPoW rules, finality range, difficulty, fee re-mint, halting;
//! * [`fees`]: the priority fees of a payload, from its transactions and the EL's receipts;
//! * [`el_health`]: the execution client's failures as consensus sees them (log, status);
//! * [`chain`]: the state one node owns, opening it (genesis, restart, EL re-drive);
//! * [`service`]: the task that owns the chain and talks through channels;
//! * [`pegout_signatures`]: the seam handing gossiped peg-out signatures to their collector;
//! * [`buffers`]: the service's bounded buffers of early proposals and orphan blocks;
//! * [`local`]: an in-process bus connecting several services.

pub mod approvals;
pub mod buffers;
pub mod chain;
pub mod chain_store;
pub mod clock;
pub mod deferred;
pub mod el_health;
pub mod fees;
pub mod forkchoice;
pub mod import;
pub mod local;
mod metrics;
pub mod pegout;
pub mod pegout_signatures;
mod pending_pow;
pub mod pow;
pub mod producer;
pub mod schedule;
pub mod service;
pub mod validate;

pub use chain::{genesis_block, Chain, ChainError, ChainStatus, PowStatus, Signer};
pub use clock::{ManualTimeSource, SlotClock, SystemTimeSource, TimeSource};
pub use el_health::ElProblem;
pub use forkchoice::{BlockInfo, ForkChoice, PowIndex};
pub use import::{ImportError, ImportOutcome};
pub use local::LocalNetwork;
pub use pegout::{NoPegOuts, PegOutLedger, PegOutRejection, PegOutWork, Refund};
pub use pegout_signatures::{
    IgnorePegOutSignatures, PegOutSignatureSink, SignatureRejection, SignatureVerdict,
};
pub use pow::{PowError, PowParams};
pub use producer::ProduceError;
pub use service::{
    spawn_slot_ticker, ConsensusService, GossipMessage, Input, PeerVerdict, Rejection,
    ServiceHandle,
};
pub use validate::{
    BlockError, NoPegIns, PegInRejection, PegInVerifier, TrustedPegIns, WithdrawalMismatch,
};
