//! JWT authentication of the Engine API port (HS256, `iat` within ±60 s), as a tower layer in
//! front of the JSON-RPC server: requests without a valid bearer token get HTTP 401.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use alloy::rpc::types::engine::JwtSecret;
use http::{header::AUTHORIZATION, Response, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::Service;

/// Tower layer answering HTTP 401 to requests without a valid `Authorization: Bearer <jwt>`.
pub(crate) fn jwt_auth_layer<S>(
    secret: JwtSecret,
) -> tower::layer::LayerFn<impl Fn(S) -> JwtAuth<S> + Clone> {
    tower::layer::layer_fn(move |inner| JwtAuth { inner, secret })
}

/// The service produced by [`jwt_auth_layer`].
#[derive(Clone, Debug)]
pub(crate) struct JwtAuth<S> {
    inner: S,
    secret: JwtSecret,
}

/// Checks a request's bearer token; the error is the reason for a 401.
pub(crate) fn check_token(
    secret: &JwtSecret,
    header: Option<&http::HeaderValue>,
) -> Result<(), String> {
    let value = header.ok_or("missing Authorization header")?;
    let value = value
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or("Authorization header is not a bearer token")?;
    secret.validate(token).map_err(|e| e.to_string())
}

fn unauthorized(reason: String) -> HttpResponse {
    let body = format!(
        "{{\"error\":\"unauthorized: {}\"}}",
        reason.replace('"', "'")
    );
    let mut response = Response::new(HttpBody::from(body));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

impl<S, B> Service<HttpRequest<B>> for JwtAuth<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        match check_token(&self.secret, request.headers().get(AUTHORIZATION)) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(reason) => Box::pin(async move { Ok(unauthorized(reason)) }),
        }
    }
}
