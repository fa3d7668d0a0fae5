//! A connection stays "busy" (not shed at the connection cap) until its
//! answer to an authenticated request is on the wire: the answer's body
//! marks the connection draining when hyper drops it, and the stream's next
//! completed flush ends the work.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::routes::RespBody;

/// When a connection's authenticated work ends: not when its route returns
/// but when the answer is on the wire, so a large answer still being sent
/// is never shed at the connection cap (see `Slots::admit`).
///
/// hyper drops an answer's body once it has buffered its last bytes, then
/// flushes: the body's drop marks the connection `draining`, and the next
/// completed flush of the connection's stream ends the work.
pub(crate) struct Drain {
    /// The slot's "doing authenticated work" mark.
    pub(crate) busy: Arc<AtomicBool>,
    /// The answer's body is buffered; the work ends at the next flush.
    pub(crate) draining: AtomicBool,
}

/// An answer's body that marks its connection `draining` when hyper drops
/// it.
pub(crate) struct Tracked {
    pub(crate) body: RespBody,
    pub(crate) drain: Arc<Drain>,
}

impl hyper::body::Body for Tracked {
    type Data = <RespBody as hyper::body::Body>::Data;
    type Error = <RespBody as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drain.draining.store(true, Ordering::Release);
    }
}

/// A connection's stream, watching its flushes for [`Drain`].
pub(crate) struct FlushWatch<I> {
    pub(crate) io: I,
    pub(crate) drain: Arc<Drain>,
}

impl<I: AsyncRead + Unpin> AsyncRead for FlushWatch<I> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FlushWatch<I> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let done = std::pin::Pin::new(&mut self.io).poll_flush(cx);
        // hyper flushes its stream only once its buffer is written into it.
        if matches!(done, std::task::Poll::Ready(Ok(())))
            && self.drain.draining.swap(false, Ordering::AcqRel)
        {
            self.drain.busy.store(false, Ordering::Release);
        }
        done
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
