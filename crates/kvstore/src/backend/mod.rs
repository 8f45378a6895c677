//! The storage engines behind [`KVStore`](crate::KVStore), one module each; the platform choice
//! is made here, at the `mod` lines.

pub mod memory;

#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub mod postgres;
#[cfg(all(
    any(feature = "sled", feature = "redb"),
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
#[cfg_attr(unix, path = "private/unix.rs")]
#[cfg_attr(not(unix), path = "private/other.rs")]
mod private;
#[cfg(any(
    all(
        feature = "redb",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
pub mod redb;

#[cfg(any(
    all(
        any(feature = "redb", feature = "sled"),
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
mod wal;

#[cfg(any(
    all(
        any(feature = "sled", feature = "redb"),
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
// In a browser worker the batch is collected (no thread to overlap with): only `Fed` and the
// type of the commit's feed are used there.
#[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
mod feed;

/// Runs `open` again while it fails with [`Error::Busy`](crate::Error::Busy), every 20 ms,
/// until `timeout` has passed since the first attempt (a builder's `busy_timeout`); returns
/// the first other outcome, or the last `Busy`.
#[cfg(all(
    any(feature = "sled", feature = "redb"),
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
fn open_waiting<T>(
    timeout: std::time::Duration,
    mut open: impl FnMut() -> crate::Result<T>,
) -> crate::Result<T> {
    let started = std::time::Instant::now();
    loop {
        match open() {
            Err(crate::Error::Busy(_)) if started.elapsed() < timeout => {
                let left = timeout.saturating_sub(started.elapsed());
                std::thread::sleep(left.min(std::time::Duration::from_millis(20)));
            }
            other => return other,
        }
    }
}

#[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
pub mod opfs;
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub mod sled;

#[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
pub mod indexeddb;

/// Where a native file backend runs the part of a write that waits on the disk (`fsync`).
///
/// Measured with `scripts/bench.sh` (see the crate README): offloading costs one thread
/// hand-off, about 15–20 µs per durable write; a durable write itself costs 0.1–0.2 ms.
///
/// The default is [`Blocking::Offload`], except on WASI, which has no threads: there
/// [`Blocking::Inline`]. In a browser (redb over OPFS, in a dedicated worker) both run inline:
/// a worker has no thread pool, and blocking it never blocks a page.
#[cfg(any(
    all(
        any(feature = "sled", feature = "redb"),
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Blocking {
    /// On the `blocking` crate's thread pool, awaited: no executor thread ever waits on the disk,
    /// whatever the runtime. The right choice for servers and UIs.
    #[cfg_attr(not(target_os = "wasi"), default)]
    Offload,
    /// On the calling task's thread: no hand-off, but the executor thread is blocked for the
    /// `fsync`. For CLIs and single-task programs.
    #[cfg_attr(target_os = "wasi", default)]
    Inline,
}

#[cfg(all(
    any(feature = "sled", feature = "redb"),
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
impl Blocking {
    pub(crate) async fn run<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Blocking::Offload => blocking::unblock(f).await,
            Blocking::Inline => f(),
        }
    }

    /// Runs `commit` on the operations `fill` sends. Offloaded, the commit starts on the
    /// pool with the first full chunk and applies the operations while `fill` still runs here
    /// (the two overlap); a batch smaller than a chunk, or any batch inline, is handed back
    /// whole ([`Fed::Whole`](feed::Fed::Whole)), to be applied like any batch.
    pub(crate) async fn stream<T: Send + 'static>(
        self,
        fill: &mut crate::BatchFill<'_>,
        commit: impl FnOnce(feed::Feed) -> crate::Result<T> + Send + 'static,
    ) -> crate::Result<feed::Fed<T>> {
        if self == Blocking::Inline {
            return feed::Fed::collect(fill);
        }
        let mut task = None;
        let filled = {
            let (outlet, feed) = feed::channel();
            let mut sink = outlet.sink(Box::new(|| {
                task = Some(blocking::unblock(move || commit(feed)));
            }));
            fill(&mut sink).and_then(|()| sink.end())
        };
        match (task, filled) {
            (None, Ok(Some(ops))) => Ok(feed::Fed::Whole(crate::Batch::from_ops(ops))),
            // The producer failed before the commit started.
            (None, Err(error)) => Err(error),
            (None, Ok(None)) => Err(crate::Error::backend(
                "kvstore",
                "a streamed batch ended without its commit",
            )),
            (Some(task), Ok(_)) => task.await.map(feed::Fed::Committed),
            // The producer failed: the commit's own error if it stopped first (the producer
            // then saw the sink fail), else the producer's.
            (Some(task), Err(error)) => match task.await {
                Err(stopped) if !matches!(stopped, crate::Error::Aborted(_)) => Err(stopped),
                _ => Err(error),
            },
        }
    }
}

#[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
impl Blocking {
    pub(crate) async fn run<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> T {
        f()
    }

    /// Collects what `fill` sends (a worker has no thread pool to overlap with).
    pub(crate) async fn stream<T>(
        self,
        fill: &mut crate::BatchFill<'_>,
        _commit: impl FnOnce(feed::Feed) -> crate::Result<T>,
    ) -> crate::Result<feed::Fed<T>> {
        feed::Fed::collect(fill)
    }
}
