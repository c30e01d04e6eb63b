//! The browser bundle under a path named for this build: `/assets/<build>/pkg/…`.
//!
//! Parts of the console are WASM chunks fetched on first use, relative to the bundle's URL. A
//! page opened before the server was updated must never combine its bundle with another
//! build's chunks: under its own build's path it gets a 404 instead, which the console shows
//! as "reload the page". The files under a build's path never change, so browsers may keep
//! them for good.

use axum::{
    http::{header, HeaderValue},
    Router,
};
use leptos::prelude::LeptosOptions;
use sha2::{Digest, Sha256};
use tower_http::{services::ServeDir, set_header::SetResponseHeader};

/// Where the pages load the bundle from: `/assets/<build>`, the build being named by a
/// digest of its WASM and JS (the names stay stable when nothing changed).
pub fn root(options: &LeptosOptions) -> String {
    let pkg = pkg_dir(options);
    let mut digest = Sha256::new();
    for ext in ["wasm", "js"] {
        let file = pkg.join(format!("{}.{ext}", options.output_name));
        // A missing bundle (a server built without its site) still gets a stable name.
        digest.update(std::fs::read(&file).unwrap_or_default());
    }
    format!("/assets/{}", &hex::encode(digest.finalize())[..16])
}

/// Serves the bundle under `root` (from [`root`]), cached for good, compressed as the build
/// left it (`.br`, `.gz` beside each file) when the browser accepts it.
pub fn routes<S: Clone + Send + Sync + 'static>(options: &LeptosOptions, root: &str) -> Router<S> {
    let files = ServeDir::new(pkg_dir(options))
        .precompressed_br()
        .precompressed_gzip();
    Router::new().nest_service(
        &format!("{root}/{}", options.site_pkg_dir),
        SetResponseHeader::overriding(
            files,
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    )
}

fn pkg_dir(options: &LeptosOptions) -> std::path::PathBuf {
    std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref())
}
