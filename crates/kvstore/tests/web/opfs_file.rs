//! A sync access handle on an OPFS file of this origin, with no engine above it (dedicated
//! workers only): for the OPFS benchmark's floor and for tests that put files in place.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::FileSystemSyncAccessHandle;

/// Opens (creating if needed) OPFS file `name` and returns a sync access handle on it; close
/// it before a store opens the file.
pub async fn sync_handle(name: &str) -> FileSystemSyncAccessHandle {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let dir: web_sys::FileSystemDirectoryHandle =
        JsFuture::from(scope.navigator().storage().get_directory())
            .await
            .unwrap()
            .unchecked_into();
    let options = web_sys::FileSystemGetFileOptions::new();
    options.set_create(true);
    let file: web_sys::FileSystemFileHandle =
        JsFuture::from(dir.get_file_handle_with_options(name, &options))
            .await
            .unwrap()
            .unchecked_into();
    JsFuture::from(file.create_sync_access_handle())
        .await
        .unwrap()
        .unchecked_into()
}
