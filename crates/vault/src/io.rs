//! Streams as `std::io` writers and readers (and, with the `futures-io` feature, as their async
//! counterparts): encrypt whatever is written to an [`EncryptingWriter`], decrypt whatever is
//! read from a [`DecryptingReader`], and move bytes between them with [`copy`], whose buffer is
//! wiped.
//!
//! ```
//! use kvstore::MemoryStore;
//! use vault::{KdfParams, Vault};
//!
//! # futures::executor::block_on(async {
//! let vault = Vault::with_kdf(MemoryStore::new(), KdfParams::INSECURE_FOR_TESTS)?;
//! let keyspace = vault.create_keyspace("files", "pw").await?;
//!
//! let mut writer = vault.encrypt_stream(&keyspace).await?.writer(Vec::new());
//! vault::io::copy(&mut &b"any amount of data"[..], &mut writer)?;
//! let sealed = writer.finish()?; // without finish the stream reads as truncated
//!
//! let mut reader = vault.decrypt_stream(&keyspace).await?.reader(&sealed[..]);
//! let mut plain = Vec::new();
//! vault::io::copy(&mut reader, &mut plain)?; // fails if altered or truncated
//! assert_eq!(plain, b"any amount of data");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Errors of the cipher travel as [`std::io::Error`]s of kind `InvalidData` (authentication
//! failed, unsupported format) or `Other`, whose [`get_ref`](std::io::Error::get_ref) is the
//! [`Error`]; [`vault_error`] finds it again.

use crate::SecretBytes;
use std::io::{self, BufRead, Read, Write};

use crate::stream::{StreamDecryptor, StreamEncryptor, CHUNK_SIZE};
use crate::{Error, ErrorCode};

/// The [`Error`] an I/O error of this module carries, if any.
pub fn vault_error(error: &io::Error) -> Option<&Error> {
    error.get_ref()?.downcast_ref::<Error>()
}

fn already_failed() -> io::Error {
    io_error(Error::DecryptionFailed(
        "this stream already failed to decrypt; nothing more is released",
    ))
}

fn io_error(error: Error) -> io::Error {
    let kind = match error.code() {
        ErrorCode::DecryptionFailed | ErrorCode::UnsupportedFormat | ErrorCode::Corrupted => {
            io::ErrorKind::InvalidData
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// Bytes [`copy`] moves at a time: 16 stream chunks, so an [`EncryptingWriter`] seals 15 of
/// them straight from the buffer.
pub const COPY_BUFFER: usize = 16 * CHUNK_SIZE;

/// Copies everything `reader` yields into `writer`, [`COPY_BUFFER`] bytes at a time through a
/// buffer that is wiped afterwards; returns how many bytes were copied. `std::io::copy` does
/// the same through a buffer it does not wipe.
///
/// # Errors
///
/// The first error of `reader` or `writer` (`Interrupted` reads are retried).
pub fn copy<R: Read + ?Sized, W: Write + ?Sized>(
    reader: &mut R,
    writer: &mut W,
) -> io::Result<u64> {
    // Wiped in one pass on drop (`Zeroizing<Vec<u8>>` wipes byte by byte).
    let mut wiped = SecretBytes::from(vec![0u8; COPY_BUFFER]);
    let buffer = wiped.vec_mut();
    let mut copied = 0u64;
    loop {
        let n = match reader.read(buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buffer[..n])?;
        copied += n as u64;
    }
}

/// Copies everything a buffered reader yields into `writer` straight from the reader's own
/// buffer (for a [`DecryptingReader`]: its wiped plaintext buffer, so no other copy of the
/// plaintext is made); returns how many bytes were copied.
///
/// # Errors
///
/// The first error of `reader` or `writer`.
pub fn copy_buf<R: BufRead + ?Sized, W: Write + ?Sized>(
    reader: &mut R,
    writer: &mut W,
) -> io::Result<u64> {
    let mut copied = 0u64;
    loop {
        let available = match reader.fill_buf() {
            Ok([]) => return Ok(copied),
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(available)?;
        let n = available.len();
        reader.consume(n);
        copied += n as u64;
    }
}

impl StreamEncryptor {
    /// This encryptor as a writer of plaintext that writes the stream into `inner`.
    pub fn writer<W: Write>(self, inner: W) -> EncryptingWriter<W> {
        EncryptingWriter {
            inner,
            encryptor: Some(self),
        }
    }
}

impl StreamDecryptor {
    /// This decryptor as a reader of plaintext that reads the stream from `inner`.
    pub fn reader<R: Read>(self, inner: R) -> DecryptingReader<R> {
        DecryptingReader {
            inner,
            decryptor: Some(self),
            input: vec![0u8; COPY_BUFFER],
            plaintext: SecretBytes::default(),
            position: 0,
            failed: false,
        }
    }
}

/// Encrypts what is written to it into the stream written to `W` (the encryptor holds back at
/// most one chunk of plaintext, in a wiped buffer). Call [`finish`](Self::finish) at the end:
/// a stream that was not finished reads as truncated.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    encryptor: Option<StreamEncryptor>,
}

impl<W: Write> std::fmt::Debug for EncryptingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingWriter")
            .field("finished", &self.encryptor.is_none())
            .finish_non_exhaustive()
    }
}

impl<W: Write> EncryptingWriter<W> {
    /// Writes the last chunk, flushes, and returns the inner writer.
    ///
    /// # Errors
    ///
    /// The inner writer's errors.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(encryptor) = self.encryptor.take() {
            self.inner.write_all(&encryptor.finish())?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        let encryptor = self
            .encryptor
            .as_mut()
            .ok_or_else(|| io::Error::other("the stream is finished"))?;
        self.inner.write_all(&encryptor.update(plaintext))?;
        Ok(plaintext.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts the stream read from `R`: each chunk is released only after it authenticated, from
/// a buffer that is wiped once read; reaching the end of `R` checks that the stream was not
/// truncated. After an error every read fails.
pub struct DecryptingReader<R: Read> {
    inner: R,
    decryptor: Option<StreamDecryptor>,
    input: Vec<u8>,
    plaintext: SecretBytes,
    position: usize,
    failed: bool,
}

impl<R: Read> std::fmt::Debug for DecryptingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptingReader")
            .field("finished", &self.decryptor.is_none())
            .finish_non_exhaustive()
    }
}

impl<R: Read> DecryptingReader<R> {
    /// The inner reader back.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(already_failed());
        }
        let result = self.read_plaintext(out);
        self.failed = matches!(&result, Err(e) if vault_error(e).is_some());
        result
    }
}

impl<R: Read> BufRead for DecryptingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.failed {
            return Err(already_failed());
        }
        if let Err(e) = self.refill() {
            self.failed = vault_error(&e).is_some();
            return Err(e);
        }
        Ok(&self.plaintext[self.position..])
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.plaintext.len());
    }
}

impl<R: Read> DecryptingReader<R> {
    /// Decrypts more of the stream unless plaintext is waiting; at the end, nothing waits.
    fn refill(&mut self) -> io::Result<()> {
        while self.position >= self.plaintext.len() {
            let Some(decryptor) = self.decryptor.as_mut() else {
                return Ok(());
            };
            let n = match self.inner.read(&mut self.input) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.plaintext = if n == 0 {
                let decryptor = self
                    .decryptor
                    .take()
                    .ok_or_else(|| io::Error::other("gone"))?;
                decryptor.finish().map_err(io_error)?
            } else {
                decryptor.update(&self.input[..n]).map_err(io_error)?
            };
            self.position = 0;
        }
        Ok(())
    }

    fn read_plaintext(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let n = out.len().min(self.plaintext.len() - self.position);
        out[..n].copy_from_slice(&self.plaintext[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(feature = "futures-io")]
pub use self::async_io::{AsyncDecryptingReader, AsyncEncryptingWriter};

#[cfg(feature = "futures-io")]
mod async_io {
    //! The same over `futures-io`'s `AsyncWrite` and `AsyncRead`.

    use std::io;
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};

    use crate::SecretBytes;
    use futures_io::{AsyncRead, AsyncWrite};

    use super::io_error;
    use crate::stream::{StreamDecryptor, StreamEncryptor, CHUNK_SIZE};

    impl StreamEncryptor {
        /// This encryptor as an `AsyncWrite` of plaintext writing the stream into `inner`.
        pub fn async_writer<W: AsyncWrite + Unpin>(self, inner: W) -> AsyncEncryptingWriter<W> {
            AsyncEncryptingWriter {
                inner,
                encryptor: Some(self),
                pending: Vec::new(),
                written: 0,
            }
        }
    }

    impl StreamDecryptor {
        /// This decryptor as an `AsyncRead` of plaintext reading the stream from `inner`.
        pub fn async_reader<R: AsyncRead + Unpin>(self, inner: R) -> AsyncDecryptingReader<R> {
            AsyncDecryptingReader {
                inner,
                decryptor: Some(self),
                input: vec![0u8; CHUNK_SIZE],
                plaintext: SecretBytes::default(),
                position: 0,
                failed: false,
            }
        }
    }

    /// [`EncryptingWriter`](super::EncryptingWriter) over an `AsyncWrite`: `close` (for
    /// example `futures::io::AsyncWriteExt::close`) writes the last chunk; a stream that was
    /// not closed reads as truncated.
    pub struct AsyncEncryptingWriter<W> {
        inner: W,
        encryptor: Option<StreamEncryptor>,
        /// Ciphertext produced but not yet accepted by `inner`.
        pending: Vec<u8>,
        written: usize,
    }

    impl<W> std::fmt::Debug for AsyncEncryptingWriter<W> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("AsyncEncryptingWriter")
                .field("closed", &self.encryptor.is_none())
                .finish_non_exhaustive()
        }
    }

    impl<W: AsyncWrite + Unpin> AsyncEncryptingWriter<W> {
        /// The inner writer back (after `close`, the whole stream is in it).
        pub fn into_inner(self) -> W {
            self.inner
        }

        fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            while self.written < self.pending.len() {
                let n = ready!(
                    Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..])
                )?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.written += n;
            }
            self.pending.clear();
            self.written = 0;
            Poll::Ready(Ok(()))
        }
    }

    impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncEncryptingWriter<W> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            plaintext: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            ready!(this.poll_pending(cx))?;
            let encryptor = this
                .encryptor
                .as_mut()
                .ok_or_else(|| io::Error::other("the stream is closed"))?;
            this.pending = encryptor.update(plaintext);
            Poll::Ready(Ok(plaintext.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            ready!(this.poll_pending(cx))?;
            Pin::new(&mut this.inner).poll_flush(cx)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            ready!(this.poll_pending(cx))?;
            if let Some(encryptor) = this.encryptor.take() {
                this.pending = encryptor.finish();
                ready!(this.poll_pending(cx))?;
            }
            Pin::new(&mut this.inner).poll_close(cx)
        }
    }

    /// [`DecryptingReader`](super::DecryptingReader) over an `AsyncRead`.
    pub struct AsyncDecryptingReader<R> {
        inner: R,
        decryptor: Option<StreamDecryptor>,
        input: Vec<u8>,
        plaintext: SecretBytes,
        position: usize,
        failed: bool,
    }

    impl<R> std::fmt::Debug for AsyncDecryptingReader<R> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("AsyncDecryptingReader")
                .field("finished", &self.decryptor.is_none())
                .finish_non_exhaustive()
        }
    }

    impl<R: AsyncRead + Unpin> AsyncRead for AsyncDecryptingReader<R> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if this.failed {
                return Poll::Ready(Err(super::already_failed()));
            }
            let result = ready!(this.poll_plaintext(cx, out));
            this.failed = matches!(&result, Err(e) if super::vault_error(e).is_some());
            Poll::Ready(result)
        }
    }

    impl<R: AsyncRead + Unpin> AsyncDecryptingReader<R> {
        fn poll_plaintext(
            &mut self,
            cx: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self;
            loop {
                if this.position < this.plaintext.len() {
                    let n = out.len().min(this.plaintext.len() - this.position);
                    out[..n].copy_from_slice(&this.plaintext[this.position..this.position + n]);
                    this.position += n;
                    return Poll::Ready(Ok(n));
                }
                if this.decryptor.is_none() {
                    return Poll::Ready(Ok(0));
                }
                let n = match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.input)) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                let result = match (n, this.decryptor.take()) {
                    (0, Some(decryptor)) => decryptor.finish(),
                    (_, Some(mut decryptor)) => {
                        let chunk = decryptor.update(&this.input[..n]);
                        this.decryptor = Some(decryptor);
                        chunk
                    }
                    (_, None) => return Poll::Ready(Ok(0)),
                };
                this.plaintext = result.map_err(io_error)?;
                this.position = 0;
            }
        }
    }
}
