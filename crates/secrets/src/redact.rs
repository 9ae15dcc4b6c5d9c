//! URLs shown without credentials.
//!
//! A Bitcoin Core or execution-client URL may carry credentials: `user:password@` userinfo, or
//! an API key in the query or in the path of a hosted endpoint. [`redact_url`] keeps what an
//! operator needs to recognise the endpoint (scheme, host, port) and replaces the rest:
//! userinfo becomes `***@`, a non-root path `/***`, a query `?***`, a fragment is dropped. Text
//! that does not parse as a URL is shown as `<unparsable URL>`: it could be anything,
//! including a credential.
//!
//! [`RedactedUrl`] holds a URL whose `Display` and `Debug` are the redacted form, so passing it
//! to `tracing`, `format!` or an error message cannot leak the secret parts; the full URL is
//! only available through [`RedactedUrl::expose`].

/// The URL `text` without its secret parts (see the module docs).
pub fn redact_url(text: &str) -> String {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return "<unparsable URL>".into();
    };
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("***@");
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    if !matches!(url.path(), "" | "/") {
        out.push_str("/***");
    }
    if url.query().is_some() {
        out.push_str("?***");
    }
    out
}

/// A URL that displays only its redacted form ([`redact_url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// Wraps `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The full URL, credentials included: only for connecting, never for display.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedactedUrl({})", redact_url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_paths_and_queries_are_hidden() {
        let cases = [
            ("http://127.0.0.1:18443", "http://127.0.0.1:18443"),
            ("http://127.0.0.1:18443/", "http://127.0.0.1:18443"),
            ("http://user:hunter2@node:8332", "http://***@node:8332"),
            ("http://:hunter2@node", "http://***@node"),
            ("http://user@node", "http://***@node"),
            ("https://host/v1/hunter2", "https://host/***"),
            (
                "http://host:1/wallet/w?apikey=hunter2",
                "http://host:1/***?***",
            ),
            ("http://host#hunter2", "http://host"),
            ("hunter2", "<unparsable URL>"),
            ("", "<unparsable URL>"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_url(input), expected, "{input}");
        }
    }

    #[test]
    fn display_and_debug_never_show_the_secret() {
        let url = RedactedUrl::new("http://alice:hunter2@10.0.0.1:8332/wallet/x?k=hunter2");
        for shown in [format!("{url}"), format!("{url:?}"), format!("{url:#?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("alice"), "{shown}");
            assert!(shown.contains("10.0.0.1:8332"), "{shown}");
        }
        assert!(url.expose().contains("hunter2"));
    }
}
