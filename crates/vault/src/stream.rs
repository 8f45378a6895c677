//! Streaming encryption: chunked XChaCha20-Poly1305 in constant memory, for inputs of any size.
//!
//! A stream is a header (magic, version, algorithm, chunk size, random salt) followed by chunks.
//! Each chunk is encrypted under a key derived from the keyspace's data key and the stream's
//! salt, with a nonce made of the chunk's index and a flag saying whether it is the last, and
//! with the header as associated data. So reordering (index), truncation (no chunk flagged
//! last at the end), extension (data after the last chunk), splicing from another stream (other
//! key) and header edits are all detected. See `docs/FORMAT.md`.

use crate::SecretBytes;

use crate::crypto::{self, Key, NONCE_LEN, TAG_LEN};
use crate::format::{Reader, AEAD_XCHACHA20POLY1305};
use crate::{Error, Result};

/// Magic bytes opening every stream.
pub const STREAM_MAGIC: &[u8; 4] = b"VLTS";
/// Version of the stream format written (version 1 is still read).
pub(crate) const STREAM_VERSION: u8 = 2;
/// Plaintext bytes per chunk written by this version (64 KiB).
pub const CHUNK_SIZE: usize = 64 * 1024;
const MIN_CHUNK: u32 = 1024;
const MAX_CHUNK: u32 = 16 << 20;
const SALT_LEN: usize = 32;
const HEADER_LEN: usize = 4 + 1 + 1 + 4 + SALT_LEN;

fn stream_key(data_key: &Key, salt: &[u8]) -> Key {
    crypto::hkdf(data_key.as_ref(), salt, b"vault/v1/stream")
}

/// The associated data of every chunk: the header, and from version 2 zero-padded to
/// [`crypto::AAD_BLOCK`] bytes.
fn chunk_aad(header: &[u8]) -> Vec<u8> {
    let mut aad = header.to_vec();
    if header.get(4).is_some_and(|&version| version >= 2) {
        aad.resize(crypto::AAD_BLOCK, 0);
    }
    aad
}

fn nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[15..23].copy_from_slice(&index.to_be_bytes());
    nonce[23] = u8::from(last);
    nonce
}

/// Seals chunk `index` of a stream, appending ciphertext ‖ tag to `out`.
fn seal_chunk(key: &Key, aad: &[u8], index: u64, plaintext: &[u8], last: bool, out: &mut Vec<u8>) {
    crypto::seal_append(key, &nonce(index, last), aad, plaintext, out);
}

/// Encrypts a stream piece by piece: feed [`update`](Self::update) any amount at a time and
/// write what it returns, then write what [`finish`](Self::finish) returns. The plaintext it
/// holds back (at most one chunk) lives in a buffer that is wiped on drop.
pub struct StreamEncryptor {
    key: Key,
    header: Option<Vec<u8>>,
    /// Every chunk's associated data ([`chunk_aad`] of the header).
    aad: Vec<u8>,
    buffer: SecretBytes,
    chunk_size: usize,
    index: u64,
}

impl std::fmt::Debug for StreamEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("chunks", &self.index)
            .finish_non_exhaustive()
    }
}

impl StreamEncryptor {
    pub(crate) fn new(data_key: &Key) -> Result<Self> {
        Self::with_chunk_size(data_key, CHUNK_SIZE)
    }

    /// A stream of `chunk_size`-byte chunks: [`CHUNK_SIZE`] always, except for the fuzzing
    /// seeds (small chunks keep seeds small; every reader accepts 1 KiB to 16 MiB).
    pub(crate) fn with_chunk_size(data_key: &Key, chunk_size: usize) -> Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        crypto::random_bytes(&mut salt)?;
        let declared = u32::try_from(chunk_size)
            .ok()
            .filter(|c| (MIN_CHUNK..=MAX_CHUNK).contains(c))
            .ok_or_else(|| Error::InvalidInput("stream chunk size out of bounds".into()))?;
        let mut header = STREAM_MAGIC.to_vec();
        header.extend_from_slice(&[STREAM_VERSION, AEAD_XCHACHA20POLY1305]);
        header.extend_from_slice(&declared.to_le_bytes());
        header.extend_from_slice(&salt);
        Ok(StreamEncryptor {
            key: stream_key(data_key, &salt),
            aad: chunk_aad(&header),
            header: Some(header),
            // Allocated once at its full size, so it never moves (a move would leave a copy).
            buffer: SecretBytes::with_capacity(chunk_size),
            chunk_size,
            index: 0,
        })
    }

    /// Takes more plaintext; returns the ciphertext ready so far (possibly empty).
    ///
    /// A chunk is sealed only once more input follows it (so the last one can be flagged), and
    /// whole chunks are sealed straight from `input`: only the chunk held back is copied aside.
    pub fn update(&mut self, mut input: &[u8]) -> Vec<u8> {
        let mut out = self.header.take().unwrap_or_default();
        let chunk = self.chunk_size;
        let sealed_now = (self.buffer.len() + input.len()).saturating_sub(1) / chunk;
        out.reserve(sealed_now * (chunk + TAG_LEN));
        if !self.buffer.is_empty() {
            let take = (chunk - self.buffer.len()).min(input.len());
            self.buffer.vec_mut().extend_from_slice(&input[..take]);
            input = &input[take..];
            if input.is_empty() {
                return out;
            }
            let (key, aad, index) = (&self.key, &self.aad, self.index);
            seal_chunk(key, aad, index, &self.buffer, false, &mut out);
            self.index += 1;
            self.buffer.vec_mut().clear();
        }
        while input.len() > chunk {
            let (whole, rest) = input.split_at(chunk);
            seal_chunk(&self.key, &self.aad, self.index, whole, false, &mut out);
            self.index += 1;
            input = rest;
        }
        self.buffer.vec_mut().extend_from_slice(input);
        out
    }

    /// Ends the stream: returns the last chunk (and the header if nothing was written yet). An
    /// input that is a whole number of chunks ends with a full last chunk; only an empty input
    /// ends with an empty one.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = self.header.take().unwrap_or_default();
        seal_chunk(
            &self.key,
            &self.aad,
            self.index,
            &self.buffer,
            true,
            &mut out,
        );
        out
    }
}

/// Authenticates and decrypts one sealed chunk into `out`, whose capacity the caller reserved
/// (so the plaintext is never left in a freed block): copied once, opened in place.
fn open_chunk(
    state: &StreamState,
    index: &mut u64,
    sealed: &[u8],
    last: bool,
    out: &mut SecretBytes,
) -> Result<()> {
    let out = out.vec_mut();
    let at = out.len();
    out.extend_from_slice(sealed);
    let opened =
        crypto::open_in_place(&state.key, &nonce(*index, last), &state.aad, &mut out[at..])
            .map(<[u8]>::len);
    match opened {
        Some(plain_len) => {
            out.truncate(at + plain_len);
            *index += 1;
            Ok(())
        }
        None => Err(Error::DecryptionFailed(
            "stream chunk altered, reordered, truncated or from another keyspace",
        )),
    }
}

struct StreamState {
    key: Key,
    /// Every chunk's associated data ([`chunk_aad`] of the header).
    aad: Vec<u8>,
    /// Bytes of a sealed chunk: chunk size + 16.
    sealed_chunk: usize,
}

/// Decrypts a stream piece by piece. Plaintext is released chunk by chunk, each only after it
/// authenticated, in buffers that are wiped on drop; [`finish`](Self::finish) fails if the
/// stream was truncated or extended, so a caller must treat output as untrusted until `finish`
/// succeeds. After any error every later call fails too: a stream is all or nothing.
pub struct StreamDecryptor {
    data_key: Key,
    state: Option<StreamState>,
    /// Ciphertext not yet opened (never plaintext: chunks are opened in the output buffer).
    buffer: Vec<u8>,
    index: u64,
    failed: bool,
}

impl std::fmt::Debug for StreamDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecryptor")
            .field("chunks", &self.index)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl StreamDecryptor {
    pub(crate) fn new(data_key: &Key) -> Self {
        StreamDecryptor {
            data_key: data_key.clone(),
            state: None,
            buffer: Vec::new(),
            index: 0,
            failed: false,
        }
    }

    fn parse_header(&mut self) -> Result<()> {
        if self.state.is_some() || self.buffer.len() < HEADER_LEN {
            return Ok(());
        }
        let header: Vec<u8> = self.buffer.drain(..HEADER_LEN).collect();
        let mut r = Reader::new(&header, "stream header");
        if r.take(4)? != STREAM_MAGIC {
            return Err(Error::DecryptionFailed("not a vault stream"));
        }
        let (version, algorithm) = (r.u8()?, r.u8()?);
        if version == 0 {
            return Err(Error::DecryptionFailed(
                "stream version 0 was never written by any release",
            ));
        }
        if !matches!(version, 1 | STREAM_VERSION) || algorithm != AEAD_XCHACHA20POLY1305 {
            return Err(Error::UnsupportedFormat(format!(
                "stream version {version}, algorithm {algorithm}"
            )));
        }
        let chunk = r.u32()?;
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk) {
            return Err(Error::DecryptionFailed(
                "stream header has an invalid chunk size",
            ));
        }
        let salt = r.take(SALT_LEN)?;
        self.state = Some(StreamState {
            key: stream_key(&self.data_key, salt),
            aad: chunk_aad(&header),
            sealed_chunk: chunk as usize + TAG_LEN,
        });
        Ok(())
    }

    fn check_not_failed(&self) -> Result<()> {
        if self.failed {
            return Err(Error::DecryptionFailed(
                "this stream already failed to decrypt; nothing more is released",
            ));
        }
        Ok(())
    }

    /// Takes more ciphertext; returns the plaintext authenticated so far (possibly empty).
    ///
    /// # Errors
    ///
    /// [`Error::DecryptionFailed`] for a chunk that fails authentication, a bad header, or
    /// after any earlier error; [`Error::UnsupportedFormat`] for a newer stream format.
    pub fn update(&mut self, input: &[u8]) -> Result<SecretBytes> {
        self.check_not_failed()?;
        let result = self.update_inner(input);
        self.failed = result.is_err();
        result
    }

    fn update_inner(&mut self, input: &[u8]) -> Result<SecretBytes> {
        if self.state.is_none() {
            self.buffer.extend_from_slice(input);
            self.parse_header()?;
            if self.state.is_none() {
                return Ok(SecretBytes::default());
            }
            let after_header = std::mem::take(&mut self.buffer);
            return self.absorb(&after_header);
        }
        self.absorb(input)
    }

    /// Opens every chunk of the held-back bytes and `input` that is surely not the last, keeping
    /// at most one sealed chunk back. Whole chunks are opened straight from `input`.
    fn absorb(&mut self, mut input: &[u8]) -> Result<SecretBytes> {
        let state = self
            .state
            .as_ref()
            .ok_or(Error::DecryptionFailed("stream truncated"))?;
        let sealed = state.sealed_chunk;
        let ready = (self.buffer.len() + input.len()).saturating_sub(1) / sealed;
        let mut out = SecretBytes::with_capacity(ready * sealed);
        if !self.buffer.is_empty() {
            let take = (sealed - self.buffer.len()).min(input.len());
            self.buffer.extend_from_slice(&input[..take]);
            input = &input[take..];
            if input.is_empty() {
                return Ok(out);
            }
            open_chunk(state, &mut self.index, &self.buffer, false, &mut out)?;
            self.buffer.clear();
        }
        while input.len() > sealed {
            let (whole, rest) = input.split_at(sealed);
            open_chunk(state, &mut self.index, whole, false, &mut out)?;
            input = rest;
        }
        self.buffer.extend_from_slice(input);
        Ok(out)
    }

    /// Ends the stream: authenticates the final chunk and returns its plaintext. Fails if the
    /// stream was truncated or extended, or ends with an empty chunk after a full one (the
    /// encoder never writes that).
    ///
    /// # Errors
    ///
    /// [`Error::DecryptionFailed`] if the stream was truncated or extended, ends with an empty
    /// chunk after a full one, or failed before.
    pub fn finish(mut self) -> Result<SecretBytes> {
        self.check_not_failed()?;
        self.parse_header()?;
        let Some(sealed_chunk) = self.state.as_ref().map(|s| s.sealed_chunk) else {
            return Err(Error::DecryptionFailed(
                "stream truncated: incomplete header",
            ));
        };
        let len = self.buffer.len();
        if len < TAG_LEN || len > sealed_chunk {
            return Err(Error::DecryptionFailed("stream truncated or extended"));
        }
        if len == TAG_LEN && self.index > 0 {
            return Err(Error::DecryptionFailed(
                "stream ends with an empty chunk after a full one",
            ));
        }
        let state = self
            .state
            .as_ref()
            .ok_or(Error::DecryptionFailed("stream truncated"))?;
        let mut out = SecretBytes::with_capacity(len);
        open_chunk(state, &mut self.index, &self.buffer, true, &mut out)?;
        Ok(out)
    }
}
