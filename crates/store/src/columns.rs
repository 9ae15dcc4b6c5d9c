//! The registry of every column of the node's store: one place that says which part of the node
//! owns which prefix byte.
//!
//! A [`Column`] can only be made here (its byte is private to this crate), so every user of the
//! store takes its columns from the module of its owner ([`execution`], [`consensus`],
//! [`bitcoin`]). [`ALL`] lists every claim, and a constant assertion over it makes two claims of
//! the same byte a compile-time error.

use crate::Column;

/// One column claimed by one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Owner (the module of this registry that declares the column).
    pub owner: &'static str,
    /// The column's name in its owner's module.
    pub name: &'static str,
    /// The column.
    pub column: Column,
}

/// Declares the owners' modules, their columns, and [`ALL`], checked for duplicate bytes.
macro_rules! registry {
    ($(
        $(#[$owner_doc:meta])*
        $owner:ident {
            $( $(#[$doc:meta])* $name:ident = $byte:literal, )*
        }
    )*) => {
        $(
            $(#[$owner_doc])*
            pub mod $owner {
                use crate::Column;
                $( $(#[$doc])* pub const $name: Column = Column($byte); )*
            }
        )*

        /// Every column of the store, with its owner.
        pub const ALL: &[Claim] = &[
            $( $( Claim { owner: stringify!($owner), name: stringify!($name), column: $owner::$name }, )* )*
        ];
    };
}

registry! {
    /// Columns of the store itself.
    store {
        /// Schema versions: schema name → version (u32 BE).
        META = 0x00,
    }

    /// Columns of the execution client (`alys-evm`, 0x10–0x1f).
    execution {
        /// Flat accounts: address → RLP(TrieAccount).
        ACCOUNTS = 0x10,
        /// Flat storage: address ‖ slot → 32-byte big-endian value (zero values are absent).
        STORAGE = 0x11,
        /// Contract code: code hash → bytecode.
        CODE = 0x12,
        /// Trie nodes: keccak(node) → RLP(node).
        TRIE = 0x13,
        /// Headers: block hash → RLP(header).
        HEADERS = 0x14,
        /// Bodies: block hash → RLP(list of withdrawals); the transactions are in
        /// `TRANSACTIONS`.
        BODIES = 0x15,
        /// Receipts: block hash ‖ index (u32 BE) → RLP(receipt with its gas used and first
        /// log index).
        RECEIPTS = 0x16,
        /// Per-block state changes: block hash → RLP(BlockChanges).
        CHANGES = 0x17,
        /// Canonical chain: number (u64 BE) → block hash.
        CANONICAL = 0x18,
        /// Transaction lookup for canonical blocks: tx hash → block hash ‖ index (u32 BE).
        TX_LOOKUP = 0x19,
        /// Fork choice pointers: `head`, `safe`, `finalized` → block hash.
        POINTERS = 0x1a,
        /// Transactions: block hash ‖ index (u32 BE) → EIP-2718 encoding.
        TRANSACTIONS = 0x1b,
    }

    /// Columns of the consensus chain (`alys-consensus`, 0x20–0x2f).
    consensus {
        /// Blocks: block root → SSZ `SignedConsensusBlock`.
        BLOCKS = 0x20,
        /// Every imported block: height (u64 BE) ‖ root → empty.
        BY_HEIGHT = 0x21,
        /// Canonical chain: height (u64 BE) → root.
        CANONICAL = 0x22,
        /// Pointers: `genesis` / `head` / `finalized` → root.
        META = 0x23,
        /// Height of each stored block: root → height (u64 BE).
        HEIGHTS = 0x24,
        /// Merged-mining index of each stored block: root → `PowIndex`.
        POW = 0x28,
    }

    /// Columns of the Bitcoin follower and peg-in index (`alys-bitcoin`, 0x30–0x3f).
    bitcoin {
        /// The follower's cursor.
        FOLLOWER = 0x30,
        /// Peg-in status records: txid → JSON record.
        PEGIN_STATUS = 0x31,
        /// Outpoints minted up to the finalized block: txid ‖ vout (u32 BE) → minting root.
        MINTED = 0x32,
    }

    /// Columns of the peg-out ledger (`alys-federation`, 0x40–0x4f).
    peg {
        /// Burns recorded by each imported block: block root → encoded burns.
        BURNS = 0x40,
    }
}

/// Positions in `claims` of the first two claims of the same column byte, if any.
pub const fn first_duplicate(claims: &[Claim]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < claims.len() {
        let mut j = i + 1;
        while j < claims.len() {
            if claims[i].column.0 == claims[j].column.0 {
                return Some((i, j));
            }
            j += 1;
        }
        i += 1;
    }
    None
}

const _: () = assert!(
    first_duplicate(ALL).is_none(),
    "two store columns claim the same prefix byte"
);

/// The claim of `column`, if it is registered.
pub fn claim_of(column: Column) -> Option<&'static Claim> {
    ALL.iter().find(|c| c.column == column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_columns_are_unique() {
        assert_eq!(first_duplicate(ALL), None);
        assert_eq!(
            claim_of(execution::TRANSACTIONS).map(|c| c.owner),
            Some("execution")
        );
        assert_eq!(claim_of(consensus::META).map(|c| c.name), Some("META"));
    }

    #[test]
    fn a_second_claim_of_a_byte_is_found() {
        let claims = [
            Claim {
                owner: "execution",
                name: "HEADERS",
                column: execution::HEADERS,
            },
            Claim {
                owner: "consensus",
                name: "BLOCKS",
                column: consensus::BLOCKS,
            },
            Claim {
                owner: "bitcoin",
                name: "CLASH",
                column: Column(0x14),
            },
        ];
        assert_eq!(first_duplicate(&claims), Some((0, 2)));
        assert_eq!(first_duplicate(&claims[..2]), None);
    }
}
