//! A request body that must arrive completely before a deadline.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The body did not arrive completely in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body not received within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// Error of a [`DeadlineBody`]: the deadline passed, or the inner body failed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps a request body; reading fails with [`BodyTimeout`] once the deadline set at its
/// creation has passed before the body's end. The timer is armed only when a read has to wait
/// (a small body that came with its headers never needs one).
#[derive(Debug)]
pub struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    started: Instant,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, which must be read completely within `timeout` from now.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            started: Instant::now(),
            deadline: None,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let (started, timeout) = (this.started, this.timeout);
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(started + timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout(this.timeout).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    use super::*;

    /// A body whose first frame never comes.
    struct Never;

    impl Body for Never {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_that_never_ends_fails_at_the_deadline() {
        let body = DeadlineBody::new(Never, Duration::from_millis(200));
        let error = body.collect().await.unwrap_err();
        assert_eq!(
            error.downcast_ref::<BodyTimeout>(),
            Some(&BodyTimeout(Duration::from_millis(200)))
        );
    }

    #[tokio::test]
    async fn a_complete_body_is_read() {
        let body = DeadlineBody::new(
            Full::new(Bytes::from_static(b"{}")),
            Duration::from_millis(200),
        );
        assert_eq!(body.collect().await.unwrap().to_bytes(), &b"{}"[..]);
    }
}
