//! The page and its assets, compiled into the binary (no CDN, no files at run time).

use crate::auth;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

const INDEX: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const HEALTH_JS: &str = include_str!("../static/health.js");
const STYLE_CSS: &str = include_str!("../static/style.css");

/// The placeholder in `index.html` replaced by `?token=...` (or nothing).
const TOKEN_QUERY: &str = "{{TOKEN_QUERY}}";

/// `GET /`: the page, with asset links that carry the request's token (already checked).
pub(crate) async fn index(req: Request) -> Html<String> {
    let query = req
        .uri()
        .query()
        .and_then(auth::query_token)
        .map(|t| {
            format!(
                "?token={}",
                auth::encode_query(&String::from_utf8_lossy(&t))
            )
        })
        .unwrap_or_default();
    Html(INDEX.replace(TOKEN_QUERY, &query))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /static/app.js`
pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /static/health.js`
pub(crate) async fn health_js() -> Response {
    asset("text/javascript; charset=utf-8", HEALTH_JS)
}

/// `GET /static/style.css`
pub(crate) async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// `GET /favicon.ico`: none, without a 404 in the browser's console.
pub(crate) async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}
