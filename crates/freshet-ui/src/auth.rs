//! The token check that guards every request when the UI has a token.

use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Lets a request through when the UI has no token or the request carries it, as
/// `Authorization: Bearer <token>` or `?token=<token>`; answers 401 otherwise.
pub(crate) async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.token.as_deref() else {
        return next.run(req).await;
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().as_bytes().to_vec());
    let query = req.uri().query().and_then(query_token);
    let ok = [bearer, query]
        .into_iter()
        .flatten()
        .any(|given| constant_time_eq(&given, token.as_bytes()));
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "401 Unauthorized: this Freshet UI needs its token \
             (Authorization: Bearer <token>, or ?token=<token>)\n",
        )
            .into_response()
    }
}

/// The value of the `token` query parameter, percent-decoded.
pub(crate) fn query_token(query: &str) -> Option<Vec<u8>> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(percent_decode)
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Percent-encodes `s` for a query string (everything but unreserved characters), which also
/// makes it safe inside an HTML attribute.
pub(crate) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tokens_decode() {
        assert_eq!(query_token("a=1&token=s%2Fx%3D"), Some(b"s/x=".to_vec()));
        assert_eq!(query_token("token=abc"), Some(b"abc".to_vec()));
        assert_eq!(query_token("tokens=abc"), None);
        assert_eq!(query_token("token=%4"), Some(b"%4".to_vec()));
        assert_eq!(encode_query("s/x= \"<"), "s%2Fx%3D%20%22%3C");
    }

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
