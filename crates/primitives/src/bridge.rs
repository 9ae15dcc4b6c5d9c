//! The `Bridge` predeploy (DESIGN §8): its runtime code, genesis storage and event.
//!
//! * Code: the `deployedBytecode` of `contracts/artifacts/Bridge.json`, compiled from
//!   `contracts/src/Bridge.sol` by `scripts/compile-contracts.sh`; a test recompiles the source
//!   and compares it with the artifact and with the code in every chain spec's genesis.
//! * Storage: slot 0 holds the minimum peg-out in sats ([`BRIDGE_MIN_PEG_OUT_SLOT`]). The code is
//!   placed in the genesis state, so no constructor ever runs and the minimum cannot be an
//!   immutable: the genesis writes it, from the spec's `minPegOutSats` (default
//!   [`DEFAULT_MIN_PEG_OUT_SATS`]).
//! * Event: [`RequestPegOut`], the one log the Bridge emits.
//!
//! Every chain spec must hold this account ([`check_bridge_predeploy`], part of
//! [`ChainSpec::validate`]): a chain without it could not peg out, and a slot 0 that differs
//! from `minPegOutSats` would make the contract and the node disagree on the minimum.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Bytes, B256, U256};

use crate::spec::{ChainSpec, SpecError};
use crate::units::Sats;
use crate::BRIDGE_ADDRESS;

alloy::sol! {
    /// A peg-out request: `value` wei (a whole number of sats) burned by `evmAddress`, to be
    /// paid to `bitcoinAddress` (the UTF-8 bytes of the address string).
    #[derive(Debug, PartialEq, Eq)]
    event RequestPegOut(address indexed evmAddress, bytes bitcoinAddress, uint256 value);
}

/// The minimum peg-out when the spec sets no `minPegOutSats`: 10,000 sats, well above Bitcoin's
/// dust limits (546 sats for the largest standard output) after the request's share of the
/// payout's fee.
pub const DEFAULT_MIN_PEG_OUT_SATS: Sats = Sats(10_000);

/// The Bridge's storage slot holding the minimum peg-out in sats.
pub const BRIDGE_MIN_PEG_OUT_SLOT: B256 = B256::ZERO;

/// The committed compiler output of `contracts/src/Bridge.sol`.
pub const BRIDGE_ARTIFACT: &str = include_str!("../../../contracts/artifacts/Bridge.json");

static RUNTIME_CODE: LazyLock<Bytes> =
    LazyLock::new(|| deployed_bytecode(BRIDGE_ARTIFACT).unwrap_or_default());

/// The `deployedBytecode` of a compiler artifact (`None` if the JSON lacks a valid one).
pub fn deployed_bytecode(artifact_json: &str) -> Option<Bytes> {
    let artifact: serde_json::Value = serde_json::from_str(artifact_json).ok()?;
    artifact.get("deployedBytecode")?.as_str()?.parse().ok()
}

/// The Bridge's runtime code, as placed in the genesis.
pub fn bridge_runtime_code() -> Bytes {
    RUNTIME_CODE.clone()
}

/// The Bridge's genesis account for a chain whose minimum peg-out is `min_peg_out`: the runtime
/// code, nonce 1 (as a created contract), no balance, slot 0 = the minimum.
pub fn bridge_genesis_account(min_peg_out: Sats) -> GenesisAccount {
    let storage = BTreeMap::from([(
        BRIDGE_MIN_PEG_OUT_SLOT,
        B256::from(U256::from(min_peg_out.0)),
    )]);
    GenesisAccount {
        nonce: Some(1),
        code: Some(bridge_runtime_code()),
        storage: Some(storage),
        ..Default::default()
    }
}

/// Checks that `spec`'s genesis holds the Bridge at [`BRIDGE_ADDRESS`] with its runtime code and
/// slot 0 = the spec's minimum peg-out.
pub fn check_bridge_predeploy(spec: &ChainSpec) -> Result<(), SpecError> {
    let field = format!("genesis.alloc.{BRIDGE_ADDRESS:#x}");
    let account = spec.genesis.alloc.get(&BRIDGE_ADDRESS).ok_or_else(|| {
        SpecError::new(
            &field,
            "null",
            "the Bridge predeploy is required (bridge_genesis_account, docs/peg-out.md)",
        )
    })?;
    let code = account.code.clone().unwrap_or_default();
    if code != bridge_runtime_code() {
        return Err(SpecError::new(
            format!("{field}.code"),
            code.to_string(),
            "must be the deployedBytecode of contracts/artifacts/Bridge.json",
        ));
    }
    let min = spec.min_peg_out();
    let slot = account
        .storage
        .as_ref()
        .and_then(|s| s.get(&BRIDGE_MIN_PEG_OUT_SLOT))
        .copied()
        .unwrap_or_default();
    if slot != B256::from(U256::from(min.0)) {
        return Err(SpecError::new(
            format!("{field}.storage.{BRIDGE_MIN_PEG_OUT_SLOT}"),
            slot.to_string(),
            format!("must hold the minimum peg-out, minPegOutSats = {}", min.0),
        ));
    }
    Ok(())
}

impl ChainSpec {
    /// The chain's minimum peg-out: `minPegOutSats`, or [`DEFAULT_MIN_PEG_OUT_SATS`].
    pub fn min_peg_out(&self) -> Sats {
        self.min_peg_out_sats
            .map(Sats)
            .unwrap_or(DEFAULT_MIN_PEG_OUT_SATS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolEvent;

    #[test]
    fn the_committed_artifact_has_runtime_code() {
        let code = bridge_runtime_code();
        assert!(code.len() > 100, "{} bytes", code.len());
        assert_eq!(deployed_bytecode("{}"), None);
        assert_eq!(deployed_bytecode(r#"{"deployedBytecode": "0xzz"}"#), None);
    }

    #[test]
    fn genesis_account_holds_the_minimum_in_slot_0() {
        let account = bridge_genesis_account(Sats(12_345));
        let storage = account.storage.unwrap_or_default();
        assert_eq!(
            storage.get(&B256::ZERO),
            Some(&B256::from(U256::from(12_345)))
        );
        assert_eq!(account.code, Some(bridge_runtime_code()));
    }

    #[test]
    fn event_signature_is_the_contracts() {
        assert_eq!(
            RequestPegOut::SIGNATURE,
            "RequestPegOut(address,bytes,uint256)"
        );
        let code = bridge_runtime_code();
        let topic = RequestPegOut::SIGNATURE_HASH;
        assert!(
            code.windows(32).any(|w| w == topic.as_slice()),
            "the runtime code pushes the event topic"
        );
    }

    #[test]
    fn dev_spec_min_peg_out_defaults() {
        let mut spec = ChainSpec::dev(1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.min_peg_out(), DEFAULT_MIN_PEG_OUT_SATS);
        spec.min_peg_out_sats = Some(5);
        assert_eq!(spec.min_peg_out(), Sats(5));
    }

    fn field_of(spec: &ChainSpec) -> String {
        spec.validate()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.field)
    }

    #[test]
    fn spec_without_the_bridge_is_refused() {
        let mut spec = ChainSpec::dev(1).unwrap_or_else(|e| panic!("{e}"));
        spec.genesis.alloc.remove(&BRIDGE_ADDRESS);
        assert_eq!(
            field_of(&spec),
            format!("genesis.alloc.{BRIDGE_ADDRESS:#x}")
        );
    }

    #[test]
    fn spec_with_other_bridge_code_is_refused() {
        let mut spec = ChainSpec::dev(1).unwrap_or_else(|e| panic!("{e}"));
        let mut account = bridge_genesis_account(DEFAULT_MIN_PEG_OUT_SATS);
        account.code = Some(Bytes::from_static(&[0x00]));
        spec.genesis.alloc.insert(BRIDGE_ADDRESS, account);
        assert_eq!(
            field_of(&spec),
            format!("genesis.alloc.{BRIDGE_ADDRESS:#x}.code")
        );
    }

    #[test]
    fn min_peg_out_must_match_the_bridge_slot() {
        let mut spec = ChainSpec::dev(1).unwrap_or_else(|e| panic!("{e}"));
        spec.min_peg_out_sats = Some(20_000);
        let e = spec.validate().unwrap_err();
        assert_eq!(
            e.field,
            format!("genesis.alloc.{BRIDGE_ADDRESS:#x}.storage.{BRIDGE_MIN_PEG_OUT_SLOT}")
        );
        assert!(e.reason.contains("20000"), "{e}");
        spec.genesis
            .alloc
            .insert(BRIDGE_ADDRESS, bridge_genesis_account(Sats(20_000)));
        assert_eq!(spec.validate(), Ok(()));
    }
}
