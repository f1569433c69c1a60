//! The one error type of the engine. It knows nothing of HTTP or of any database
//! driver: `api::error` maps each kind to a status code.

use std::fmt;

/// A problem found in a KB file: which file, where, and which field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ValidationError {
    pub file: String,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input cannot be read as what the operation takes: a body that is not the
    /// expected JSON, a value of the wrong type, a parameter out of its range, a query too
    /// long to search. `field` names the culprit.
    #[error("invalid {field}: {message}")]
    InvalidInput { field: String, message: String },
    /// The input reads well but a rule of the ticket desk refuses it: an empty message, a
    /// customer or device that does not exist, a status the workflow does not allow, a
    /// value outside a closed list. Kept apart from [`Error::InvalidInput`] because the
    /// earlier project's clients (FastAPI) receive these as 422.
    #[error("invalid {field}: {message}")]
    Rejected { field: String, message: String },
    /// The request body is larger than the endpoint accepts.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// A named thing does not exist.
    #[error("{what} not found: {id}")]
    NotFound { what: String, id: String },
    /// No credential, or one that matches no key.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A key was shown but its role does not include what the endpoint needs.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many requests from one address or with one key; retry after the delay.
    #[error("rate limited: {detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    /// The server is at its limit of requests in flight; retry shortly.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// The request took longer than the server allows.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// Another operation holds a resource (e.g. a reindex is already running).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An `Idempotency-Key` already used for a different request: a retry must resend the
    /// same request, and a new request needs a new key. The key is quoted (escaped) as sent.
    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyKeyReused { key: String },
    /// The KB files do not validate; every problem is listed.
    #[error("the knowledge base has {} problem(s)", .0.len())]
    KbInvalid(Vec<ValidationError>),
    /// The service cannot answer yet (index or model not loaded).
    #[error("not ready: {0}")]
    NotReady(String),
    /// Configuration the operator must fix (missing model, bad path).
    #[error("configuration: {0}")]
    Config(String),
    /// The embedding model failed at run time.
    #[error("embedding: {0}")]
    Embedding(String),
    /// The search index could not be built, opened or queried.
    #[error("index: {context}")]
    Index {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A file-system operation failed.
    #[error("io: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be reached: retry later; searches still work.
    #[error("database unavailable: {0}")]
    StorageUnavailable(String),
    /// The database refused or failed an operation that should have worked.
    #[error("storage: {context}")]
    Storage {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause an error carries, whatever library it comes from.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A rule of the desk refuses `field`'s value.
    pub fn rejected(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Rejected {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A storage problem found by our own checks (no cause below it).
    pub fn storage(context: impl Into<String>) -> Self {
        Error::Storage {
            context: context.into(),
            source: None,
        }
    }

    /// A storage operation that failed because of `source`.
    pub fn storage_caused(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// An index problem found by our own checks (no cause below it).
    pub fn index(context: impl Into<String>) -> Self {
        Error::Index {
            context: context.into(),
            source: None,
        }
    }

    /// An index operation that failed because of `source`.
    pub fn index_caused(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Index {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// This error and every cause below it, joined by ": " (for logs and the terminal).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

impl From<tantivy::TantivyError> for Error {
    fn from(err: tantivy::TantivyError) -> Self {
        Error::index_caused("tantivy", err)
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for Error {
    fn from(err: tantivy::directory::error::OpenDirectoryError) -> Self {
        Error::index_caused("opening the index directory", err)
    }
}

impl From<tantivy::query::QueryParserError> for Error {
    fn from(err: tantivy::query::QueryParserError) -> Self {
        Error::index_caused("parsing a query", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_error_keeps_its_cause() {
        let cause = std::io::Error::other("disk full");
        let e = Error::storage_caused("inserting a ticket", cause);
        assert_eq!(e.to_string(), "storage: inserting a ticket");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.chain(), "storage: inserting a ticket: disk full");
        assert_eq!(Error::index("no ord").chain(), "index: no ord");
    }
}
