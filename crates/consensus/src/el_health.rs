//! The execution client's health as consensus sees it: the last EL failure that stopped this
//! node producing or importing, named by the Engine API (or eth) method that failed, with what
//! an operator should check; published in [`crate::ChainStatus::el`] (RPC `getsyncstatus`).
//!
//! Logging: one `error` line when a failure starts or changes (another method or kind of error),
//! then at most one reminder every [`RELOG_INTERVAL`] while it lasts (the count of failed
//! attempts in between), and one `info` line when the method succeeds again. A failing EL is
//! retried every slot, so logging every attempt would flood the log.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alys_engine::{methods, EngineError};

use crate::import::ImportError;
use crate::producer::ProduceError;
use crate::validate::BlockError;

/// Least time between two log lines about the same ongoing failure.
pub const RELOG_INTERVAL: Duration = Duration::from_secs(60);

/// An ongoing execution-client failure.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ElProblem {
    /// The method that failed (`engine_forkchoiceUpdatedV3`, `eth_getBlockReceipts`, …).
    pub method: String,
    /// What went wrong (the error or the payload status).
    pub error: String,
    /// What to check or configure.
    pub hint: String,
    /// When it started (unix milliseconds).
    pub since_unix_ms: u64,
    /// Failed attempts since it started.
    pub failures: u64,
    /// Kind of failure (same method and kind = same problem).
    kind: String,
}

/// Tracks the ongoing EL failure and rate-limits its log lines.
#[derive(Debug, Default)]
pub struct ElHealth {
    problem: Option<ElProblem>,
    last_logged: Option<Instant>,
}

impl ElHealth {
    /// The ongoing failure, if any.
    pub fn problem(&self) -> Option<&ElProblem> {
        self.problem.as_ref()
    }

    /// Record a failed attempt of `what` (e.g. "block production") at `slot`.
    pub fn failed(&mut self, fault: ElFault, what: &str, slot: u64) {
        let now = Instant::now();
        match &mut self.problem {
            Some(p) if p.method == fault.method && p.kind == fault.kind => {
                p.failures = p.failures.saturating_add(1);
                let due = self
                    .last_logged
                    .is_none_or(|t| now.duration_since(t) >= RELOG_INTERVAL);
                if due {
                    self.last_logged = Some(now);
                    tracing::error!(
                        slot,
                        method = %p.method,
                        failures = p.failures,
                        error = %fault.error,
                        "{what} still failing: the execution client failed {} {} times since it started; {}",
                        p.method,
                        p.failures,
                        p.hint
                    );
                } else {
                    tracing::debug!(slot, method = %p.method, error = %fault.error, "{what} failed again");
                }
            }
            _ => {
                tracing::error!(
                    slot,
                    method = fault.method,
                    error = %fault.error,
                    "{what} stopped: the execution client failed {}: {}; {}",
                    fault.method,
                    fault.error,
                    fault.hint
                );
                self.last_logged = Some(now);
                self.problem = Some(ElProblem {
                    method: fault.method.to_owned(),
                    error: fault.error,
                    hint: fault.hint,
                    since_unix_ms: unix_ms(),
                    failures: 1,
                    kind: fault.kind,
                });
            }
        }
    }

    /// `succeeded` worked again: clears the failure if it was one of them.
    pub fn succeeded(&mut self, succeeded: &[&str], slot: u64) {
        if let Some(p) = &self.problem {
            if succeeded.contains(&p.method.as_str()) {
                tracing::info!(
                    slot,
                    method = %p.method,
                    failures = p.failures,
                    "execution client recovered: {} works again after {} failed attempts",
                    p.method,
                    p.failures
                );
                self.problem = None;
                self.last_logged = None;
            }
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// One failed interaction with the execution client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElFault {
    /// The method.
    pub method: &'static str,
    /// The error.
    pub error: String,
    /// What to check.
    pub hint: String,
    kind: String,
}

/// The methods a produced block went through (all succeeded when production succeeds).
pub const PRODUCTION_METHODS: &[&str] = &[
    methods::FORKCHOICE_UPDATED_V3,
    methods::GET_PAYLOAD_V3,
    methods::NEW_PAYLOAD_V3,
    methods::GET_BLOCK_RECEIPTS,
];

/// The methods an import of a block with transactions goes through.
pub const IMPORT_METHODS: &[&str] = &[methods::NEW_PAYLOAD_V3, methods::GET_BLOCK_RECEIPTS];

impl ElFault {
    fn call(method: &'static str, error: &EngineError) -> Self {
        let hint = match error {
            EngineError::MethodNotFound(_) if method.starts_with("eth_") => {
                "the Engine API port need not serve receipts: give `alys node` \
                 --execution-rpc-url with the execution client's eth JSON-RPC URL \
                 (see docs/execution-clients.md)"
                    .to_owned()
            }
            EngineError::MethodNotFound(_) | EngineError::UnsupportedFork(_) => {
                "the execution client must serve the Engine API V3 (Cancun) methods on \
                 --engine-url: check the URL and the client's version"
                    .to_owned()
            }
            EngineError::Timeout(_) => format!(
                "the execution client did not answer {method} in time: check it is running, \
                 not overloaded, and reachable at --engine-url / --execution-rpc-url"
            ),
            EngineError::Transport(_) | EngineError::HttpStatus(_) => {
                "cannot reach the execution client: check it is running and listening at \
                 --engine-url (and --execution-rpc-url for receipts)"
                    .to_owned()
            }
            EngineError::Unauthorized | EngineError::Jwt(_) => {
                "the execution client rejects our JWT: --jwt-secret must name the secret file \
                 the client uses, and both clocks must agree within 60 s"
                    .to_owned()
            }
            _ => "check the execution client's log".to_owned(),
        };
        let kind = match error.rpc_code() {
            Some(code) => format!("rpc {code}"),
            None => format!("{:?}", std::mem::discriminant(error)),
        };
        Self {
            method,
            error: error.to_string(),
            hint,
            kind,
        }
    }

    fn status(method: &'static str, status: &str) -> Self {
        Self {
            method,
            error: format!("answered {status}"),
            hint: "the execution client does not have the chain up to our head (it is syncing, \
                   or restarted behind): the node replays its blocks to it and production \
                   resumes when it answers VALID"
                .to_owned(),
            kind: status.to_owned(),
        }
    }

    fn invalid(reason: &str) -> Self {
        Self {
            method: methods::NEW_PAYLOAD_V3,
            error: format!("INVALID: {reason}"),
            hint: "the execution client rejects a payload it built or the federation approved: \
                   check it runs this chain's genesis (`alys chain export-genesis`) and a \
                   supported version"
                .to_owned(),
            kind: "INVALID".to_owned(),
        }
    }

    fn receipts(reason: &str) -> Self {
        Self {
            method: methods::GET_BLOCK_RECEIPTS,
            error: reason.to_owned(),
            hint: "the receipts do not match the block: --execution-rpc-url must be the eth \
                   JSON-RPC of the same execution client as --engine-url"
                .to_owned(),
            kind: "receipts".to_owned(),
        }
    }

    /// The EL failure behind a production error, if it is one.
    pub fn from_produce(error: &ProduceError) -> Option<Self> {
        match error {
            ProduceError::Engine { method, source } => Some(Self::call(method, source)),
            ProduceError::NoPayloadId(status) => {
                Some(Self::status(methods::FORKCHOICE_UPDATED_V3, status))
            }
            ProduceError::NotImportable(e) => Self::from_import(e),
            _ => None,
        }
    }

    /// The EL failure behind an import error, if it is one.
    pub fn from_import(error: &ImportError) -> Option<Self> {
        match error {
            ImportError::Engine { method, source } => Some(Self::call(method, source)),
            ImportError::Invalid(BlockError::ElNotValid { status }) => {
                Some(Self::status(methods::NEW_PAYLOAD_V3, status))
            }
            ImportError::Invalid(BlockError::ElInvalid { reason }) => Some(Self::invalid(reason)),
            ImportError::Receipts { reason, .. } => Some(Self::receipts(reason)),
            _ => None,
        }
    }

    /// The EL answered SYNCING (or ACCEPTED): it lacks our chain and needs our blocks.
    pub fn is_behind(&self) -> bool {
        self.kind == "SYNCING" || self.kind == "ACCEPTED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_failure_is_one_problem_and_recovery_clears_only_its_method() {
        let mut h = ElHealth::default();
        let fault = || {
            ElFault::call(
                methods::GET_BLOCK_RECEIPTS,
                &EngineError::MethodNotFound("x".into()),
            )
        };
        h.failed(fault(), "block production", 1);
        h.failed(fault(), "block production", 2);
        let p = h.problem().unwrap();
        assert_eq!(
            (p.method.as_str(), p.failures),
            (methods::GET_BLOCK_RECEIPTS, 2)
        );
        assert!(p.hint.contains("--execution-rpc-url"), "{}", p.hint);
        h.succeeded(&[methods::NEW_PAYLOAD_V3], 3);
        assert!(
            h.problem().is_some(),
            "another method's success does not clear it"
        );
        h.succeeded(PRODUCTION_METHODS, 4);
        assert!(h.problem().is_none());
    }

    #[test]
    fn another_kind_of_failure_starts_a_new_problem() {
        let mut h = ElHealth::default();
        h.failed(
            ElFault::call(
                methods::FORKCHOICE_UPDATED_V3,
                &EngineError::Timeout(Duration::from_secs(1)),
            ),
            "block production",
            1,
        );
        h.failed(
            ElFault::status(methods::FORKCHOICE_UPDATED_V3, "SYNCING"),
            "block production",
            2,
        );
        let p = h.problem().unwrap();
        assert_eq!(p.failures, 1);
        assert_eq!(p.error, "answered SYNCING");
    }
}
