//! Counts the eth JSON-RPC calls in `alys_eth_rpc_requests_total` by method and status: a
//! jsonrpsee RPC middleware. The method label is the method's name when the module serves it,
//! else `other`, so clients cannot grow the number of series. Calls inside a batch are counted
//! with status `batch` (their outcomes leave in one response).

use std::{collections::HashSet, future::Future, sync::Arc};

use alys_metrics::{catalog as m, counter, known_or_other};
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, Request, RpcServiceT,
};

/// The middleware around the server's RPC service.
#[derive(Clone)]
pub(crate) struct RpcMetrics<S> {
    service: S,
    served: Arc<HashSet<&'static str>>,
}

impl<S> RpcMetrics<S> {
    /// Wraps `service`; `served` are the module's method names.
    pub(crate) fn new(service: S, served: Arc<HashSet<&'static str>>) -> Self {
        Self { service, served }
    }
}

fn record(served: &HashSet<&'static str>, method: &str, status: &'static str) {
    let label = known_or_other(method, |m| served.contains(m)).to_string();
    counter!(m::ETH_RPC_REQUESTS, "method" => label, "status" => status).increment(1);
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
        let served = self.served.clone();
        async move {
            let method = request.method_name().to_string();
            let response = service.call(request).await;
            let status = if response.is_error() { "error" } else { "ok" };
            record(&served, &method, status);
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        for entry in batch.iter() {
            match entry {
                Ok(BatchEntry::Call(r)) => record(&self.served, r.method_name(), "batch"),
                Ok(BatchEntry::Notification(n)) => record(&self.served, n.method_name(), "batch"),
                Err(_) => record(&self.served, "", "error"),
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        record(&self.served, n.method_name(), "ok");
        self.service.notification(n)
    }
}
