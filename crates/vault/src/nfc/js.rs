//! NFC with the JavaScript engine's `String.prototype.normalize` (the browser's ICU): the same
//! Unicode algorithm as the native build, without shipping its tables in the package.
//!
//! The password passes through a JavaScript string here, which the garbage collector frees but
//! nothing can wipe; only non-ASCII passwords take this path (ASCII is NFC already).

use zeroize::Zeroizing;

/// The NFC form of `text`, or `None` when it is already NFC.
pub(crate) fn nfc(text: &str) -> Option<Zeroizing<String>> {
    let normalized = js_sys::JsString::from(text).normalize("NFC");
    let out = Zeroizing::new(String::from(normalized));
    (out.as_str() != text).then_some(out)
}
