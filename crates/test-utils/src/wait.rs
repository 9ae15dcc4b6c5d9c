//! Waiting for a condition observed from outside the process (a child's RPC, a file), with a
//! deadline and a failure message that says what was awaited.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
pub const POLL: Duration = Duration::from_millis(100);

/// Checks `check` every [`POLL`] until it returns `Some`; panics after `timeout` with `what`
/// and `context()` (e.g. a node's log tail).
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    check: impl FnMut() -> Option<T>,
    context: impl FnOnce() -> String,
) -> T {
    wait_until_every(POLL, timeout, what, check, context)
}

/// [`wait_until`] checking every `poll` (benches that time what they wait for).
pub fn wait_until_every<T>(
    poll: Duration,
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(poll);
    }
}

/// [`wait_until`] for an asynchronous check.
pub async fn wait_until_async<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Stands in for a service that is down at `addr`: accepts and at once drops connections until
/// `attempts` were made (so a client has tried, and failed, to reach the service), then frees
/// the address for the service to come back on. Panics after `timeout`.
pub async fn refuse_connections(addr: std::net::SocketAddr, attempts: usize, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            // The stopped service's socket may take a moment to be released.
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("binding {addr} again: {e}");
                tokio::time::sleep(POLL).await;
            }
            Err(e) => panic!("cannot hold {addr} while its service is down: {e}"),
        }
    };
    for _ in 0..attempts {
        let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
        let (stream, _) = accepted
            .unwrap_or_else(|_| panic!("timed out after {timeout:?}: no client tried {addr}"))
            .unwrap_or_else(|e| panic!("accept on {addr}: {e}"));
        drop(stream);
    }
}
