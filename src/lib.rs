//! devicekb: knowledge-base search and ticket answering for printer support teams.
//!
//! Layers, each naming only those below it (held by `tests/layering.rs`):
//!
//! ```text
//! cli ─────────────┐ commands           api   HTTP (the only axum)
//!                  └──────────────► service   engine (search, answer, classify, reindex)
//!                                            desk (tickets, pipeline, agents; the store)
//!   config  llm (LLM client)  qdrant (vector server)  store (the only sqlx)  adapters
//!   answer, classify        decision and reply; ticket classification
//!   index                   BM25, vectors, fusion, calibration, generations
//!   extract   embed         models, codes, serials, signals; sentence embeddings
//!   learn                   logistic regression (the classifier, the calibration)
//!   kb                      entries, catalogue, templates, labelled tickets
//!   error  telemetry        (figures for Prometheus, through the `metrics` facade)
//! ```
//!
//! The engine (kb to answer/classify) is plain synchronous code: no HTTP, no SQL, no
//! async runtime; the service runs it on the blocking pool.

pub mod answer;
pub mod api;
pub mod classify;
pub mod cli;
pub mod config;
pub mod durable;
pub mod embed;
pub mod error;
pub mod extract;
pub mod index;
pub mod kb;
pub mod learn;
pub mod llm;
pub mod qdrant;
pub mod service;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use error::{Error, Result};
