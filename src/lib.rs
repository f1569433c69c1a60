//! devicekb: knowledge-base search and ticket answering for printer support teams.
//!
//! The crate follows the pipeline: `kb` (entry files) → `index` (BM25, vectors, fusion,
//! generations) with `embed` (the sentence-embedding model) → `service` (what the API and
//! the CLI call) → `api` (HTTP) and `cli` (commands).

pub mod answer;
pub mod api;
pub mod classify;
pub mod cli;
pub mod config;
pub mod embed;
pub mod error;
pub mod eval;
pub mod extract;
pub mod index;
pub mod kb;
pub mod service;
pub mod store;

pub use config::Config;
pub use error::{Error, Result};
