//! Reading one webhook body under the receiver's bounds: the size cap, the byte budget shared by
//! every connection, the read deadline, and the signature, hashed as the body streams in. It
//! decides why a body was not read; the receiver chooses the answer.
//!
//! Memory: each request may hold its first [`FREE_BYTES`] without asking (so small webhooks, which
//! is what Meta sends, never wait behind large ones); every byte of buffer beyond that is taken
//! from one [`Budget`] shared by all connections before it is allocated, and given back when the
//! request ends. A request that cannot get its bytes within [`BUDGET_WAIT`] is refused (503: the
//! sender retries). So the bodies in memory stay under `connections × FREE_BYTES + budget` (plus
//! each connection's read buffer, capped by the receiver), whatever clients send.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::signature::{Check, SignatureError};

/// Bytes of each body held without taking from the budget.
pub const FREE_BYTES: usize = 8 * 1024;
/// How long a body waits for bytes from the budget before it is refused.
pub const BUDGET_WAIT: Duration = Duration::from_secs(1);

/// Bytes of body buffer shared by every connection.
#[derive(Debug, Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl Budget {
    /// A budget of `total` bytes (at most `u32::MAX`).
    pub fn new(total: usize) -> Budget {
        let total = total.min(u32::MAX as usize);
        Budget { bytes: Arc::new(Semaphore::new(total)), total }
    }

    /// Bytes not taken now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    async fn take(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        if n > self.total {
            return None;
        }
        let n = u32::try_from(n).ok()?;
        tokio::time::timeout(BUDGET_WAIT, self.bytes.clone().acquire_many_owned(n)).await.ok()?.ok()
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Longer than the cap.
    TooLarge,
    /// The shared budget had no room for it in time.
    Budget,
    /// Not finished before the deadline.
    Timeout,
    /// The client's stream failed (reset, bad chunked framing).
    Broken,
    /// Read to the end; its signature does not match.
    Signature(SignatureError),
}

/// A body read to the end (and its signature matched); its budget is given back when dropped.
#[derive(Debug)]
pub struct Held {
    pub bytes: Vec<u8>,
    _taken: Option<OwnedSemaphorePermit>,
}

/// Reads `body` (declared `declared` bytes long, if it said) up to `max` bytes, by `deadline`,
/// hashing each piece into `check` when given.
pub async fn read<B>(
    mut body: B,
    declared: Option<usize>,
    max: usize,
    mut check: Option<Check>,
    budget: &Budget,
    deadline: Instant,
) -> Result<Held, Refused>
where
    B: Body<Data = Bytes> + Unpin,
{
    // The most the buffer will need: the declared length, or the cap.
    let limit = declared.unwrap_or(max).min(max);
    let mut buf: Vec<u8> = Vec::with_capacity(limit.min(FREE_BYTES));
    let mut taken: Option<OwnedSemaphorePermit> = None;
    let mut charged = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(Refused::Timeout),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Refused::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        let need = buf.len() + data.len();
        if need > max {
            return Err(Refused::TooLarge);
        }
        if need > buf.capacity() {
            // A declared length is allocated at once (growing by doubling would touch about twice
            // the memory, in copies the allocator keeps); a chunked body grows by doubling.
            let grown = match declared {
                Some(_) => limit.max(need),
                None => need.max(buf.capacity().saturating_mul(2).min(max)),
            };
            let charge = grown.saturating_sub(FREE_BYTES).saturating_sub(charged);
            if charge > 0 {
                let more = budget.take(charge).await.ok_or(Refused::Budget)?;
                charged += charge;
                match taken.as_mut() {
                    Some(t) => t.merge(more),
                    None => taken = Some(more),
                }
            }
            buf.reserve_exact(grown - buf.len());
        }
        if let Some(c) = check.as_mut() {
            c.update(&data);
        }
        buf.extend_from_slice(&data);
    }
    if let Some(c) = check {
        c.finish().map_err(Refused::Signature)?;
    }
    Ok(Held { bytes: buf, _taken: taken })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;

    /// `n` pieces of `size` bytes.
    struct Pieces(usize, usize);
    impl Body for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(None);
            }
            self.0 -= 1;
            std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.1])))))
        }
    }
    fn pieces(n: usize, size: usize) -> Pieces {
        Pieces(n, size)
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn small_bodies_take_nothing_from_the_budget() {
        let budget = Budget::new(0);
        let held =
            read(Full::new(Bytes::from(vec![b'a'; FREE_BYTES])), Some(FREE_BYTES), 1 << 20, None, &budget, far())
                .await
                .unwrap();
        assert_eq!(held.bytes.len(), FREE_BYTES);
    }

    #[tokio::test]
    async fn larger_bodies_take_their_bytes_and_give_them_back() {
        let budget = Budget::new(256 * 1024);
        let held = read(pieces(100, 1000), None, 1 << 20, None, &budget, far()).await.unwrap();
        assert_eq!(held.bytes.len(), 100_000);
        let taken = 256 * 1024 - budget.available();
        assert!(taken >= 100_000 - FREE_BYTES && taken <= held.bytes.capacity(), "{taken}");
        drop(held);
        assert_eq!(budget.available(), 256 * 1024);
    }

    #[tokio::test]
    async fn a_body_that_does_not_fit_the_budget_is_refused_after_a_short_wait() {
        let budget = Budget::new(64 * 1024);
        let first = read(pieces(70, 1000), Some(70_000), 1 << 20, None, &budget, far()).await.unwrap();
        let second = read(pieces(70, 1000), Some(70_000), 1 << 20, None, &budget, far()).await;
        assert_eq!(second.unwrap_err(), Refused::Budget);
        drop(first);
        assert!(read(pieces(70, 1000), Some(70_000), 1 << 20, None, &budget, far()).await.is_ok());
        assert_eq!(read(pieces(3, 1000), None, 2500, None, &budget, far()).await.unwrap_err(), Refused::TooLarge);
    }
}
