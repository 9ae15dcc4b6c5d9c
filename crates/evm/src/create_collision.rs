//! EIP-7610: a contract creation collides with an account that has non-empty storage.
//!
//! revm checks the EIP-684 collision (the target has code or a nonzero nonce) but not storage,
//! which its `Database` trait cannot ask about. An account with storage, no code and nonce 0
//! cannot arise from execution after EIP-161 (a created account starts at nonce 1, only code
//! writes storage, and code-less accounts cannot be destroyed), but a genesis alloc can hold
//! one, so on this chain a `CREATE`, `CREATE2` or creation transaction can target it. The set
//! of such accounts is therefore fixed by the genesis: [`StorageOnlyAccounts`].
//!
//! [`StorageCollisionGuard`] is an inspector whose `create` hook runs before every creation
//! frame (top-level and nested). When the target is one of those accounts and still has no
//! code and nonce 0, it answers the creation exactly as revm answers an EIP-684 collision: the
//! creator's nonce is incremented, the target is warm, nothing else changes, and the frame
//! halts with `CreateCollision`, so all the gas given to it is consumed. Creations that revm
//! itself refuses earlier (call depth, insufficient balance, nonce overflow) or that collide by
//! code or nonce are left to revm.
//!
//! A chain whose genesis has no such account (every public chain) needs no guard: execution
//! then runs without the inspector and pays nothing for it ([`StorageOnlyAccounts::is_empty`]).

use std::{collections::HashSet, sync::Arc};

use alloy_genesis::GenesisAccount;
use alloy_primitives::Address;
use revm::{
    context_interface::{journaled_state::account::JournaledAccountTr, ContextTr, JournalTr},
    interpreter::{CreateInputs, CreateOutcome, Gas, InstructionResult, InterpreterResult},
    primitives::{Bytes, KECCAK_EMPTY},
    Inspector,
};

/// Deepest call stack revm allows (its own check runs when the guard stands aside).
const CALL_STACK_LIMIT: usize = revm::primitives::CALL_STACK_LIMIT as usize;

/// A state read that failed inside the collision check: the execution must fail with it.
#[derive(Debug, thiserror::Error)]
#[error("EIP-7610 collision check could not read state: {0}")]
pub struct CollisionCheckError(Box<dyn std::error::Error + Send + Sync>);

/// The accounts a genesis alloc holds with non-empty storage, no code and nonce 0: the only
/// targets at which a creation can collide by storage alone.
#[derive(Debug, Clone, Default)]
pub struct StorageOnlyAccounts(Arc<HashSet<Address>>);

impl StorageOnlyAccounts {
    /// The storage-only accounts of a genesis alloc (or of a test's pre-state).
    pub fn from_alloc<'a>(
        alloc: impl IntoIterator<Item = (&'a Address, &'a GenesisAccount)>,
    ) -> Self {
        let set = alloc
            .into_iter()
            .filter(|(_, account)| {
                account.code.as_ref().is_none_or(|code| code.is_empty())
                    && account.nonce.unwrap_or(0) == 0
                    && account
                        .storage
                        .as_ref()
                        .is_some_and(|slots| slots.values().any(|v| !v.is_zero()))
            })
            .map(|(address, _)| *address)
            .collect();
        Self(Arc::new(set))
    }

    /// The storage-only accounts given by address.
    pub fn from_addresses(addresses: impl IntoIterator<Item = Address>) -> Self {
        Self(Arc::new(addresses.into_iter().collect()))
    }

    /// No such account: creations can only collide as revm already checks.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `address` is one of them.
    pub fn contains(&self, address: &Address) -> bool {
        self.0.contains(address)
    }
}

/// The EIP-7610 storage collision check, as a revm inspector (see the module docs).
#[derive(Debug, Default)]
pub struct StorageCollisionGuard {
    targets: StorageOnlyAccounts,
    /// A state read that failed inside the hook.
    error: Option<CollisionCheckError>,
}

impl StorageCollisionGuard {
    /// A guard refusing creations at `targets`.
    pub fn new(targets: StorageOnlyAccounts) -> Self {
        Self {
            targets,
            error: None,
        }
    }

    /// Whether the guard can ever act; an EVM need not run its inspector otherwise.
    pub fn is_active(&self) -> bool {
        !self.targets.is_empty()
    }

    /// The state read error met by the hook, if any (the execution must fail with it).
    pub fn take_error(&mut self) -> Option<CollisionCheckError> {
        self.error.take()
    }

    /// `Some(outcome)` when the creation collides by storage alone.
    fn check<CTX: ContextTr>(
        &self,
        ctx: &mut CTX,
        inputs: &CreateInputs,
    ) -> Result<Option<CreateOutcome>, CollisionCheckError> {
        let read = |e: <CTX::Db as revm::Database>::Error| CollisionCheckError(Box::new(e));
        let journal = ctx.journal_mut();
        if journal.depth() > CALL_STACK_LIMIT {
            return Ok(None);
        }
        let caller = inputs.caller();
        let creator = journal.load_account(caller).map_err(read)?;
        let nonce = creator.data.info.nonce;
        if creator.data.info.balance < inputs.value() || nonce == u64::MAX {
            return Ok(None);
        }
        let target = inputs.created_address(nonce);
        if !self.targets.contains(&target) {
            return Ok(None);
        }
        // Loading makes the target warm, as revm's own collision check does.
        let account = journal.load_account(target).map_err(read)?;
        if account.data.info.code_hash != KECCAK_EMPTY || account.data.info.nonce != 0 {
            return Ok(None);
        }
        // The creator's nonce goes up before the collision is found, as in revm.
        let mut creator = journal.load_account_mut(caller).map_err(read)?;
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

impl<CTX: ContextTr> Inspector<CTX> for StorageCollisionGuard {
    fn create(&mut self, ctx: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        match self.check(ctx, inputs) {
            Ok(outcome) => outcome,
            Err(e) => {
                // Left to revm, which meets the same failing read; the execution fails with it.
                self.error.get_or_insert(e);
                None
            }
        }
    }
}
