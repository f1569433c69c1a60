//! The knowledge base as files: entry format, catalogue, loading, validation and importers.

pub mod catalogue;
pub mod confirmed;
pub mod entry;
pub mod import;
pub mod jsonl;
pub mod lang;
pub mod lexicon;
pub mod load;
pub mod lock;
pub mod templates;
pub mod topics;
pub mod training;
pub mod validate;

pub use catalogue::{Catalogue, PrinterModel};
pub use entry::{Category, KbEntry, Lang};
pub use load::{read_kb, LoadedKb};
