//! EIP-7610: a contract creation collides with an account that has non-empty storage.
//!
//! revm checks the EIP-684 collision (the target has code or a nonzero nonce) but not storage,
//! which its `Database` trait cannot ask about. An account with storage, no code and nonce 0
//! cannot arise from execution after EIP-161, but a genesis alloc can hold one, so on this
//! chain a `CREATE`, `CREATE2` or creation transaction can target it.
//!
//! [`StorageCollisionGuard`] is an inspector whose `create` hook runs before every creation
//! frame (top-level and nested). When the target has no code, nonce 0 and non-empty storage,
//! it answers the creation exactly as revm answers an EIP-684 collision: the creator's nonce is
//! incremented, the target is warm, nothing else changes, and the frame halts with
//! `CreateCollision`, so all the gas given to it is consumed. Creations that revm itself
//! refuses earlier (call depth, insufficient balance, nonce overflow) or that collide by code or
//! nonce are left to revm.
//!
//! Whether the target has storage is read from the block's state: revm's cache for accounts the
//! block has already destroyed or created (their storage is fully known there), otherwise the
//! storage root of the parent state. A code-less account's storage cannot change during a
//! transaction, so the state at the start of the transaction decides.

use alloy_primitives::Address;
use alloy_trie::EMPTY_ROOT_HASH;
use revm::{
    context::{BlockEnv, CfgEnv, Context, TxEnv},
    context_interface::{journaled_state::account::JournaledAccountTr, JournalTr},
    database::State,
    database_interface::{bal::EvmDatabaseError, WrapDatabaseRef},
    interpreter::{CreateInputs, CreateOutcome, Gas, InstructionResult, InterpreterResult},
    primitives::{Bytes, KECCAK_EMPTY},
    Inspector,
};

use crate::{
    db::DbError,
    state::{StateError, StateView},
};

/// The revm database execution runs on: the block's cache over the parent state.
pub(crate) type BlockState = State<WrapDatabaseRef<StateView>>;

/// The EVM context of block execution.
pub(crate) type BlockEvmContext<'a> = Context<BlockEnv, TxEnv, CfgEnv, &'a mut BlockState>;

/// Deepest call stack revm allows (its own check runs when the guard stands aside).
const CALL_STACK_LIMIT: usize = revm::primitives::CALL_STACK_LIMIT as usize;

/// A state read that failed inside the collision check.
#[derive(Debug, thiserror::Error)]
pub enum CollisionCheckError {
    /// The parent state could not be read.
    #[error("collision check: {0}")]
    Db(#[from] DbError),
    /// revm's block state could not load an account.
    #[error("collision check: {0}")]
    Load(String),
}

impl From<EvmDatabaseError<StateError>> for CollisionCheckError {
    fn from(e: EvmDatabaseError<StateError>) -> Self {
        match e {
            EvmDatabaseError::Database(StateError(db)) => Self::Db(db),
            other => Self::Load(other.to_string()),
        }
    }
}

/// The EIP-7610 storage collision check, as a revm inspector (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct StorageCollisionGuard {
    /// A state read that failed inside the hook; the block cannot be executed.
    error: Option<CollisionCheckError>,
}

impl StorageCollisionGuard {
    /// The state read error met by the hook, if any (the block's execution must fail with it).
    pub(crate) fn take_error(&mut self) -> Option<CollisionCheckError> {
        self.error.take()
    }
}

/// Whether `address` has non-empty storage in `state` (see the module docs).
pub(crate) fn has_storage(state: &BlockState, address: &Address) -> Result<bool, DbError> {
    if let Some(cached) = state.cache.accounts.get(address) {
        if cached.status.is_storage_known() {
            return Ok(cached
                .account
                .as_ref()
                .is_some_and(|a| a.storage.values().any(|v| !v.is_zero())));
        }
    }
    Ok(state
        .database
        .0
        .account(address)?
        .is_some_and(|a| a.storage_root != EMPTY_ROOT_HASH))
}

impl StorageCollisionGuard {
    /// `Some(outcome)` when the creation collides by storage alone.
    fn check(
        &mut self,
        ctx: &mut BlockEvmContext<'_>,
        inputs: &CreateInputs,
    ) -> Result<Option<CreateOutcome>, CollisionCheckError> {
        let journal = &mut ctx.journaled_state;
        if journal.depth() > CALL_STACK_LIMIT {
            return Ok(None);
        }
        let caller = inputs.caller();
        let creator = journal.load_account(caller)?;
        let nonce = creator.data.info.nonce;
        if creator.data.info.balance < inputs.value() || nonce == u64::MAX {
            return Ok(None);
        }
        let target = inputs.created_address(nonce);
        // Loading makes the target warm, as revm's own collision check does.
        let account = journal.load_account(target)?;
        if account.data.info.code_hash != KECCAK_EMPTY || account.data.info.nonce != 0 {
            return Ok(None);
        }
        if !has_storage(journal.db(), &target)? {
            return Ok(None);
        }
        // The creator's nonce goes up before the collision is found, as in revm.
        let mut creator = journal.load_account_mut(caller)?;
        if !creator.data.bump_nonce() {
            return Ok(None);
        }
        Ok(Some(CreateOutcome {
            result: InterpreterResult {
                result: InstructionResult::CreateCollision,
                gas: Gas::new_with_regular_gas_and_reservoir(
                    inputs.gas_limit(),
                    inputs.reservoir(),
                ),
                output: Bytes::new(),
            },
            address: None,
            charged_create_state_gas: inputs.charged_create_state_gas(),
        }))
    }
}

impl<'a> Inspector<BlockEvmContext<'a>> for StorageCollisionGuard {
    fn create(
        &mut self,
        ctx: &mut BlockEvmContext<'a>,
        inputs: &mut CreateInputs,
    ) -> Option<CreateOutcome> {
        match self.check(ctx, inputs) {
            Ok(outcome) => outcome,
            Err(e) => {
                // Left to revm, which meets the same failing read; the block fails with it.
                self.error.get_or_insert(e);
                None
            }
        }
    }
}
