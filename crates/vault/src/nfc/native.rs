//! NFC with the `unicode-normalization` crate.

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use zeroize::Zeroizing;

/// The NFC form of `text`, or `None` when it is already NFC.
pub(crate) fn nfc(text: &str) -> Option<Zeroizing<String>> {
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        return None;
    }
    // NFC at most triples a text's UTF-8 length; reserving that keeps the password in one
    // allocation, which is wiped on drop.
    let mut out = Zeroizing::new(String::with_capacity(text.len() * 3));
    out.extend(text.nfc());
    Some(out)
}
