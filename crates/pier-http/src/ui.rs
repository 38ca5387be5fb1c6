//! The web UI (`ui/`, built by Vite into `ui/dist`), served at `/`.
//! Release builds embed the files; debug builds read them from `ui/dist`
//! at run time, so a rebuilt UI shows without recompiling. Without a build
//! the page says how to make one.

use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

use crate::Problem;

#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

/// Only our own scripts, styles and API; nothing from elsewhere.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Pier</title>\
<body style=\"font:15px system-ui;max-width:640px;margin:3rem auto\">\
<h1>Pier is running</h1><p>The web UI has not been built. Build it with \
<code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code> (or <code>scripts/run</code>), \
then reload. The API is at <a href=\"/docs\">/docs</a>.</p>";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

pub(crate) async fn index() -> Response {
    match Assets::get("index.html") {
        Some(file) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}

pub(crate) async fn asset_or_404(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if !path.starts_with("api/")
        && let Some(file) = Assets::get(path)
    {
        return (
            [
                (header::CONTENT_TYPE, content_type(path)),
                // Vite puts a content hash in asset names.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            file.data.into_owned(),
        )
            .into_response();
    }
    Problem::not_found("no such endpoint").into_response()
}
