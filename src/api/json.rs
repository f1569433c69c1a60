//! A JSON body extractor whose rejections use the project's error format and name the
//! field at fault from the deserialiser's path (`items[2].model`), never from the text
//! of its message.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use regex::Regex;
use std::sync::LazyLock;

use super::error::error_body;

pub struct JsonBody<T>(pub T);

pub enum JsonError {
    /// No `Content-Type: application/json` (or `+json`).
    NotJson,
    /// The body could not be read (too large, connection cut).
    Body(BytesRejection),
    /// Not JSON, or not the expected shape; `field` is the path to the culprit.
    Invalid {
        field: Option<String>,
        message: String,
    },
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, code, detail, field) = match self {
            JsonError::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a request with `Content-Type: application/json`".to_string(),
                None,
            ),
            JsonError::Body(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                r.body_text(),
                None,
            ),
            JsonError::Body(r) => (StatusCode::BAD_REQUEST, "invalid_json", r.body_text(), None),
            JsonError::Invalid { field, message } => {
                let detail = match &field {
                    Some(f) => format!("{f}: {message}"),
                    None => message,
                };
                (StatusCode::BAD_REQUEST, "invalid_json", detail, field)
            }
        };
        (
            status,
            axum::Json(error_body(code, detail, field.as_deref())),
        )
            .into_response()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The field a deserialisation error is about: the path where it happened, or, for a
/// missing or unknown field (reported on the object holding it), that field's name.
fn field_of(path: &str, error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    let at = (path != ".").then(|| path.to_string());
    match (at, named) {
        (Some(at), Some(name)) if !at.ends_with(&name) => Some(format!("{at}.{name}")),
        (Some(at), _) => Some(at),
        (None, name) => name,
    }
}

/// What serde says of a type, in the client's terms: the detail goes to whoever wrote
/// the request, who knows JSON's integers and objects, not Rust's `u32` or
/// `struct CreateTicket with 6 elements`.
static RUST_TYPES: LazyLock<[(Regex, &'static str); 5]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("valid regex");
    [
        (
            re(r"\bu(?:8|16|32|64|128|size)\b"),
            "a non-negative integer",
        ),
        (re(r"\bi(?:8|16|32|64|128|size)\b"), "an integer"),
        (re(r"\bf(?:32|64)\b"), "a number"),
        (
            re(r"\b(?:struct \w+(?: with \d+ elements?)?|a map)\b"),
            "an object",
        ),
        (re(r"\b(?:enum \w+)"), "one of the documented values"),
    ]
});

fn readable(message: &str) -> String {
    let mut out = message.to_string();
    for (pattern, words) in RUST_TYPES.iter() {
        out = pattern.replace_all(&out, *words).into_owned();
    }
    out.replace("a sequence", "a list")
}

/// Parses `bytes` as a `T`, naming the field at fault.
fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if inner.is_syntax() || inner.is_eof() {
            None
        } else {
            field_of(&path, &inner)
        };
        JsonError::Invalid {
            field,
            message: readable(&inner.to_string()),
        }
    })?;
    de.end().map_err(|e| JsonError::Invalid {
        field: None,
        message: e.to_string(),
    })?;
    Ok(value)
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(JsonError::NotJson);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(JsonError::Body)?;
        parse(&bytes).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        model: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        query: String,
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default)]
        items: Vec<Item>,
    }

    fn field(body: &str) -> Option<String> {
        match parse::<Body>(body.as_bytes()) {
            Err(JsonError::Invalid { field, .. }) => field,
            Err(_) => panic!("another rejection"),
            Ok(_) => panic!("{body} parsed"),
        }
    }

    #[test]
    fn the_field_at_fault_is_named_from_the_path() {
        assert_eq!(field(r#"{"query": 3}"#).as_deref(), Some("query"));
        assert_eq!(
            field(r#"{"query": "x", "limit": "ten"}"#).as_deref(),
            Some("limit")
        );
        assert_eq!(field(r#"{"limit": 3}"#).as_deref(), Some("query"));
        assert_eq!(
            field(r#"{"query": "x", "colour": 1}"#).as_deref(),
            Some("colour")
        );
        assert_eq!(
            field(r#"{"query": "x", "items": [{"model": "a"}, {"model": 7}]}"#).as_deref(),
            Some("items[1].model")
        );
        assert_eq!(
            field(r#"{"query": "x", "items": [{}]}"#).as_deref(),
            Some("items[0].model")
        );
        assert_eq!(field(r#"{"query": "x""#), None);
        assert_eq!(field("not json"), None);
        assert_eq!(field(r#"{"query": "x"} trailing"#), None);
    }

    #[test]
    fn the_detail_speaks_json_not_rust() {
        let detail = |body: &str| match parse::<Body>(body.as_bytes()) {
            Err(JsonError::Invalid { message, .. }) => message,
            _ => panic!("{body} was not refused"),
        };
        let limit = detail(r#"{"query": "x", "limit": "ten"}"#);
        assert!(limit.contains("expected a non-negative integer"), "{limit}");
        let whole = detail(r#""just text""#);
        assert!(whole.contains("expected an object"), "{whole}");
        assert!(!whole.contains("struct Body"), "{whole}");
        let items = detail(r#"{"query": "x", "items": {}}"#);
        assert!(items.contains("expected a list"), "{items}");
    }
}
