//! Limits and key arithmetic shared by every backend, so they all agree.

use crate::{Error, Result};

/// Longest accepted key, in bytes. The same on every backend: IndexedDB slows down sharply on
/// long keys, and a store that accepts a key natively must accept it in the browser too.
pub const MAX_KEY_LEN: usize = 1024;

/// Largest accepted value, in bytes (64 MiB).
pub const MAX_VALUE_LEN: usize = 64 << 20;

/// Longest namespace name, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;

/// Checks a namespace name: 1 to [`MAX_NAMESPACE_LEN`] bytes of ASCII letters, digits, `_`,
/// `-` and `.`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for any other name.
pub fn validate_namespace(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAMESPACE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "namespace name {name:?} must be 1 to {MAX_NAMESPACE_LEN} bytes of ASCII letters, digits, '_', '-' or '.'"
        )))
    }
}

pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidInput(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidInput(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_LEN}",
            value.len()
        )));
    }
    Ok(())
}

/// The smallest key greater than every key that starts with `prefix`, or `None` when no such
/// key exists (empty prefix, or a prefix of only `0xFF` bytes): the exclusive upper bound of a
/// prefix scan.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte_below_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }

    #[test]
    fn namespace_names_are_checked() {
        assert!(validate_namespace("vault.records-1_a").is_ok());
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("a/b").is_err());
        assert!(validate_namespace(&"x".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
    }
}
