//! Grounded replies and the auto-answer decision.
//!
//! `signals` reads what a message asks for besides a fix (small talk, a person, billing,
//! a customer about to leave); `decide` says whether the best KB entry clearly covers it;
//! `reply` writes the extractive reply from templates and the entry's steps; `pii` masks
//! what must not leave the machine (the `llm` client, outside the engine, asks an
//! OpenAI-compatible model for a reply and checks it). The service (`service::answer`) runs them in that order.

pub mod decide;
pub mod details;
pub mod eval;
pub mod pii;
pub mod reply;

use serde::{Deserialize, Serialize};

pub use decide::{Decision, DecisionConfig, Reason};

use crate::extract::signals::Signals;
use crate::extract::Extraction;

/// What one call cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LlmUsage {
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
    pub attempts: u32,
}

/// Who wrote the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Responder {
    /// A canned reply for small talk or a frequent question (no retrieval, no LLM).
    Smart,
    /// The cited entry's steps in a template.
    Extractive,
    /// The LLM, from the retrieved passages, checked.
    Llm,
}

impl Responder {
    /// The name stored and shown (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Responder::Smart => "smart",
            Responder::Extractive => "extractive",
            Responder::Llm => "llm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    pub kb_id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Retrieved {
    pub kb_id: String,
    pub title: String,
    pub relevance: f32,
    /// Rank in each retriever (1-based), when the entry was in its candidates.
    pub bm25_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    /// A customer found this entry unhelpful for a message like this one.
    #[serde(default)]
    pub unhelpful_before: bool,
    /// The entry's version (a digest of what is indexed of it). A "not helpful" on a
    /// record that has no `reply_version` holds against it. Empty in records stored before
    /// it was kept.
    #[serde(default)]
    pub content_hash: String,
    /// The version of what a reply shows of the entry (`KbEntry::reply_version`): what a
    /// customer's "not helpful" holds against, so the mark lapses once an editor rewrites
    /// the fix, and not when they add a symptom or a tag. Empty in records stored before it
    /// was kept (their marks hold against `content_hash`).
    #[serde(default)]
    pub reply_version: String,
    pub category: String,
    pub models: Vec<String>,
    pub error_codes: Vec<String>,
}

/// The LLM's part in an answer: what it cost and, when its reply was not used, why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LlmOutcome {
    pub used: bool,
    pub error: Option<String>,
    pub error_kind: Option<&'static str>,
    #[serde(flatten)]
    pub usage: LlmUsage,
}

/// The answer to one message, as `POST /answer` returns it and the ticket pipeline stores it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub decision: Decision,
    pub reason: Option<Reason>,
    /// Calibrated probability that the cited entry answers the message.
    pub confidence: f32,
    /// The reply to send; only when `decision` is `auto`.
    pub reply: Option<String>,
    /// A reply for the agent to review when the message is escalated.
    pub draft: Option<String>,
    pub citations: Vec<Citation>,
    pub responder: Option<Responder>,
    /// Which canned reply answered ("greeting", "thanks", "serial_location", ...).
    pub smart_reply: Option<String>,
    pub lang: String,
    pub extraction: Extraction,
    pub retrieved: Vec<Retrieved>,
    pub signals: Signals,
    /// Why, in a few words, for the agent.
    pub notes: Vec<String>,
    pub llm: Option<LlmOutcome>,
    pub generation: String,
    pub took_ms: f64,
    /// Time spent in each step, milliseconds (absent: the step did not run).
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Timings {
    pub extraction_ms: Option<f64>,
    pub retrieval_ms: Option<f64>,
    pub decision_ms: Option<f64>,
    pub response_ms: Option<f64>,
}
