//! One message in, one answer out: signals, extraction, retrieval, decision, reply.
//! Stores nothing (the ticket pipeline stores what this returns).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use super::search::SearchMode;
use super::search::ValidSearch;
use super::Engine;
use crate::answer::decide::{decide, Candidate, Verdict};
use crate::answer::pii::{self, KnownCustomer};
use crate::answer::reply::{entry_fix, extractive, Fix, ReplyContext};
use crate::answer::{Answer, Citation, Decision, LlmOutcome, Reason, Responder, Retrieved};
use crate::error::{Error, Result};
use crate::extract::signals::{self, SmallTalk};
use crate::extract::EntityKind;
use crate::index::query::{clean_query, customer_words, message_body};
use crate::index::Generation;
use crate::kb::lang::detect_lang;
use crate::kb::{KbEntry, Lang};
use crate::llm::{LlmClient, Passage};
use crate::service::elapsed_ms;

/// Longest message accepted (64 KiB), as for extraction.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Entries retrieved per message; the LLM sees the first three.
const RETRIEVED: usize = 5;
const LLM_PASSAGES: usize = 3;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    pub text: String,
    #[serde(default)]
    pub model: Option<String>,
}

/// Counts of messages answered or routed by pattern, since start.
#[derive(Debug, Default)]
pub struct SmartCounters {
    pub greeting: std::sync::atomic::AtomicU64,
    pub thanks: std::sync::atomic::AtomicU64,
    pub resolved: std::sync::atomic::AtomicU64,
    pub faq: std::sync::atomic::AtomicU64,
    pub human_requested: std::sync::atomic::AtomicU64,
}

impl SmartCounters {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "greeting": self.greeting.load(Ordering::Relaxed),
            "thanks": self.thanks.load(Ordering::Relaxed),
            "resolved": self.resolved.load(Ordering::Relaxed),
            "faq": self.faq.load(Ordering::Relaxed),
            "human_requested": self.human_requested.load(Ordering::Relaxed),
        })
    }
}

impl AnswerRequest {
    fn validate(&self) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        if self.text.len() > MAX_ANSWER_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "text is {} bytes long; the limit is {MAX_ANSWER_BYTES}",
                self.text.len()
            )));
        }
        if self.model.as_ref().is_some_and(|m| m.len() > 200) {
            return Err(Error::invalid("model", "is longer than 200 bytes"));
        }
        Ok(())
    }
}

fn retrieved(generation: &Generation, c: &Candidate<'_>) -> Retrieved {
    let entry = c.entry;
    Retrieved {
        kb_id: entry.id.clone(),
        title: entry.title.clone(),
        relevance: c.relevance,
        bm25_rank: c.bm25_rank,
        vector_rank: c.vector_rank,
        unhelpful_before: c.unhelpful_before,
        content_hash: generation
            .manifest
            .content_hashes
            .get(&entry.id)
            .cloned()
            .unwrap_or_default(),
        reply_version: entry.reply_version(),
        category: entry.category.as_str().to_string(),
        models: entry.models.clone(),
        error_codes: entry.error_codes.clone(),
    }
}

fn citation(entry: &KbEntry) -> Citation {
    Citation {
        kb_id: entry.id.clone(),
        title: entry.title.clone(),
    }
}

impl Engine {
    /// Answers `request.text` (or says why a person must): nothing is stored. The sender
    /// is unknown: only patterns mask what the LLM must not see.
    pub async fn answer(self: &Arc<Self>, request: AnswerRequest) -> Result<Answer> {
        self.answer_for(request, &KnownCustomer::default()).await
    }

    /// Answers a message from `customer`, whose name, e-mail and phone the LLM never sees
    /// however the message writes them. Reads as the steps: read the message, a canned
    /// reply for small talk and frequent questions, retrieval, the decision, the reply.
    #[tracing::instrument(name = "answer", skip_all)]
    pub async fn answer_for(
        self: &Arc<Self>,
        request: AnswerRequest,
        customer: &KnownCustomer,
    ) -> Result<Answer> {
        request.validate()?;
        let started = Instant::now();
        let generation = self.generation();
        let text = request.text.as_str();
        let lang = detect_lang(&clean_query(text));
        let mut answer = read_message(&generation, text, lang);

        if let Some((name, reply)) = self.canned_reply(&generation, text, lang, &answer) {
            answer.decision = Decision::Auto;
            answer.confidence = 1.0;
            answer.reply = Some(reply);
            answer.responder = Some(Responder::Smart);
            answer.notes.push(format!("answered by pattern: {name}"));
            answer.smart_reply = Some(name);
            return Ok(finished(answer, started));
        }
        if answer.signals.human_requested.is_some() {
            self.smart.human_requested.fetch_add(1, Ordering::Relaxed);
        }

        // Retrieval: the evidence, even when a person will answer.
        let step = Instant::now();
        let searched = self
            .search_valid(ValidSearch {
                query: text.to_string(),
                model_filter: request.model.clone().filter(|m| !m.trim().is_empty()),
                limit: RETRIEVED,
                mode: SearchMode::Hybrid,
            })
            .await;
        answer.timings.retrieval_ms = Some(elapsed_ms(step));
        let hits = match searched {
            Ok(response) => {
                if response.vector_skipped {
                    answer
                        .notes
                        .push("bm25 alone was decisive (model and error code): the message was not embedded for retrieval".into());
                }
                response.results
            }
            Err(e) => {
                tracing::warn!(error = %e.chain(), "retrieval failed while answering");
                answer.reason = Some(Reason::StepFailed);
                answer.notes.push(format!("retrieval failed: {e}"));
                return Ok(finished(answer, started));
            }
        };
        let candidates: Vec<Candidate<'_>> = hits
            .iter()
            .filter_map(|h| {
                generation.ord_of(&h.kb_id).map(|ord| Candidate {
                    entry: generation.entry(ord),
                    relevance: h.relevance,
                    bm25_rank: h.retrieval.bm25_rank,
                    vector_rank: h.retrieval.vector_rank,
                    unhelpful_before: h.retrieval.unhelpful_before,
                })
            })
            .collect();
        answer.retrieved = candidates
            .iter()
            .map(|c| retrieved(&generation, c))
            .collect();

        // Known means the KB has entries for it, not merely that the catalogue names it.
        let model_known = answer.extraction.model.as_deref().is_some_and(|m| {
            generation
                .entries
                .iter()
                .any(|e| e.models.iter().any(|em| em == m))
        });
        let step = Instant::now();
        self.decide_on(&generation, model_known, &mut answer, &candidates);
        answer.timings.decision_ms = Some(elapsed_ms(step));

        if !candidates.is_empty() {
            let step = Instant::now();
            self.write_reply(&generation, text, customer, lang, &mut answer, &candidates)
                .await;
            answer.timings.response_ms = Some(elapsed_ms(step));
        }
        Ok(finished(answer, started))
    }

    /// Small talk (greeting, thanks, "it works now") or a frequent question the templates
    /// answer: the pattern's name and the reply, with no retrieval and no LLM.
    fn canned_reply(
        &self,
        generation: &Generation,
        text: &str,
        lang: Lang,
        answer: &Answer,
    ) -> Option<(String, String)> {
        match answer.signals.small_talk {
            Some(kind) => {
                let counter = match kind {
                    SmallTalk::Greeting => &self.smart.greeting,
                    SmallTalk::Thanks => &self.smart.thanks,
                    SmallTalk::Resolved => &self.smart.resolved,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let name = serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                Some((
                    name.unwrap_or_default(),
                    generation.templates.small_talk(lang, kind).to_string(),
                ))
            }
            None if answer.signals.human_requested.is_none() => {
                generation.templates.faq(text).map(|faq| {
                    self.smart.faq.fetch_add(1, Ordering::Relaxed);
                    let reply = match lang {
                        Lang::Fr => &faq.fr,
                        Lang::En => &faq.en,
                    };
                    (faq.name.clone(), reply.clone())
                })
            }
            None => None,
        }
    }

    /// Automatic or escalated, with the reason and the confidence, from the signals, the
    /// extraction and the retrieved entries against the generation's calibrated threshold.
    fn decide_on(
        &self,
        generation: &Generation,
        model_known: bool,
        answer: &mut Answer,
        candidates: &[Candidate<'_>],
    ) {
        let Verdict {
            decision,
            reason,
            confidence,
            notes,
        } = decide(
            &self.decision_config(generation),
            &answer.signals,
            &answer.extraction,
            model_known,
            &generation.topics,
            candidates,
        );
        answer.decision = decision;
        answer.reason = reason;
        answer.confidence = confidence;
        // The decision's notes first; what retrieval noted (BM25 alone decisive) after.
        answer.notes.splice(0..0, notes);
    }

    /// The reply from the best entry (extractive), or the LLM's from the first entries
    /// when one is configured and the answer is automatic; sent when automatic, a draft
    /// for the agent otherwise. The LLM may still escalate.
    async fn write_reply(
        &self,
        generation: &Generation,
        text: &str,
        customer: &KnownCustomer,
        lang: Lang,
        answer: &mut Answer,
        candidates: &[Candidate<'_>],
    ) {
        let best = &candidates[0];
        let ctx = ReplyContext {
            lang,
            model: answer.extraction.model.as_deref(),
            code: answer.extraction.error_codes.first().map(String::as_str),
        };
        let mut reply = extractive(&generation.templates, &ctx, &[best.entry]);
        let mut citations = vec![citation(best.entry)];
        let mut responder = Responder::Extractive;
        if let Some(llm) = self
            .llm
            .as_ref()
            .filter(|_| answer.decision == Decision::Auto)
        {
            let message = masked_message(text, customer, answer);
            if let Some(written) = llm_reply(llm, generation, &message, answer, candidates).await {
                reply = written.reponse;
                citations = written.citations;
                responder = Responder::Llm;
            }
        }
        answer.citations = citations;
        answer.responder = Some(responder);
        if answer.decision == Decision::Auto {
            answer.reply = Some(reply);
        } else {
            answer.draft = Some(reply);
        }
    }
}

/// The requests of a message (billing, a person, leaving) read in what the customer
/// wrote (`customer_words`: not the signature's name lines, not the quoted history).
/// Small talk is the whole message's, though: a short problem left after a sign-off
/// ("Merci d'avance" then "bac 2 bloqué") makes it more than thanks.
pub(super) fn read_signals(text: &str) -> signals::Signals {
    let mut read = signals::read(&customer_words(text));
    if read.small_talk.is_some() && signals::read(text).small_talk.is_none() {
        read.small_talk = None;
    }
    read
}

/// The signals and the extraction of a message, timed, in an answer that escalates until
/// a step decides otherwise.
fn read_message(generation: &Generation, text: &str, lang: Lang) -> Answer {
    let step = Instant::now();
    let signals = read_signals(text);
    let extraction = generation.extractor.extract(text);
    Answer {
        decision: Decision::Escalate,
        reason: None,
        confidence: 0.0,
        reply: None,
        draft: None,
        citations: Vec::new(),
        responder: None,
        smart_reply: None,
        lang: lang.code().to_string(),
        extraction,
        retrieved: Vec::new(),
        signals,
        notes: Vec::new(),
        llm: None,
        generation: generation.name.clone(),
        took_ms: 0.0,
        timings: crate::answer::Timings {
            extraction_ms: Some(elapsed_ms(step)),
            ..Default::default()
        },
    }
}

fn finished(mut answer: Answer, started: Instant) -> Answer {
    answer.took_ms = elapsed_ms(started);
    crate::telemetry::answer(
        match answer.decision {
            Decision::Auto => "auto",
            Decision::Escalate => "escalate",
        },
        answer.reason.map_or("", Reason::as_str),
        answer.responder.map_or("", Responder::as_str),
    );
    answer
}

/// What the LLM wrote, with the citations it kept.
struct LlmReply {
    reponse: String,
    citations: Vec<Citation>,
}

/// What the LLM reads of the message: the customer's own words (signature, with the name
/// and the contact block, and quoted history cut, as for retrieval) with every personal
/// detail masked, but the models, codes and serials the extractor read kept as written.
fn masked_message(text: &str, customer: &KnownCustomer, answer: &Answer) -> pii::Masked {
    let findings: Vec<&str> = answer
        .extraction
        .entities
        .iter()
        .filter(|e| e.kind != EntityKind::Manufacturer)
        .map(|e| e.value.as_str())
        .collect();
    pii::mask(&message_body(text), customer, &findings)
}

/// Asks the LLM for a reply grounded in the first entries, from the masked message.
/// `None` when the reply is not used: the LLM escalated (the answer says so) or its reply
/// was rejected (the extractive one stands; the answer notes why).
async fn llm_reply(
    llm: &LlmClient,
    generation: &Generation,
    masked: &pii::Masked,
    answer: &mut Answer,
    candidates: &[Candidate<'_>],
) -> Option<LlmReply> {
    let passages: Vec<Passage> = candidates
        .iter()
        .take(LLM_PASSAGES)
        .map(|c| Passage {
            id: c.entry.id.clone(),
            title: c.entry.title.clone(),
            text: format!(
                "{}\n{}\n{}",
                c.entry.description.trim(),
                c.entry.cause.trim(),
                match entry_fix(c.entry) {
                    Fix::Steps(steps) => steps.join("\n"),
                    Fix::Solution(text) => text.to_string(),
                    // The description is already the passage's first line.
                    Fix::Text(_) => String::new(),
                }
            ),
        })
        .collect();
    let (result, usage) = llm.reply(masked, &passages).await;
    let mut outcome = LlmOutcome {
        used: false,
        error: None,
        error_kind: None,
        usage,
    };
    let written = match result {
        Ok(r) if r.action == "escalade" => {
            answer.decision = Decision::Escalate;
            answer.reason = Some(Reason::LowConfidence);
            answer
                .notes
                .push("the LLM found the passages do not cover the message".into());
            None
        }
        Ok(r) => {
            outcome.used = true;
            let citations = r
                .citations
                .iter()
                .filter_map(|id| generation.ord_of(id).map(|o| citation(generation.entry(o))))
                .collect();
            Some(LlmReply {
                reponse: r.reponse,
                citations,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, kind = e.kind(), "llm reply rejected, using the extractive reply");
            answer.notes.push(format!(
                "LLM reply not used ({e}); extractive reply instead"
            ));
            outcome.error = Some(e.to_string());
            outcome.error_kind = Some(e.kind());
            None
        }
    };
    answer.llm = Some(outcome);
    written
}
