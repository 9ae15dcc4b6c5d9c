//! A read cache for RPC executions on the head state.
//!
//! `eth_call`-style traffic reads the same few accounts, slots and contracts over and over.
//! [`HeadCache`] keeps what executions on the canonical head read, labelled with the head's
//! hash; the first execution on a new head starts it afresh. Analysed contract code is kept
//! across heads (it is addressed by its hash).
//!
//! A value is stored only if the cache still carries the label of the head the reading
//! execution resolved, so a slow execution that began on an older head cannot leave its
//! values behind for the new one.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, B256, U256};
use parking_lot::RwLock;
use revm::{bytecode::Bytecode, database_interface::DatabaseRef, state::AccountInfo};

use crate::state::{StateError, StateView};

/// Entries kept before the head cache starts over.
const MAX_ENTRIES: usize = 200_000;
/// Contracts kept before the code cache starts over.
const MAX_CODE: usize = 4_096;

#[derive(Debug, Default)]
struct Head {
    label: B256,
    accounts: HashMap<Address, Option<AccountInfo>>,
    storage: HashMap<(Address, U256), U256>,
}

/// Cached reads of the head state and analysed code.
#[derive(Debug, Default)]
pub(crate) struct HeadCache {
    head: RwLock<Head>,
    code: RwLock<HashMap<B256, Bytecode>>,
}

impl HeadCache {
    /// A cached view of `view`, which must be the state of the head `head`.
    pub(crate) fn view(self: &Arc<Self>, view: StateView, head: B256) -> CachedView {
        {
            let mut h = self.head.write();
            if h.label != head {
                h.label = head;
                h.accounts.clear();
                h.storage.clear();
            }
        }
        CachedView {
            view,
            cache: Some((self.clone(), head)),
        }
    }

    fn store(&self, head: B256, f: impl FnOnce(&mut Head)) {
        let mut h = self.head.write();
        if h.label == head {
            if h.accounts.len() + h.storage.len() >= MAX_ENTRIES {
                h.accounts.clear();
                h.storage.clear();
            }
            f(&mut h);
        }
    }
}

/// A [`StateView`] with reads served from a [`HeadCache`] when it is the head's.
#[derive(Debug, Clone)]
pub struct CachedView {
    view: StateView,
    cache: Option<(Arc<HeadCache>, B256)>,
}

impl CachedView {
    /// A view without caching (for states other than the head).
    pub fn uncached(view: StateView) -> Self {
        Self { view, cache: None }
    }

    /// The underlying view.
    pub fn inner(&self) -> &StateView {
        &self.view
    }
}

impl DatabaseRef for CachedView {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let Some((cache, head)) = &self.cache else {
            return self.view.basic_ref(address);
        };
        {
            let h = cache.head.read();
            if h.label == *head {
                if let Some(a) = h.accounts.get(&address) {
                    return Ok(a.clone());
                }
            }
        }
        let value = self.view.basic_ref(address)?;
        cache.store(*head, |h| {
            h.accounts.insert(address, value.clone());
        });
        Ok(value)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        let Some((cache, _)) = &self.cache else {
            return self.view.code_by_hash_ref(code_hash);
        };
        if let Some(code) = cache.code.read().get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.view.code_by_hash_ref(code_hash)?;
        let mut map = cache.code.write();
        if map.len() >= MAX_CODE {
            map.clear();
        }
        map.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let Some((cache, head)) = &self.cache else {
            return self.view.storage_ref(address, index);
        };
        {
            let h = cache.head.read();
            if h.label == *head {
                if let Some(v) = h.storage.get(&(address, index)) {
                    return Ok(*v);
                }
            }
        }
        let value = self.view.storage_ref(address, index)?;
        cache.store(*head, |h| {
            h.storage.insert((address, index), value);
        });
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.view.block_hash_ref(number)
    }
}
