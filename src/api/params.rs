//! What handlers read besides the JSON body: path ids, query parameters and headers, each a
//! 400 naming it when it is wrong.

use std::collections::HashMap;

use axum::http::HeaderMap;

use crate::error::Error;

/// A path id: a positive integer, or a 400 naming it.
pub fn id(raw: &str, field: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::invalid(field, format!("`{raw}` is not a positive integer")))
}

/// `?limit=` parsed by hand, so a bad value is a 400 in the project's format.
pub fn limit(raw: Option<&String>) -> Result<Option<u32>, Error> {
    raw.map(|v| {
        v.parse::<u32>()
            .map_err(|_| Error::invalid("limit", format!("`{v}` is not a number")))
    })
    .transpose()
}

/// A `true`/`false` query parameter, `false` when absent, or a 400 naming it.
pub fn flag(query: &HashMap<String, String>, name: &str) -> Result<bool, Error> {
    match query.get(name).map(String::as_str) {
        Some("true") => Ok(true),
        None | Some("false") => Ok(false),
        Some(other) => Err(Error::invalid(
            name,
            format!("`{other}` is not true or false"),
        )),
    }
}

/// A query parameter the endpoint does not know is a 400 naming it, not silently ignored.
pub fn only_params(query: &HashMap<String, String>, known: &[&str]) -> Result<(), Error> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(Error::invalid(
            unknown.as_str(),
            format!("is not a parameter here ({})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The `Idempotency-Key` header, when given.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()
}
