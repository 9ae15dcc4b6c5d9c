//! Subscription and polling-filter ids, as Geth prints them: `0x` and 32 random hex digits.
//! One [`IdProvider`] serves the server's `eth_subscribe` and the polling filters alike.

use alloy_primitives::B128;
use jsonrpsee::{server::IdProvider, types::SubscriptionId};

/// Random 128-bit ids in Geth's `0x…` form.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(B128::random().to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_geth_hex_and_distinct() {
        let (SubscriptionId::Str(a), SubscriptionId::Str(b)) =
            (HexIdProvider.next_id(), HexIdProvider.next_id())
        else {
            panic!("string ids expected")
        };
        assert_eq!(a.len(), 34, "{a}");
        assert!(a.starts_with("0x") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
