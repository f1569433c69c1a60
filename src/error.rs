//! The one error type of the engine. It knows nothing of HTTP or of any database
//! driver: `api::error` maps each kind to a status code.

use std::fmt;

/// A problem found in a KB file: which file, where, and which field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// The client sent something we refuse; `field` names the culprit.
    #[error("invalid {field}: {message}")]
    InvalidInput { field: String, message: String },
    /// Well-formed but not acceptable (an unknown enumeration value, an empty ticket).
    #[error("invalid {field}: {message}")]
    Unprocessable { field: String, message: String },
    /// The request body is larger than the endpoint accepts.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// A named thing does not exist.
    #[error("{what} not found: {id}")]
    NotFound { what: String, id: String },
    /// Missing or wrong credentials for an admin action.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Another operation holds a resource (e.g. a reindex is already running).
    #[error("conflict: {0}")]
    Conflict(String),
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
    #[error("index: {0}")]
    Index(String),
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
    #[error("storage: {0}")]
    Storage(String),
    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
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
}

impl From<tantivy::TantivyError> for Error {
    fn from(err: tantivy::TantivyError) -> Self {
        Error::Index(err.to_string())
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for Error {
    fn from(err: tantivy::directory::error::OpenDirectoryError) -> Self {
        Error::Index(err.to_string())
    }
}

impl From<tantivy::query::QueryParserError> for Error {
    fn from(err: tantivy::query::QueryParserError) -> Self {
        Error::Index(err.to_string())
    }
}
