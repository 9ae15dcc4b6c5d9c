//! Label values from outside input, mapped onto a bounded set.

/// The label value for `name`: `name` itself when `known` accepts it (a name from one of the
/// node's own tables), else `"other"`, so a client cannot grow the number of series.
pub fn known_or_other(name: &str, known: impl FnOnce(&str) -> bool) -> &str {
    if known(name) {
        name
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::known_or_other;

    #[test]
    fn unknown_names_become_other() {
        let table = ["eth_call", "eth_chainId"];
        assert_eq!(
            known_or_other("eth_call", |n| table.contains(&n)),
            "eth_call"
        );
        assert_eq!(
            known_or_other("eth_x\u{1}", |n| table.contains(&n)),
            "other"
        );
    }
}
