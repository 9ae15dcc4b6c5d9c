//! Which Ethereum hard forks are active when: the fork schedule of a chain, read from the
//! geth-style genesis `config`.
//!
//! The embedded execution client supports post-merge chains only: every fork up to and
//! including Paris is active at genesis; Shanghai and Cancun activate by timestamp (or not at
//! all). Prague and later forks are not supported yet and are rejected when a genesis schedules
//! them.

use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_genesis::ChainConfig;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, U256};

/// Errors in a fork schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    /// A fork this client does not implement is scheduled.
    #[error("hard fork {0} is not supported by the embedded execution client")]
    Unsupported(&'static str),
    /// A required fork is missing or scheduled in the wrong order.
    #[error("invalid fork schedule: {0}")]
    Invalid(String),
}

/// The fork schedule of a post-merge chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkSchedule {
    /// EVM chain id.
    pub chain_id: u64,
    /// Shanghai activation timestamp (`None`: not scheduled).
    pub shanghai_time: Option<u64>,
    /// Cancun activation timestamp (`None`: not scheduled).
    pub cancun_time: Option<u64>,
}

impl ForkSchedule {
    /// Every supported fork active from genesis.
    pub fn all_active(chain_id: u64) -> Self {
        Self {
            chain_id,
            shanghai_time: Some(0),
            cancun_time: Some(0),
        }
    }

    /// Reads the schedule from a geth genesis `config`.
    pub fn from_chain_config(config: &ChainConfig) -> Result<Self, ForkError> {
        let later = [
            ("Prague", config.prague_time),
            ("Osaka", config.osaka_time),
            ("BPO1", config.bpo1_time),
            ("BPO2", config.bpo2_time),
            ("BPO3", config.bpo3_time),
            ("BPO4", config.bpo4_time),
            ("BPO5", config.bpo5_time),
            ("Amsterdam", config.amsterdam_time),
            ("Bogota", config.bogota_time),
        ];
        if let Some((fork, _)) = later.iter().find(|(_, at)| at.is_some()) {
            return Err(ForkError::Unsupported(fork));
        }
        let (shanghai_time, cancun_time) = (config.shanghai_time, config.cancun_time);
        match (shanghai_time, cancun_time) {
            (None, Some(_)) => {
                return Err(ForkError::Invalid(
                    "`cancunTime` is set without `shanghaiTime`".into(),
                ))
            }
            (Some(s), Some(c)) if c < s => {
                return Err(ForkError::Invalid(
                    "`cancunTime` is before `shanghaiTime`".into(),
                ))
            }
            _ => {}
        }
        Ok(Self {
            chain_id: config.chain_id,
            shanghai_time,
            cancun_time,
        })
    }

    /// Whether Cancun rules apply at `timestamp`.
    pub fn is_cancun(&self, timestamp: u64) -> bool {
        self.cancun_time.is_some_and(|t| timestamp >= t)
    }

    /// Whether Shanghai rules apply at `timestamp`.
    pub fn is_shanghai(&self, timestamp: u64) -> bool {
        self.shanghai_time.is_some_and(|t| timestamp >= t)
    }
}

impl EthereumHardforks for ForkSchedule {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        use EthereumHardfork::*;
        match fork {
            Paris => ForkCondition::TTD {
                activation_block_number: 0,
                fork_block: None,
                total_difficulty: U256::ZERO,
            },
            Shanghai => self
                .shanghai_time
                .map_or(ForkCondition::Never, ForkCondition::Timestamp),
            Cancun => self
                .cancun_time
                .map_or(ForkCondition::Never, ForkCondition::Timestamp),
            Frontier | Homestead | Dao | Tangerine | SpuriousDragon | Byzantium
            | Constantinople | Petersburg | Istanbul | MuirGlacier | Berlin | London
            | ArrowGlacier | GrayGlacier => ForkCondition::Block(0),
            _ => ForkCondition::Never,
        }
    }
}

impl EthExecutorSpec for ForkSchedule {
    fn deposit_contract_address(&self) -> Option<Address> {
        None
    }
}

/// The geth genesis `config` of a post-merge chain with every supported fork (up to Cancun)
/// active at genesis; defined once, in `alys-primitives`.
pub use alys_primitives::genesis::cancun_chain_config;
