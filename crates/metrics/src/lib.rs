//! The node's Prometheus metrics.
//!
//! Every crate records through the `metrics` facade (`counter!`, `gauge!`, `histogram!`,
//! re-exported here) with a name from [`catalog`], the one list of what the node exports.
//! The binary installs the Prometheus recorder once ([`install`]) and serves its text on the
//! metrics port with [`MetricsServer`], a small HTTP server with a connection cap and read
//! timeouts. Without an installed recorder, recording does nothing; it never blocks or panics.

pub mod catalog;
mod labels;
mod recorder;
mod server;

pub use labels::known_or_other;
pub use metrics::{counter, gauge, histogram, Counter};
pub use recorder::{install, InstallError, MetricsHandle};
pub use server::{MetricsServer, ServerLimits};
