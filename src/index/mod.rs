//! Retrieval: BM25 (tantivy), dense vectors (embedded store or Qdrant), hybrid fusion,
//! relevance calibrated per KB, and index generations built by reindex.

pub mod analyzer;
pub mod bm25;
pub mod calibrate;
pub mod calibration;
pub mod chunk;
pub mod confirmed;
pub mod fusion;
pub mod generation;
pub mod glossary;
pub mod hybrid;
mod previous;
pub mod query;
pub mod recovery;
pub mod reindex;
pub mod vector;

pub use calibration::Calibration;
pub use fusion::{FusedHit, FusionConfig, RelevanceModel};
pub use generation::Generation;
pub use reindex::{reindex, Progress, ReindexReport};
