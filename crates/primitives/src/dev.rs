//! The dev chain: deterministic keys, prefunded accounts and [`ChainSpec::dev`].
//!
//! * EVM chain id 263634, 2 s slots, gas limit 30M, base fee 1 gwei, Cancun at genesis.
//! * Authority `i`'s BLS key: `KeyGen(IKM = sha256("alys-dev-authority-" || decimal(i)))`
//!   (the IETF BLS `KeyGen` as implemented by `blst`, empty `key_info`), see [`dev_secret_key`].
//! * The ten accounts of the mnemonic `test test … junk` (Foundry/anvil/Hardhat) hold
//!   10,000 BTC each. Their keys are hardcoded ([`DEV_ACCOUNTS`]; no BIP-39 crate in the
//!   workspace), and a test derives each address from its key.
//! * The `Bridge` predeploy (peg-out requests, [`crate::bridge`]) with the default minimum
//!   peg-out, and the EIP-4788 beacon-roots contract as in Geth's dev genesis, so the parent
//!   consensus block root is readable from the EVM.
//! * Merged mining: regtest-like `powLimit` = initial `bits` = `0x207fffff`, target spacing one
//!   slot (2 s), half-life 1 h ([`DEV_POW_LIMIT`]).
//! * Federation fee address: the address whose bytes are
//!   `keccak256("alys-dev-federation-fee")[12..]`.

use crate::bls::SecretKey;
use crate::bridge::{bridge_genesis_account, DEFAULT_MIN_PEG_OUT_SATS};
use crate::genesis::cancun_chain_config;
use crate::spec::{default_threshold, ChainSpec, SpecError};
use crate::BRIDGE_ADDRESS;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{address, b256, keccak256, Address, Bytes, B256, U256};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Dev chain EVM chain id.
pub const DEV_CHAIN_ID: u64 = 263_634;
/// Dev chain gas limit.
pub const DEV_GAS_LIMIT: u64 = 30_000_000;
/// Dev chain genesis base fee (1 gwei).
pub const DEV_BASE_FEE: u64 = 1_000_000_000;
/// Dev merged-mining pow limit and initial bits: Bitcoin regtest's `0x207fffff` (every other
/// hash meets it), so the built-in CPU miner finds a proof at once.
pub const DEV_POW_LIMIT: u32 = 0x207f_ffff;
/// Dev ASERT half-life (one hour); the target spacing is one slot.
pub const DEV_POW_HALF_LIFE_SECS: u64 = 3600;
/// Bitcoin confirmations a deposit needs on the dev chain.
pub const DEV_REQUIRED_BTC_CONFIRMATIONS: u32 = 2;

/// Balance of each prefunded dev account, in whole BTC (18 decimals on the EVM).
pub const DEV_ACCOUNT_BALANCE_BTC: u64 = 10_000;

/// The ten `test test … junk` accounts: (address, private key), BIP-44 `m/44'/60'/0'/0/i`.
pub const DEV_ACCOUNTS: [(Address, B256); 10] = [
    (
        address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    ),
    (
        address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        b256!("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    ),
    (
        address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
        b256!("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    ),
    (
        address!("0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
        b256!("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
    ),
    (
        address!("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        b256!("0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"),
    ),
    (
        address!("0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
        b256!("0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"),
    ),
    (
        address!("0x976EA74026E726554dB657fA54763abd0C3a0aa9"),
        b256!("0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"),
    ),
    (
        address!("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
        b256!("0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"),
    ),
    (
        address!("0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
        b256!("0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"),
    ),
    (
        address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
        b256!("0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"),
    ),
];

/// EIP-4788 beacon roots contract address.
pub const BEACON_ROOTS_ADDRESS: Address = address!("0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02");
/// EIP-4788 beacon roots contract runtime code.
pub const BEACON_ROOTS_CODE: &str = "0x3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500";

/// The deterministic dev BLS key of authority `index`.
pub fn dev_secret_key(index: usize) -> SecretKey {
    let ikm = Sha256::digest(format!("alys-dev-authority-{index}").as_bytes());
    // A 32-byte IKM is always accepted by KeyGen; the fallback is unreachable.
    SecretKey::key_gen(&ikm).unwrap_or_else(|_| unreachable!("32-byte IKM"))
}

/// Indices of the authorities of `spec` whose BLS key is a public dev key
/// ([`dev_secret_key`] of any index a spec can hold): anyone can sign for them, so a node
/// running such a spec outside development must say so loudly.
pub fn dev_key_authorities(spec: &ChainSpec) -> Vec<usize> {
    let dev: Vec<_> = (0..crate::spec::MAX_AUTHORITIES)
        .map(|i| dev_secret_key(i).public_key())
        .collect();
    spec.authorities
        .iter()
        .enumerate()
        .filter(|(_, pk)| dev.contains(pk))
        .map(|(i, _)| i)
        .collect()
}

/// Secret key of dev federation member `index` on Bitcoin: `sha256("alys-dev-federation-bitcoin-{index}")`
/// (a valid secp256k1 scalar for every index used here; dev only, never for real funds).
pub fn dev_bitcoin_secret_key(index: usize) -> [u8; 32] {
    Sha256::digest(format!("alys-dev-federation-bitcoin-{index}").as_bytes()).into()
}

/// Compressed public key (hex) of dev federation member `index` on Bitcoin.
pub fn dev_bitcoin_pubkey(index: usize) -> String {
    use alloy::signers::k256::ecdsa::SigningKey;
    let secret = dev_bitcoin_secret_key(index);
    // sha256 outputs are below the curve order except with negligible probability; the
    // fixed indices used by the dev spec are checked by a unit test.
    match SigningKey::from_slice(&secret) {
        Ok(key) => hex::encode(key.verifying_key().to_encoded_point(true).as_bytes()),
        Err(_) => unreachable!("dev federation key {index} out of range"),
    }
}

/// The dev federation fee address.
pub fn dev_fee_address() -> Address {
    Address::from_slice(&keccak256(b"alys-dev-federation-fee")[12..])
}

/// The default payout address of the dev chain's built-in miner (`keccak256("alys-dev-miner")`
/// low 20 bytes): an address nobody else pays, so its balance is exactly its fee share.
pub fn dev_miner_address() -> Address {
    Address::from_slice(&keccak256(b"alys-dev-miner")[12..])
}

/// The dev EL genesis (see the module docs).
pub fn dev_genesis() -> Genesis {
    let config = cancun_chain_config(DEV_CHAIN_ID);
    let balance = U256::from(DEV_ACCOUNT_BALANCE_BTC) * U256::from(10u64).pow(U256::from(18));
    let mut alloc = BTreeMap::new();
    for (addr, _) in DEV_ACCOUNTS {
        alloc.insert(
            addr,
            GenesisAccount {
                balance,
                ..Default::default()
            },
        );
    }
    alloc.insert(
        BRIDGE_ADDRESS,
        bridge_genesis_account(DEFAULT_MIN_PEG_OUT_SATS),
    );
    let code: Bytes = BEACON_ROOTS_CODE.parse().unwrap_or_default();
    alloc.insert(
        BEACON_ROOTS_ADDRESS,
        GenesisAccount {
            nonce: Some(1),
            code: Some(code),
            ..Default::default()
        },
    );
    Genesis {
        config,
        gas_limit: DEV_GAS_LIMIT,
        base_fee_per_gas: Some(DEV_BASE_FEE as u128),
        alloc,
        ..Default::default()
    }
}

impl ChainSpec {
    /// The dev chain spec with `n_authorities` deterministic authorities (1..=256).
    pub fn dev(n_authorities: usize) -> Result<ChainSpec, SpecError> {
        let keys: Vec<SecretKey> = (0..n_authorities).map(dev_secret_key).collect();
        let spec = ChainSpec {
            chain_id: DEV_CHAIN_ID,
            auxpow_chain_id: crate::spec::DEFAULT_AUXPOW_CHAIN_ID,
            slot_duration_ms: crate::spec::DEFAULT_SLOT_DURATION_MS,
            authorities: keys.iter().map(SecretKey::public_key).collect(),
            authority_proofs_of_possession: keys
                .iter()
                .map(SecretKey::proof_of_possession)
                .collect(),
            approval_threshold: default_threshold(n_authorities),
            allow_minority_threshold: false,
            max_blocks_without_pow: crate::spec::DEFAULT_MAX_BLOCKS_WITHOUT_POW,
            federation_fee_addresses: vec![dev_fee_address()],
            miner_fee_share: crate::spec::DEFAULT_MINER_FEE_SHARE,
            federation_bitcoin_pubkeys: (0..n_authorities).map(dev_bitcoin_pubkey).collect(),
            peg_threshold: Some((2 * n_authorities).div_ceil(3) as u32),
            bitcoin_network: Some("regtest".into()),
            bitcoin_start_height: None,
            required_btc_confirmations: Some(DEV_REQUIRED_BTC_CONFIRMATIONS),
            pow: Some(crate::spec::PowSpec {
                pow_limit: DEV_POW_LIMIT,
                target_spacing_secs: crate::spec::DEFAULT_SLOT_DURATION_MS / 1000,
                half_life_secs: DEV_POW_HALF_LIFE_SECS,
                bits: DEV_POW_LIMIT,
            }),
            min_peg_in_sats: None,
            min_peg_out_sats: None,
            max_peg_out_fee_rate: None,
            emergency: None,
            genesis: dev_genesis(),
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_federation_bitcoin_keys_are_valid_and_distinct() {
        let keys: Vec<String> = (0..16).map(dev_bitcoin_pubkey).collect();
        for k in &keys {
            assert_eq!(k.len(), 66, "{k}");
            assert!(k.starts_with("02") || k.starts_with("03"), "{k}");
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        let spec = ChainSpec::dev(3).unwrap();
        assert_eq!(spec.federation_bitcoin_pubkeys, keys[..3].to_vec());
        assert_eq!(spec.peg_threshold, Some(2));
        assert_eq!(
            spec.required_btc_confirmations,
            Some(DEV_REQUIRED_BTC_CONFIRMATIONS)
        );
    }
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn dev_accounts_match_their_keys() {
        for (addr, key) in DEV_ACCOUNTS {
            let signer = PrivateKeySigner::from_bytes(&key).unwrap();
            assert_eq!(signer.address(), addr);
        }
    }

    #[test]
    fn dev_key_authorities_are_recognised() {
        let mut spec = ChainSpec::dev(3).unwrap();
        assert_eq!(dev_key_authorities(&spec), vec![0, 1, 2]);
        let fresh = SecretKey::key_gen(&[77u8; 32]).unwrap();
        spec.authorities[1] = fresh.public_key();
        spec.authority_proofs_of_possession[1] = fresh.proof_of_possession();
        spec.validate().unwrap();
        assert_eq!(dev_key_authorities(&spec), vec![0, 2]);
        spec.authorities[0] = dev_secret_key(200).public_key();
        assert_eq!(dev_key_authorities(&spec), vec![0, 2]);
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(dev_secret_key(0).to_bytes(), dev_secret_key(0).to_bytes());
        assert_ne!(
            dev_secret_key(0).public_key(),
            dev_secret_key(1).public_key()
        );
        let spec = ChainSpec::dev(3).unwrap();
        assert_eq!(spec.approval_threshold, 2);
        assert_eq!(spec.chain_id, 263634);
        let h = spec.genesis_header().unwrap();
        assert_eq!(h.base_fee_per_gas, Some(DEV_BASE_FEE));
        assert_eq!(h.gas_limit, DEV_GAS_LIMIT);
        assert_eq!(h.blob_gas_used, Some(0));
        assert_eq!(h.parent_beacon_block_root, Some(B256::ZERO));
        assert!(ChainSpec::dev(0).is_err());
    }
}
