//! The storage engines behind [`KVStore`](crate::KVStore), one module each; the platform choice
//! is made here, at the `mod` lines.

pub mod memory;

#[cfg(not(target_arch = "wasm32"))]
#[cfg_attr(unix, path = "private/unix.rs")]
#[cfg_attr(not(unix), path = "private/other.rs")]
mod private;
#[cfg(not(target_arch = "wasm32"))]
pub mod redb;
#[cfg(not(target_arch = "wasm32"))]
pub mod sled;

#[cfg(target_arch = "wasm32")]
pub mod indexeddb;

/// Where a native file backend runs the part of a write that waits on the disk (`fsync`).
///
/// Measured with `scripts/bench.sh` (see the crate README): offloading costs one thread
/// hand-off, about 15–20 µs per durable write; a durable write itself costs 0.1–0.2 ms.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Blocking {
    /// On the `blocking` crate's thread pool, awaited: no executor thread ever waits on the disk,
    /// whatever the runtime. The right choice for servers and UIs.
    #[default]
    Offload,
    /// On the calling task's thread: no hand-off, but the executor thread is blocked for the
    /// `fsync`. For CLIs and single-task programs.
    Inline,
}

#[cfg(not(target_arch = "wasm32"))]
impl Blocking {
    pub(crate) async fn run<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Blocking::Offload => blocking::unblock(f).await,
            Blocking::Inline => f(),
        }
    }
}
