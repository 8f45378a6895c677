//! Keyspaces: names, passwords, the key wrap (create, unlock, password change, rekey), and the
//! unlocked keyspace value that holds the derived keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Key};
use crate::format::{self, put_bytes16, Header, ID_LEN};
use crate::{Error, Result, Tampering};

/// Longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME_LEN: usize = 64;
/// Longest key-pair or secret name, in bytes.
pub const MAX_ITEM_NAME_LEN: usize = 256;

/// Characters that change how text around them is displayed or that show nothing at all: bidi
/// controls (a name could render as another name, "Trojan Source"), zero-width and other
/// invisible characters (two names that look the same), and line separators.
fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
        | '\u{180E}'                    // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, (non-)joiner, LRM, RLM
        | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings/overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                    // Hangul filler
        | '\u{FEFF}'                    // zero-width no-break space (BOM)
        | '\u{FFA0}'                    // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation controls
    )
}

/// Checks a name about to be stored: 1 to `max` bytes of UTF-8, no control characters, no
/// bidi controls and no zero-width or other invisible characters.
pub(crate) fn validate_name(kind: &'static str, name: &str, max: usize) -> Result<()> {
    check_name_rules(kind, name, max)?;
    if let Some(c) = name.chars().find(|&c| is_deceptive(c)) {
        return Err(Error::InvalidInput(format!(
            "{kind} name {name:?} contains U+{:04X}: bidi controls and invisible characters are not allowed in names",
            c as u32
        )));
    }
    Ok(())
}

/// Checks a name given to find something: the rules every stored name has always followed
/// (names stored before the invisible-character rule can still be reached).
pub(crate) fn check_lookup_name(kind: &'static str, name: &str, max: usize) -> Result<()> {
    check_name_rules(kind, name, max)
}

fn check_name_rules(kind: &'static str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() || name.len() > max || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{kind} name {name:?} must be 1 to {max} bytes of UTF-8 without control characters"
        )));
    }
    Ok(())
}

/// Checks a name read back from storage or a backup: UTF-8, 1 to `max` bytes, no control
/// characters. Anything else was not written by this crate ([`Error::Corrupted`]).
pub(crate) fn check_stored_name(what: &str, bytes: &[u8], max: usize) -> Result<String> {
    let name = std::str::from_utf8(bytes)
        .map_err(|_| Error::Corrupted(format!("a {what} name is not UTF-8")))?;
    if name.is_empty() || name.len() > max || name.chars().any(char::is_control) {
        return Err(Error::Corrupted(format!(
            "a {what} name is empty, longer than {max} bytes or holds control characters"
        )));
    }
    Ok(name.to_owned())
}

/// The bytes the KDF takes for `password` when they differ from `password` itself: its Unicode
/// NFC form, when it is UTF-8 and not already NFC. So "é" typed as one code point (a browser on
/// Windows) or as "e" + U+0301 (some macOS input) opens the same keyspace. Bytes that are not
/// UTF-8 are taken as they are; ASCII is always NFC.
pub(crate) fn nfc_form(password: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if password.is_ascii() {
        return None;
    }
    let text = std::str::from_utf8(password).ok()?;
    let nfc = crate::nfc::nfc(text)?;
    (nfc.as_bytes() != password).then(|| Zeroizing::new(nfc.as_bytes().to_vec()))
}

/// An unlocked keyspace: its name, id and the keys derived from its keyspace key. Owned by the
/// caller (stateless API) or by a [`Session`](crate::Session). All key material zeroizes on
/// drop; `Debug` shows only the name.
pub struct UnlockedKeyspace {
    pub(crate) name: String,
    pub(crate) id: [u8; ID_LEN],
    pub(crate) keyspace_key: Key,
    pub(crate) record_key: Key,
    pub(crate) index_key: Key,
    pub(crate) data_key: Key,
    pub(crate) backup_key: Key,
    pub(crate) manifest_key: Key,
    /// The highest keyspace revision seen (or anchored): a manifest older than this is a
    /// rollback.
    pub(crate) seen: AtomicU64,
    /// The manifest and buckets already authenticated (public data).
    verified: Mutex<crate::manifest::Verified>,
}

impl std::fmt::Debug for UnlockedKeyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedKeyspace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl UnlockedKeyspace {
    pub(crate) fn new(name: &str, id: [u8; ID_LEN], keyspace_key: Key) -> Self {
        let derive = |info: &[u8]| crypto::hkdf(keyspace_key.as_ref(), &id, info);
        UnlockedKeyspace {
            name: name.to_owned(),
            id,
            record_key: derive(b"vault/v1/record-key"),
            index_key: derive(b"vault/v1/name-index-key"),
            data_key: derive(b"vault/v1/data-key"),
            backup_key: derive(b"vault/v1/backup-key"),
            manifest_key: derive(b"vault/v2/manifest-key"),
            keyspace_key,
            seen: AtomicU64::new(0),
            verified: Mutex::default(),
        }
    }

    /// Runs `f` on what this keyspace value already authenticated (`None` if a panic while
    /// holding it left it poisoned: then nothing is taken from it).
    pub(crate) fn verified<T>(
        &self,
        f: impl FnOnce(&mut crate::manifest::Verified) -> T,
    ) -> Option<T> {
        self.verified.lock().ok().map(|mut v| f(&mut v))
    }

    /// The highest keyspace revision this value has seen: the revision at unlock, raised by
    /// every read and write since, and by [`anchor_revision`](Self::anchor_revision).
    pub fn revision_seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Anchors the keyspace at revision `revision` (one the application stored earlier, from
    /// [`Vault::keyspace_revision`](crate::Vault::keyspace_revision), outside this store):
    /// from now on every read and write through this value fails with
    /// [`Error::Tampered`] ([`Tampering::RolledBack`]) if the store holds an older revision.
    /// This is what detects a whole store rolled back to a consistent older state (see
    /// `docs/SECURITY.md`). Never lowers the revision already seen.
    pub fn anchor_revision(&self, revision: u64) {
        self.seen.fetch_max(revision, Ordering::Relaxed);
    }

    /// Checks a manifest's revision against the highest seen, and raises it.
    pub(crate) fn observe(&self, revision: u64) -> Result<()> {
        let seen = self.seen.fetch_max(revision, Ordering::Relaxed);
        if revision < seen {
            return Err(self.tampered(Tampering::RolledBack {
                seen,
                found: revision,
            }));
        }
        Ok(())
    }

    /// The error for `tampering` found in this keyspace.
    pub(crate) fn tampered(&self, tampering: Tampering) -> Error {
        Error::Tampered {
            keyspace: self.name.clone(),
            tampering,
        }
    }

    /// A new keyspace named `name`: a random keyspace key and a random id.
    pub(crate) fn generate(name: &str) -> Result<Self> {
        let keyspace_key = crypto::random_key()?;
        let mut id = [0u8; ID_LEN];
        crypto::random_bytes(&mut id)?;
        Ok(UnlockedKeyspace::new(name, id, keyspace_key))
    }

    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn wrap_aad(name: &str, header: &Header) -> Result<Vec<u8>> {
    let mut aad = b"vault/v1/keyspace-key".to_vec();
    put_bytes16(&mut aad, name.as_bytes(), "a keyspace name")?;
    aad.extend(header.authenticated());
    Ok(aad)
}

/// A new header wrapping `keyspace`'s key under `password` (its NFC form) with fresh salt and
/// nonce.
pub(crate) fn wrap(keyspace: &UnlockedKeyspace, password: &[u8], kdf: KdfParams) -> Result<Header> {
    wrap_version(keyspace, password, kdf, format::HEADER_VERSION)
}

/// [`wrap`] into a header of `version` (a password change keeps a version-1 header version 1:
/// only unlock upgrades, with the records).
pub(crate) fn wrap_version(
    keyspace: &UnlockedKeyspace,
    password: &[u8],
    kdf: KdfParams,
    version: u8,
) -> Result<Header> {
    let mut salt = [0u8; format::SALT_LEN];
    crypto::random_bytes(&mut salt)?;
    let mut nonce = [0u8; crypto::NONCE_LEN];
    crypto::random_bytes(&mut nonce)?;
    let mut header = Header {
        version,
        kdf,
        salt,
        id: keyspace.id,
        nonce,
        wrapped: [0; format::WRAPPED_LEN],
    };
    let nfc = nfc_form(password);
    let password = nfc.as_deref().map_or(password, Vec::as_slice);
    let password_key = crypto::derive_password_key(password, &salt, &kdf)?;
    let sealed = crypto::seal_with_nonce(
        &password_key,
        &nonce,
        &wrap_aad(&keyspace.name, &header)?,
        keyspace.keyspace_key.as_ref(),
    );
    header.wrapped = sealed
        .as_slice()
        .try_into()
        .map_err(|_| Error::Corrupted("unexpected wrapped key length".into()))?;
    Ok(header)
}

/// A keyspace opened by [`unwrap`].
pub(crate) struct Unwrapped {
    pub keyspace: UnlockedKeyspace,
    /// The header was wrapped under the password's bytes as typed, not their NFC form (written
    /// before passwords were normalized): re-wrap it.
    pub legacy_password_form: bool,
}

/// Unwraps a header's keyspace key with `password`: its NFC form first, then (for keyspaces
/// wrapped before passwords were normalized) the bytes as given.
pub(crate) fn unwrap(name: &str, header: &Header, password: &[u8]) -> Result<Unwrapped> {
    let nfc = nfc_form(password);
    let first = nfc.as_deref().map_or(password, Vec::as_slice);
    if let Some(keyspace) = try_unwrap(name, header, first)? {
        return Ok(Unwrapped {
            keyspace,
            legacy_password_form: false,
        });
    }
    if nfc.is_some() {
        if let Some(keyspace) = try_unwrap(name, header, password)? {
            return Ok(Unwrapped {
                keyspace,
                legacy_password_form: true,
            });
        }
    }
    Err(Error::WrongPassword {
        keyspace: name.to_owned(),
    })
}

fn try_unwrap(name: &str, header: &Header, password: &[u8]) -> Result<Option<UnlockedKeyspace>> {
    let password_key = crypto::derive_password_key(password, &header.salt, &header.kdf)?;
    let Some(plain) = crypto::open_with_nonce(
        &password_key,
        &header.nonce,
        &wrap_aad(name, header)?,
        &header.wrapped,
    ) else {
        return Ok(None);
    };
    let key: [u8; 32] = plain
        .as_bytes()
        .try_into()
        .map_err(|_| Error::Corrupted("wrapped keyspace key has a wrong length".into()))?;
    Ok(Some(UnlockedKeyspace::new(
        name,
        header.id,
        Zeroizing::new(key),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn passwords_are_normalized_to_nfc_only_when_they_differ() {
        assert!(nfc_form(b"plain ascii").is_none());
        assert!(
            nfc_form("p\u{e4}sswort".as_bytes()).is_none(),
            "already NFC"
        );
        assert_eq!(
            nfc_form("pa\u{308}sswort".as_bytes())
                .as_deref()
                .map(Vec::as_slice),
            Some("p\u{e4}sswort".as_bytes())
        );
        assert!(nfc_form(&[0xff, 0xfe, b'a']).is_none(), "not UTF-8: as is");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn new_names_refuse_bidi_controls_and_invisible_characters() {
        for bad in [
            "a\u{202E}b",
            "a\u{200B}b",
            "a\u{200D}b",
            "\u{2066}x",
            "a\u{FEFF}",
            "a\u{2028}b",
            "a\u{1B}[31m",
            "",
        ] {
            assert!(validate_name("secret", bad, 64).is_err(), "{bad:?}");
        }
        for good in ["wallet", "über konto", "ключ", "🔑 main", "a b-c_d.e"] {
            validate_name("secret", good, 64).unwrap();
        }
        // Lookups still reach names stored before the rule.
        check_lookup_name("secret", "a\u{200B}b", 64).unwrap();
        assert!(check_lookup_name("secret", "a\u{7}", 64).is_err());
    }
}
