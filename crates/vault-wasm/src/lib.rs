//! JavaScript bindings of [`vault`](../vault/README.md) on redb over the Origin Private File System
//! (in dedicated workers) or IndexedDB (see this crate's README for
//! the JavaScript API). Every export forwards to the `vault` crate; the only code here converts
//! types (bytes ↔ `Uint8Array`, errors → `Error` objects with a stable `code`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod bindings;
#[cfg(any(all(target_arch = "wasm32", target_os = "unknown"), test))]
mod executor;
#[cfg(any(all(target_arch = "wasm32", target_os = "unknown"), test))]
mod queue;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod store;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use bindings::*;

#[cfg(test)]
mod tests {
    /// The `VaultErrorCode` union in the TypeScript types lists exactly the library's codes.
    #[test]
    fn typescript_error_codes_are_the_library_codes() {
        let types = include_str!("types.d.ts");
        let union = types
            .split("export type VaultErrorCode =")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("types.d.ts declares VaultErrorCode");
        let declared: Vec<&str> = union
            .split('|')
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .collect();
        let codes: Vec<&str> = vault::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(declared, codes);
    }
}
