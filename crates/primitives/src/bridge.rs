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

use std::collections::BTreeMap;
use std::sync::LazyLock;

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Bytes, B256, U256};

use crate::spec::ChainSpec;
use crate::units::Sats;

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
}
