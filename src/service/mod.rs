//! The service layer: what the HTTP API and the CLI both call, in two parts along its two
//! jobs. The [`Engine`] answers over the current index generation (search, extraction,
//! answers, classification, reindex) and knows nothing of tickets or the database; the
//! [`Desk`] keeps customers, tickets and conversations in the store and runs each new
//! ticket's pipeline through the engine. Neither knows HTTP.

pub mod access;
pub mod desk;
pub mod engine;

pub use desk::agent::{AgentReply, ExternalExtraction, Feedback, FeedbackRecorded};
pub use desk::{conversation, stats, tickets, Desk};
pub use engine::answer::{AnswerRequest, SmartCounters, MAX_ANSWER_BYTES};
pub use engine::extract::{ExtractRequest, MAX_EXTRACT_BYTES};
pub use engine::health::{Check, Health};
pub use engine::search::{
    SearchMode, SearchRequest, SearchResponse, SearchResult, MAX_LIMIT, MAX_QUERY_BYTES,
};
pub use engine::tasks::{Phase, Task, TaskStatus};
pub use engine::{build_generation, connect_qdrant, eval, search, Engine};

/// What the engine answers, named here for the HTTP layer.
pub use crate::answer::Answer;
pub use crate::extract::Extraction;
pub use crate::index::confirmed::ConfirmedSummary;
pub use crate::index::ReindexReport;
/// The KB's entries as the layers above show them.
pub use crate::kb::lang::fold;
pub use crate::kb::{Category, KbEntry};

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::embed::Embedder;
use crate::error::Result;

/// Milliseconds since `since`, as the timings and records report them.
pub(crate) fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The engine and the desk of one server.
#[derive(Clone)]
pub struct Service {
    pub engine: Arc<Engine>,
    pub desk: Arc<Desk>,
    pub access: Arc<access::Access>,
}

impl Service {
    /// Opens the current generation (building the first one when there is none), then
    /// connects the store. Must run inside a tokio runtime.
    pub async fn start(config: Config, embedder: Arc<dyn Embedder>) -> Result<Arc<Service>> {
        let engine = Engine::start(config, embedder).await?;
        let desk = Desk::start(engine.clone()).await?;
        let access = access::Access::start(engine.config(), &desk).await?;
        Ok(Arc::new(Service {
            engine,
            desk,
            access,
        }))
    }
}
