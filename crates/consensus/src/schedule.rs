//! The proposer schedule (Aura round robin): the proposer of slot `s` is
//! `authorities[s % n]`.

/// Index of the proposer of `slot` among `n_authorities` (0 if there are none; a validated
/// spec always has at least one).
pub fn proposer_index(slot: u64, n_authorities: usize) -> usize {
    if n_authorities == 0 {
        return 0;
    }
    (slot % n_authorities as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin() {
        let got: Vec<_> = (0..7).map(|s| proposer_index(s, 3)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(proposer_index(u64::MAX, 1), 0);
        assert_eq!(proposer_index(5, 0), 0);
    }
}
