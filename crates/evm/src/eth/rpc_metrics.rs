//! Counts the eth JSON-RPC calls in `alys_eth_rpc_requests_total` by method and status: a
//! jsonrpsee RPC middleware. The method label is the method's name when the module serves it,
//! else `other`, so clients cannot grow the number of series. Calls inside a batch are counted
//! with status `batch` (their outcomes leave in one response). The counters of every served
//! method are registered when the server starts, so a call costs a map lookup and an atomic
//! add, with no allocation.

use std::{collections::HashMap, future::Future, sync::Arc};

use alys_metrics::{catalog as m, counter, Counter};
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, Request, RpcServiceT,
};

/// The counters of one method label.
#[derive(Clone)]
struct MethodCounters {
    ok: Counter,
    error: Counter,
    batch: Counter,
}

impl MethodCounters {
    fn new(method: &'static str) -> Self {
        let c = |status: &'static str| counter!(m::ETH_RPC_REQUESTS, "method" => method, "status" => status);
        Self {
            ok: c("ok"),
            error: c("error"),
            batch: c("batch"),
        }
    }
}

/// The counters of every served method and of `other`.
pub(crate) struct RpcCounters {
    served: HashMap<&'static str, MethodCounters>,
    other: MethodCounters,
}

impl RpcCounters {
    /// Registers the counters of `served` methods (the module's method names) and `other`.
    pub(crate) fn new(served: impl IntoIterator<Item = &'static str>) -> Self {
        Self {
            served: served
                .into_iter()
                .map(|name| (name, MethodCounters::new(name)))
                .collect(),
            other: MethodCounters::new("other"),
        }
    }

    fn of(&self, method: &str) -> &MethodCounters {
        self.served.get(method).unwrap_or(&self.other)
    }
}

/// The middleware around the server's RPC service.
#[derive(Clone)]
pub(crate) struct RpcMetrics<S> {
    service: S,
    counters: Arc<RpcCounters>,
}

impl<S> RpcMetrics<S> {
    /// Wraps `service`.
    pub(crate) fn new(service: S, counters: Arc<RpcCounters>) -> Self {
        Self { service, counters }
    }
}

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let counters = self.counters.of(request.method_name()).clone();
        async move {
            let response = service.call(request).await;
            match response.is_error() {
                true => counters.error.increment(1),
                false => counters.ok.increment(1),
            }
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        for entry in batch.iter() {
            match entry {
                Ok(BatchEntry::Call(r)) => self.counters.of(r.method_name()).batch.increment(1),
                Ok(BatchEntry::Notification(n)) => {
                    self.counters.of(n.method_name()).batch.increment(1)
                }
                Err(_) => self.counters.other.error.increment(1),
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.counters.of(n.method_name()).ok.increment(1);
        self.service.notification(n)
    }
}
